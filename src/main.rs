use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use flowgate::sandbox::{FixtureConfig, Sandbox, SandboxConfig, DEMO_USERS};
use flowgate::server::{
    router, CorsConfig, GatewayConfig, Limits, PersistedConfig, SubscriptionConfig,
};
use flowgate::upstream::appmixer::AppmixerConfig;
use flowgate::upstream::appypie::AppyPieConfig;
use flowgate::upstream::{HttpConfig, Policy, SharingConfig};
use reqwest::header::HeaderName;
use std::net::SocketAddr;
use std::time::Duration;
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
    /// Deepest query accepted.
    #[arg(long, env = "FLOWGATE_MAX_DEPTH", default_value_t = 15)]
    max_depth: usize,
    /// Highest query complexity accepted (one point a field).
    #[arg(long, env = "FLOWGATE_MAX_COMPLEXITY", default_value_t = 2000)]
    max_complexity: usize,
    /// Most aliases in one request.
    #[arg(long, env = "FLOWGATE_MAX_ALIASES", default_value_t = 30)]
    max_aliases: usize,
    /// Most root fields in one operation.
    #[arg(long, env = "FLOWGATE_MAX_ROOT_FIELDS", default_value_t = 20)]
    max_root_fields: usize,
    /// Largest request body, in bytes.
    #[arg(long, env = "FLOWGATE_MAX_BODY_BYTES", default_value_t = 65536)]
    max_body_bytes: usize,
    /// Turn schema introspection off.
    #[arg(long, env = "FLOWGATE_NO_INTROSPECTION")]
    no_introspection: bool,
    /// No response waits longer than this many milliseconds.
    #[arg(long, env = "FLOWGATE_REQUEST_DEADLINE_MS", default_value_t = 30000)]
    request_deadline_ms: u64,
    /// Timeout of one Appy Pie call, in milliseconds.
    #[arg(long, env = "FLOWGATE_APPYPIE_TIMEOUT_MS", default_value_t = 10000)]
    appypie_timeout_ms: u64,
    /// Timeout of one Appmixer call, in milliseconds.
    #[arg(long, env = "FLOWGATE_APPMIXER_TIMEOUT_MS", default_value_t = 10000)]
    appmixer_timeout_ms: u64,
    /// Largest Appy Pie response body read, in MiB; past it the call fails.
    #[arg(long, env = "FLOWGATE_APPYPIE_MAX_BODY_MIB", default_value_t = 8)]
    appypie_max_body_mib: usize,
    /// Largest Appmixer response body read, in MiB; past it the call fails.
    #[arg(long, env = "FLOWGATE_APPMIXER_MAX_BODY_MIB", default_value_t = 8)]
    appmixer_max_body_mib: usize,
    /// Retries of an idempotent upstream read (writes are never retried).
    #[arg(long, env = "FLOWGATE_MAX_RETRIES", default_value_t = 2)]
    max_retries: u32,
    /// Consecutive upstream failures that open a vendor's circuit breaker.
    #[arg(long, env = "FLOWGATE_BREAKER_THRESHOLD", default_value_t = 5)]
    breaker_threshold: u32,
    /// Seconds an open breaker fails fast before probing.
    #[arg(long, env = "FLOWGATE_BREAKER_OPEN_SECS", default_value_t = 10)]
    breaker_open_secs: u64,
    /// Timeout of opening an upstream connection (both vendors), in milliseconds.
    #[arg(long, env = "FLOWGATE_CONNECT_TIMEOUT_MS", default_value_t = 3000)]
    connect_timeout_ms: u64,
    /// Upstream calls in flight at once, per vendor.
    #[arg(long, env = "FLOWGATE_MAX_IN_FLIGHT", default_value_t = 128)]
    max_in_flight: usize,
    /// Do not share identical in-flight upstream reads between requests.
    #[arg(long, env = "FLOWGATE_NO_DEDUPE")]
    no_dedupe: bool,
    /// Do not share one execution between identical concurrent queries of the same caller.
    #[arg(long, env = "FLOWGATE_NO_COALESCE")]
    no_coalesce: bool,
    /// Seconds catalogue replies (apps, categories, triggers, actions, components, popular
    /// matches) are cached per credential; 0 turns the cache off.
    #[arg(long, env = "FLOWGATE_CATALOGUE_TTL_SECS", default_value_t = 60)]
    catalogue_ttl_secs: u64,
    /// Most MiB of reply bodies the catalogue cache holds, per vendor.
    #[arg(long, env = "FLOWGATE_CATALOGUE_CACHE_MIB", default_value_t = 64)]
    catalogue_cache_mib: u64,
    /// Parsed GraphQL documents kept for reuse; 0 parses every request.
    #[arg(long, env = "FLOWGATE_DOCUMENT_CACHE", default_value_t = 1024)]
    document_cache: u64,
    /// An origin browsers may call from (`https://app.example.com`, `http://localhost:*` for any
    /// port, or `*` for any origin); repeat the flag or separate with commas. `--sandbox` allows
    /// `http://localhost:*` and `http://127.0.0.1:*` unless origins are given.
    #[arg(
        long = "cors-origin",
        env = "FLOWGATE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// Seconds a browser may keep a CORS preflight's answer.
    #[arg(long, env = "FLOWGATE_CORS_MAX_AGE_SECS", default_value_t = 600)]
    cors_max_age_secs: u64,
    /// Turn automatic persisted queries off.
    #[arg(long, env = "FLOWGATE_NO_APQ")]
    no_apq: bool,
    /// Most MiB of documents the automatic persisted query store holds.
    #[arg(long, env = "FLOWGATE_APQ_CACHE_MIB", default_value_t = 16)]
    apq_cache_mib: u64,
    /// A manifest of trusted documents (Apollo's persisted query manifest, or Relay's map of id
    /// to document); with one, only those documents run.
    #[arg(long, env = "FLOWGATE_TRUSTED_DOCUMENTS")]
    trusted_documents: Option<std::path::PathBuf>,
    /// Milliseconds between two polls of an automation watched by subscriptions.
    #[arg(long, env = "FLOWGATE_SUBSCRIPTION_POLL_MS", default_value_t = 5000)]
    subscription_poll_ms: u64,
    /// Subscriptions one WebSocket connection may hold at once.
    #[arg(
        long,
        env = "FLOWGATE_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 20
    )]
    max_subscriptions_per_connection: usize,
    /// Subscriptions one caller (token pair) may hold at once.
    #[arg(
        long,
        env = "FLOWGATE_MAX_SUBSCRIPTIONS_PER_CALLER",
        default_value_t = 100
    )]
    max_subscriptions_per_caller: usize,
    /// Callers may ask for the list of upstream calls of their request (`x-flowgate-trace: 1`,
    /// answered in `extensions.upstreamCalls`); on in `--sandbox`.
    #[arg(long, env = "FLOWGATE_ALLOW_TRACE")]
    allow_trace: bool,
    /// A client must send its request headers within this many milliseconds.
    #[arg(long, env = "FLOWGATE_HEADER_TIMEOUT_MS", default_value_t = 10000)]
    header_timeout_ms: u64,
    /// A client must send its request body within this many milliseconds.
    #[arg(long, env = "FLOWGATE_BODY_TIMEOUT_MS", default_value_t = 10000)]
    body_timeout_ms: u64,
    /// GraphQL requests served at once; past it a request is shed at once with 503 and
    /// `Retry-After`, never queued.
    #[arg(long, env = "FLOWGATE_MAX_CONCURRENT_REQUESTS", default_value_t = 1024)]
    max_concurrent_requests: usize,
    /// On SIGTERM or Ctrl-C, in-flight requests get this many seconds to finish.
    #[arg(long, env = "FLOWGATE_GRACE_PERIOD_SECS", default_value_t = 10)]
    grace_period_secs: u64,
}

/// How log lines are written.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// For people at a terminal.
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

#[derive(Parser)]
#[command(
    name = "flowgate",
    version,
    about = "GraphQL gateway over the Appy Pie Connect and Appmixer APIs"
)]
struct Cli {
    /// Log lines as text or JSON (levels from `RUST_LOG`, e.g. `info` for a line a request).
    #[arg(
        long,
        env = "FLOWGATE_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
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
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::from_default_env();
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
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
    let mut config = GatewayConfig {
        limits: Limits {
            max_depth: args.max_depth,
            max_complexity: args.max_complexity,
            max_aliases: args.max_aliases,
            max_root_fields: args.max_root_fields,
            max_body_bytes: args.max_body_bytes,
            introspection: !args.no_introspection,
            deadline: Duration::from_millis(args.request_deadline_ms),
            body_timeout: Duration::from_millis(args.body_timeout_ms),
            max_concurrent_requests: args.max_concurrent_requests,
        },
        max_in_flight: args.max_in_flight,
        http: HttpConfig {
            connect_timeout: Duration::from_millis(args.connect_timeout_ms),
            ..HttpConfig::default()
        },
        appypie_policy: policy(&args, args.appypie_timeout_ms, args.appypie_max_body_mib),
        appmixer_policy: policy(&args, args.appmixer_timeout_ms, args.appmixer_max_body_mib),
        sharing: SharingConfig {
            dedupe: !args.no_dedupe,
            catalogue_ttl: Duration::from_secs(args.catalogue_ttl_secs),
            catalogue_max_bytes: args.catalogue_cache_mib << 20,
        },
        coalesce: !args.no_coalesce,
        parsed_documents: args.document_cache,
        persisted: PersistedConfig {
            apq: !args.no_apq,
            apq_cache_mib: args.apq_cache_mib,
            trusted_documents: args.trusted_documents.clone(),
        },
        cors: CorsConfig {
            origins: args.cors_origins.clone(),
            max_age: Duration::from_secs(args.cors_max_age_secs),
        },
        allow_trace: args.allow_trace || args.sandbox,
        subscriptions: SubscriptionConfig {
            poll_interval: Duration::from_millis(args.subscription_poll_ms.max(100)),
            max_per_connection: args.max_subscriptions_per_connection,
            max_per_caller: args.max_subscriptions_per_caller,
        },
        ..GatewayConfig::default()
    };

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
        if config.cors.origins.is_empty() {
            config.cors.origins = CorsConfig::local();
        }
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
    let app = router(config)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    println!("flowgate: GraphiQL at http://{addr}/   GraphQL at http://{addr}/graphql");
    if let Some(sb) = &sandbox {
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
                u.email,
                args.appmixer_header,
                u.appmixer_token,
                args.appypie_header,
                u.appypie_token
            );
        }
    }
    let grace = Duration::from_secs(args.grace_period_secs);
    let stop = async {
        shutdown_signal().await;
        eprintln!(
            "flowgate: shutting down; in-flight requests have {}s",
            args.grace_period_secs
        );
    };
    let header_timeout = Duration::from_millis(args.header_timeout_ms);
    flowgate::server::serve(listener, app, header_timeout, stop, grace).await;
    drop(sandbox);
    Ok(())
}

fn policy(args: &ServeArgs, timeout_ms: u64, max_body_mib: usize) -> Policy {
    Policy {
        timeout: Duration::from_millis(timeout_ms),
        max_body_bytes: max_body_mib << 20,
        max_retries: args.max_retries,
        breaker_threshold: args.breaker_threshold,
        breaker_open_for: Duration::from_secs(args.breaker_open_secs),
        ..Policy::default()
    }
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
