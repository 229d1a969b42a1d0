use clap::{Parser, Subcommand};
use flowgate::sandbox::{FixtureConfig, Sandbox, SandboxConfig, DEMO_USERS};
use flowgate::server::{router, GatewayConfig};
use flowgate::upstream::appmixer::AppmixerConfig;
use flowgate::upstream::appypie::AppyPieConfig;
use reqwest::header::HeaderName;
use std::net::SocketAddr;
use url::Url;

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FLOWGATE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Start both sandbox upstreams in-process and use them (the demo run).
    #[arg(long)]
    sandbox: bool,
    /// Base URL of the Appy Pie Connect API (endpoints 1–23).
    #[arg(long, env = "FLOWGATE_APPYPIE_URL")]
    appypie_url: Option<Url>,
    /// Base URL of the Appy Pie token endpoint (`/create-refresh-token`).
    #[arg(
        long,
        env = "FLOWGATE_APPYPIE_AUTH_URL",
        default_value = "https://openapi2.appypie.com"
    )]
    appypie_auth_url: Url,
    /// Base URL of the Appmixer API.
    #[arg(long, env = "FLOWGATE_APPMIXER_URL")]
    appmixer_url: Option<Url>,
    /// Incoming header carrying the caller's Appmixer token.
    #[arg(
        long,
        env = "FLOWGATE_APPMIXER_HEADER",
        default_value = "x-appmixer-token"
    )]
    appmixer_header: String,
    /// Incoming header carrying the caller's Appy Pie token.
    #[arg(
        long,
        env = "FLOWGATE_APPYPIE_HEADER",
        default_value = "x-appypie-token"
    )]
    appypie_header: String,
    /// Header the Appy Pie token is sent upstream in.
    #[arg(
        long,
        env = "FLOWGATE_APPYPIE_TOKEN_HEADER",
        default_value = "ACCESSTOKEN"
    )]
    appypie_token_header: HeaderName,
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

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
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
        }
    };
    if let Err(e) = result {
        eprintln!("flowgate: {e}");
        std::process::exit(1);
    }
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

async fn serve(args: ServeArgs) -> std::io::Result<()> {
    let mut config = GatewayConfig::default();
    config.headers.appmixer = args.appmixer_header.to_lowercase();
    config.headers.appypie = args.appypie_header.to_lowercase();
    let mut sandbox = None;
    if args.sandbox {
        let sb = Sandbox::start(SandboxConfig::default()).await?;
        let parse = |u: String| Url::parse(&u).map_err(std::io::Error::other);
        config.appypie = AppyPieConfig {
            base_url: parse(sb.appypie_base_url())?,
            auth_base_url: parse(sb.appypie_auth_url())?,
            token_header: args.appypie_token_header.clone(),
        };
        config.appmixer = AppmixerConfig {
            base_url: parse(sb.appmixer_base_url())?,
        };
        let alice = &DEMO_USERS[0];
        config.graphiql_headers = vec![
            (
                args.appmixer_header.clone(),
                alice.appmixer_token.to_string(),
            ),
            (args.appypie_header.clone(), alice.appypie_token.to_string()),
        ];
        sandbox = Some(sb);
    } else {
        let (Some(appypie), Some(appmixer)) = (args.appypie_url, args.appmixer_url) else {
            return Err(std::io::Error::other(
                "no upstream configured: pass --sandbox for the demo, or set both --appypie-url \
                 (FLOWGATE_APPYPIE_URL) and --appmixer-url (FLOWGATE_APPMIXER_URL)",
            ));
        };
        config.appypie = AppyPieConfig {
            base_url: appypie,
            auth_base_url: args.appypie_auth_url,
            token_header: args.appypie_token_header,
        };
        config.appmixer = AppmixerConfig { base_url: appmixer };
    }
    let app = router(config).map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    println!("flowgate: GraphiQL at http://{addr}/   GraphQL at http://{addr}/graphql");
    if sandbox.is_some() {
        println!(
            "Sandbox upstreams in-process; GraphiQL opens with Alice's demo tokens. Demo tenants:"
        );
        for u in DEMO_USERS.iter() {
            println!(
                "  {:<18} {}: {:<20} {}: {}",
                u.email,
                args.appmixer_header,
                u.appmixer_token,
                args.appypie_header,
                u.appypie_token
            );
        }
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    drop(sandbox);
    Ok(())
}
