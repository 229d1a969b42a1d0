//! Sandbox upstreams: in-process simulators of the Appy Pie Connect API and the Appmixer API,
//! built from `shared/upstream-contracts.md` alone, served over real HTTP on loopback.

// Handlers answer errors with the vendor's own response, the usual axum shape.
#![allow(clippy::result_large_err)]

pub mod appmixer;
pub mod appypie;
pub mod fixtures;
pub mod hooks;
pub mod issuer;
pub mod server;
pub mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use appmixer::Appmixer;
pub use appypie::AppyPie;
pub use fixtures::{DemoUser, FixtureConfig, DEMO_USERS};
pub use hooks::{Fault, FaultRule, Hooks, RequestRecord};
pub use issuer::{Issuer, DEMO_SUBJECTS};

/// Where and how to run the two sandbox upstreams.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    pub appypie_addr: SocketAddr,
    pub appmixer_addr: SocketAddr,
    pub fixtures: FixtureConfig,
}

impl Default for SandboxConfig {
    /// Both on ephemeral loopback ports, default fixtures.
    fn default() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        SandboxConfig {
            appypie_addr: any,
            appmixer_addr: any,
            fixtures: FixtureConfig::default(),
        }
    }
}

/// Both sandbox upstreams, running; they stop when this is dropped.
pub struct Sandbox {
    pub appypie: Arc<AppyPie>,
    pub appmixer: Arc<Appmixer>,
    /// The demo identity provider.
    pub issuer: Arc<Issuer>,
    appypie_server: server::Running,
    appmixer_server: server::Running,
    issuer_server: server::Running,
}

impl Sandbox {
    pub async fn start(config: SandboxConfig) -> std::io::Result<Sandbox> {
        let appypie = AppyPie::new(&config.fixtures);
        let appmixer = Appmixer::new(&config.fixtures);
        let appypie_server = server::spawn(
            TcpListener::bind(config.appypie_addr).await?,
            appypie.router(),
        )?;
        let appmixer_server = server::spawn(
            TcpListener::bind(config.appmixer_addr).await?,
            appmixer.router(),
        )?;
        let issuer = Issuer::new();
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let issuer_server = server::spawn(TcpListener::bind(any).await?, issuer.router())?;
        issuer.set_base(issuer_server.base_url());
        Ok(Sandbox {
            appypie,
            appmixer,
            issuer,
            appypie_server,
            appmixer_server,
            issuer_server,
        })
    }

    /// Base URL of the Appy Pie Connect API (endpoints 1–23), e.g. `http://127.0.0.1:4001/api/v2/integrations`.
    pub fn appypie_base_url(&self) -> String {
        format!("{}{}", self.appypie_server.base_url(), appypie::BASE_PATH)
    }

    /// Base URL of the Appy Pie token endpoint (A0, `POST /create-refresh-token`).
    pub fn appypie_auth_url(&self) -> String {
        self.appypie_server.base_url()
    }

    /// Base URL of the Appmixer API.
    pub fn appmixer_base_url(&self) -> String {
        self.appmixer_server.base_url()
    }

    /// Connections each server accepted so far: Appy Pie's, Appmixer's.
    pub fn connections(&self) -> (u64, u64) {
        let (pie, mixer) = (&self.appypie_server, &self.appmixer_server);
        (pie.connections(), mixer.connections())
    }

    /// Forget both sandboxes' counters, logs and faults.
    pub fn reset_hooks(&self) {
        self.appypie.hooks.reset();
        self.appmixer.hooks.reset();
    }

    /// Stops both servers and waits for their accept loops to end.
    pub async fn stop(self) {
        self.appypie_server.stop().await;
        self.appmixer_server.stop().await;
        self.issuer_server.stop().await;
    }
}
