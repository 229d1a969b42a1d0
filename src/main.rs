use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use flowgate::config::{Config, ConfigArgs, Problems, Settings};
use flowgate::identity::store::{CredentialStore, Record};
use flowgate::sandbox::{FixtureConfig, Sandbox, SandboxConfig, DEMO_USERS};
use std::net::SocketAddr;

#[derive(clap::Args)]
struct ServeArgs {
    /// Start both sandbox upstreams in-process and use them (the demo run).
    #[arg(long)]
    sandbox: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

impl ServeArgs {
    fn settings(&self) -> Result<(Config, Settings), Problems> {
        self.config.settings(self.sandbox)
    }
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check the configuration (file, FLOWGATE_* variables, flags) and list every problem.
    Check(ServeArgs),
    /// Print the effective configuration as TOML, secrets redacted.
    Print(ServeArgs),
    /// Print the annotated example file (flowgate.example.toml).
    Example,
    /// Print the README's table of settings.
    Markdown,
}

/// A subject of the held credentials, and the settings naming the store.
#[derive(clap::Args)]
struct SubjectArgs {
    /// The subject (the JWT's `sub`, or the configured claim).
    #[arg(long)]
    subject: String,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Subcommand)]
enum CredentialsCommand {
    /// Bind vendor credentials to a subject, replacing what is held for each vendor given.
    Bind {
        #[command(flatten)]
        at: SubjectArgs,
        /// An Appmixer user to sign in as (instead of a virtual user).
        #[arg(long, env = "FLOWGATE_BIND_APPMIXER_USERNAME")]
        appmixer_username: Option<String>,
        #[arg(long, env = "FLOWGATE_BIND_APPMIXER_PASSWORD", hide_env_values = true)]
        appmixer_password: Option<String>,
        /// Appy Pie keys, exchanged for access tokens.
        #[arg(long, env = "FLOWGATE_BIND_APPYPIE_TOKEN_KEY", hide_env_values = true)]
        appypie_token_key: Option<String>,
        #[arg(long, env = "FLOWGATE_BIND_APPYPIE_SECRET_KEY", hide_env_values = true)]
        appypie_secret_key: Option<String>,
    },
    /// Drop a subject's vendor tokens: its next request signs in and mints new ones.
    Rotate(SubjectArgs),
    /// Remove everything held for a subject.
    Remove(SubjectArgs),
    /// Write every record, sealed as stored, to a file (JSON lines), for backups.
    Export {
        #[arg(long)]
        file: std::path::PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Put back records from an export; each must open under one of auth.store_keys.
    Import {
        #[arg(long)]
        file: std::path::PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Seal every record again under the first of auth.store_keys (after adding a new key).
    Rekey(ConfigArgsOnly),
}

/// Only the settings.
#[derive(clap::Args)]
struct ConfigArgsOnly {
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Parser)]
#[command(
    name = "flowgate",
    version,
    about = "GraphQL gateway over the Appy Pie Connect and Appmixer APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the GraphQL gateway.
    Serve(Box<ServeArgs>),
    /// Check, print or explain the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Bind, rotate, remove, export or import the vendor credentials held for subjects
    /// (auth.credentials = "held"; with the embedded store, while the gateway is stopped).
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Print the GraphQL schema (SDL); `schema.graphql` is this output.
    PrintSchema,
    /// Run both sandbox upstreams (simulators of the vendor APIs) until stopped.
    Sandbox {
        #[arg(
            long,
            env = "FLOWGATE_SANDBOX_APPYPIE_ADDR",
            default_value = "127.0.0.1:4001"
        )]
        appypie_addr: SocketAddr,
        #[arg(
            long,
            env = "FLOWGATE_SANDBOX_APPMIXER_ADDR",
            default_value = "127.0.0.1:4002"
        )]
        appmixer_addr: SocketAddr,
        /// Fixture seed: the same seed always gives the same data.
        #[arg(long, env = "FLOWGATE_SANDBOX_SEED")]
        seed: Option<u64>,
        /// Fixture scale: 1.0 gives ~60 Appy Pie apps, ~40 connects and ~40 flows per user.
        #[arg(long, env = "FLOWGATE_SANDBOX_SCALE", default_value_t = 1.0)]
        scale: f64,
    },
}

fn main() {
    // Workers look at the network every 255 tasks instead of every 61: a fan-out's replies are
    // picked up together, and more concurrent reads find one another in flight (peer bench, W2:
    // 8.8 instead of 9.2 upstream calls per query with 8 callers, 3.1 instead of 4.0 with varied
    // documents; docs/performance.md).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .event_interval(255)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    }
}

async fn run() {
    let result = match Cli::parse().command {
        Command::Serve(args) => serve(*args).await,
        Command::Config(command) => config(command),
        Command::Credentials(command) => credentials(command).await,
        Command::PrintSchema => {
            print!("{}", flowgate::schema::sdl());
            Ok(())
        }
        Command::Sandbox {
            appypie_addr,
            appmixer_addr,
            seed,
            scale,
        } => {
            let _logs = flowgate::telemetry::init(
                false,
                &std::env::var("RUST_LOG").unwrap_or("warn".into()),
                None,
            );
            let mut fixtures = FixtureConfig {
                scale,
                ..FixtureConfig::default()
            };
            if let Some(seed) = seed {
                fixtures.seed = seed;
            }
            run_sandbox(SandboxConfig {
                appypie_addr,
                appmixer_addr,
                fixtures,
            })
            .await
            .map_err(Into::into)
        }
    };
    if let Err(e) = result {
        eprintln!("flowgate: {e}");
        std::process::exit(1);
    }
}

fn config(command: ConfigCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        ConfigCommand::Check(args) => {
            args.settings()?;
            println!("flowgate: the configuration is valid");
        }
        ConfigCommand::Print(args) => {
            let (config, _) = args.config.load();
            let config = if args.sandbox { config.demo() } else { config };
            print!("{}", config.print());
            args.settings()?;
        }
        ConfigCommand::Example => print!("{}", Config::example()),
        ConfigCommand::Markdown => print!("{}", Config::markdown()),
    }
    Ok(())
}

/// The credential store the settings name.
fn store_of(config: &ConfigArgs) -> Result<CredentialStore, Box<dyn std::error::Error>> {
    let (_, settings) = config.settings(false)?;
    let Some(store) = &settings.gateway.auth.store else {
        return Err("no credentials are held: auth.credentials is forward".into());
    };
    Ok(CredentialStore::open(store)?)
}

async fn credentials(command: CredentialsCommand) -> Result<(), Box<dyn std::error::Error>> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    match command {
        CredentialsCommand::Bind {
            at,
            appmixer_username,
            appmixer_password,
            appypie_token_key,
            appypie_secret_key,
        } => {
            let mixer = appmixer_username.zip(appmixer_password);
            let pie = appypie_token_key.zip(appypie_secret_key);
            if mixer.is_none() && pie.is_none() {
                return Err(
                    "give an Appmixer username and password, Appy Pie keys, or both".into(),
                );
            }
            let bind = |record: &mut Record| {
                record.bind(mixer, pie);
                true
            };
            store_of(&at.config)?.update(&at.subject, bind).await?;
            println!("flowgate: bound credentials to {}", at.subject);
        }
        CredentialsCommand::Rotate(at) => {
            let held = store_of(&at.config)?
                .update(&at.subject, Record::rotate)
                .await?;
            println!(
                "flowgate: {} {}",
                at.subject,
                if held { "rotated" } else { "holds nothing" }
            );
        }
        CredentialsCommand::Remove(at) => {
            let held = store_of(&at.config)?.forget(&at.subject).await?;
            println!(
                "flowgate: {} {}",
                at.subject,
                if held { "removed" } else { "held nothing" }
            );
        }
        CredentialsCommand::Export { file, config } => {
            let entries = store_of(&config)?.export().await?;
            let lines: Vec<String> = entries
                .iter()
                .map(|(entry, sealed)| {
                    serde_json::json!({ "entry": entry, "sealed": b64.encode(sealed) }).to_string()
                })
                .collect();
            std::fs::write(&file, lines.join("\n") + "\n")?;
            println!("flowgate: exported {} sealed records", entries.len());
        }
        CredentialsCommand::Import { file, config } => {
            let mut entries = Vec::new();
            for line in std::fs::read_to_string(&file)?
                .lines()
                .filter(|l| !l.trim().is_empty())
            {
                let line: serde_json::Value = serde_json::from_str(line)?;
                let (Some(entry), Some(sealed)) = (line["entry"].as_str(), line["sealed"].as_str())
                else {
                    return Err("each line is {\"entry\": ..., \"sealed\": ...}".into());
                };
                entries.push((entry.to_string(), b64.decode(sealed)?));
            }
            let n = store_of(&config)?.import(entries).await?;
            println!("flowgate: imported {n} sealed records");
        }
        CredentialsCommand::Rekey(args) => {
            let n = store_of(&args.config)?.rekey().await?;
            println!("flowgate: sealed {n} records under the current key");
        }
    }
    Ok(())
}

async fn run_sandbox(config: SandboxConfig) -> std::io::Result<()> {
    let sandbox = Sandbox::start(config).await?;
    println!(
        "Appy Pie Connect API sandbox: {}",
        sandbox.appypie_base_url()
    );
    println!(
        "Appy Pie token endpoint:      {}/create-refresh-token",
        sandbox.appypie_auth_url()
    );
    println!(
        "Appmixer API sandbox:         {}",
        sandbox.appmixer_base_url()
    );
    println!();
    println!("Demo tenants:");
    for u in DEMO_USERS.iter() {
        println!(
            "  {:<18} Appy Pie ACCESSTOKEN: {:<20} tokenKey/secretKey: {}/{}",
            u.email, u.appypie_token, u.token_key, u.secret_key
        );
        println!(
            "  {:<18} Appmixer Bearer:      {:<20} sign-in: {}/{}",
            "", u.appmixer_token, u.username, u.password
        );
    }
    println!();
    println!(
        "Admin: GET /__sandbox/requests, POST /__sandbox/reset, GET|POST|DELETE /__sandbox/faults"
    );
    tokio::signal::ctrl_c().await?;
    sandbox.stop().await;
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (config, settings) = args.settings()?;
    let _telemetry = flowgate::telemetry::init(
        settings.log_json,
        &settings.log_filter,
        settings.telemetry.as_ref(),
    )?;
    let sandbox = match args.sandbox {
        true => Some(Sandbox::start(SandboxConfig::default()).await?),
        false => None,
    };
    let settings = match &sandbox {
        Some(sb) => config.with_sandbox(sb).build()?,
        None => settings,
    };
    if let Some(store) = &settings.gateway.auth.store {
        CredentialStore::open(store)?.check_durable().await?;
    }
    let app = flowgate::app(&settings)?;
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let addr = listener.local_addr()?;
    println!("flowgate: GraphiQL at http://{addr}/   GraphQL at http://{addr}/graphql");
    if let Some(sb) = &sandbox {
        banner(sb, &settings.gateway.headers);
    }
    let grace = settings.grace;
    let stop = async {
        shutdown_signal().await;
        eprintln!("flowgate: shutting down; in-flight requests have {grace:?}");
    };
    let timeouts = settings.connection_timeouts;
    flowgate::server::serve(listener, app, timeouts, stop, grace).await;
    drop(sandbox);
    Ok(())
}

fn banner(sb: &Sandbox, headers: &flowgate::schema::CredentialHeaders) {
    println!(
        "Appy Pie sandbox: {}   Appmixer sandbox: {}",
        sb.appypie_base_url(),
        sb.appmixer_base_url()
    );
    println!(
        "Sandbox upstreams in-process; GraphiQL opens with Alice's demo tokens. Demo tenants:"
    );
    for u in DEMO_USERS.iter() {
        println!(
            "  {:<18} {}: {:<20} {}: {}",
            u.email, headers.appmixer, u.appmixer_token, headers.appypie, u.appypie_token
        );
    }
    let issuer = sb.issuer.url();
    println!("Demo identity provider: {issuer} (JWTs for alice, bob or chen from POST {issuer}/token with {{\"username\":\"alice\"}}); GraphiQL sends Alice's.");
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
