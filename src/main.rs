use clap::{Parser, Subcommand};
use flowgate::sandbox::{FixtureConfig, Sandbox, SandboxConfig, DEMO_USERS};
use std::net::SocketAddr;

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
