//! Test harness: both sandbox upstreams on ephemeral loopback ports, the gateway over them
//! (`Gateway::builder()...start()`), and requests as a demo user (`g.as_user(Alice).ok(..)`).
#![allow(dead_code)]

pub mod idp;
pub mod redis;

use flowgate::sandbox::{Sandbox, SandboxConfig, DEMO_USERS};
use flowgate::upstream::appmixer::{AppmixerClient, AppmixerSession};
use flowgate::upstream::appypie::{AppyPieClient, AppyPieSession};
use flowgate::upstream::{HttpConfig, HttpCore, Policy, SharingConfig, Token};
use std::time::Duration;

pub struct Harness {
    pub sandbox: Sandbox,
    pub appypie: AppyPieClient,
    pub appmixer: AppmixerClient,
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with_http(HttpConfig::default()).await
    }

    /// A harness whose clients give up after `timeout`, trying once.
    pub async fn with_timeout(timeout: Duration) -> Harness {
        let policy = Policy {
            timeout,
            max_retries: 0,
            ..Policy::default()
        };
        let core = HttpCore::new(&HttpConfig::default());
        Self::with_core(core.for_vendor(8, policy, &SharingConfig::default())).await
    }

    pub async fn with_http(http: HttpConfig) -> Harness {
        Self::with_core(HttpCore::new(&http)).await
    }

    async fn with_core(core: HttpCore) -> Harness {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("sandbox starts");
        let (appypie, appmixer) = clients(core, &sandbox);
        Harness {
            sandbox,
            appypie,
            appmixer,
        }
    }

    /// Appy Pie session of demo user `n` (0 = Alice, 1 = Bob, 2 = Chen).
    pub fn pie(&self, n: usize) -> AppyPieSession {
        self.appypie
            .session(Token::new(DEMO_USERS[n].appypie_token))
    }

    /// Appmixer session of demo user `n`.
    pub fn mixer(&self, n: usize) -> AppmixerSession {
        self.appmixer
            .session(Token::new(DEMO_USERS[n].appmixer_token))
    }
}

/// A plain HTTP GET on a sandbox URL (the end user's browser, or an admin tool).
pub async fn browse(url: &str) -> serde_json::Value {
    let res = reqwest::get(url).await.expect("sandbox answers");
    assert!(res.status().is_success(), "GET {url}: {}", res.status());
    res.json().await.expect("json")
}

/// Plays the end user on an Appy Pie authorization URL: the token the sandbox hands the
/// partner's callback.
pub async fn callback_token(authorization_url: &str) -> String {
    let visited = browse(authorization_url).await;
    let redirect = visited["redirect"].as_str().expect("a redirect");
    redirect.rsplit("t=").next().unwrap_or_default().to_string()
}

/// Both vendors' clients over `core`, wired to `sandbox` as the gateway is.
pub fn clients(core: HttpCore, sandbox: &Sandbox) -> (AppyPieClient, AppmixerClient) {
    let config = sandboxed(sandbox);
    (
        AppyPieClient::new(core.clone(), config.appypie),
        AppmixerClient::new(core, config.appmixer),
    )
}

/// The gateway's default settings wired to `sandbox`.
pub fn sandboxed(sandbox: &Sandbox) -> flowgate::server::GatewayConfig {
    let settings = flowgate::config::Config::sandbox(sandbox).build();
    settings
        .expect("the sandbox configuration is valid")
        .gateway
}

/// The gateway over a fresh sandbox, served on an ephemeral loopback port.
pub struct Gateway {
    pub sandbox: Sandbox,
    pub url: String,
    http: reqwest::Client,
    _server: tokio::task::JoinHandle<()>,
}

/// Whose credentials a request carries.
#[derive(Clone, Copy)]
pub enum Who {
    /// Both vendors' tokens of demo user `n`.
    Both(usize),
    /// Only the Appy Pie token of demo user `n`.
    AppyPie(usize),
    /// Only the Appmixer token of demo user `n`.
    Appmixer(usize),
    Nobody,
}

/// The demo users of the sandbox, each with a token per vendor.
#[derive(Clone, Copy, Debug)]
pub enum User {
    Alice,
    Bob,
    Chen,
}

impl User {
    fn index(self) -> usize {
        self as usize
    }
}

type Tune = Box<dyn FnOnce(&mut flowgate::server::GatewayConfig)>;

/// How a test's gateway is made: its sandbox and its settings.
#[derive(Default)]
pub struct GatewayBuilder {
    sandbox: SandboxConfig,
    tunes: Vec<Tune>,
}

impl GatewayBuilder {
    /// The sandboxes' own settings (fixtures, seed...).
    pub fn sandbox(mut self, config: SandboxConfig) -> Self {
        self.sandbox = config;
        self
    }

    /// A change to the gateway's settings over the sandbox defaults (limits, policies...).
    pub fn settings(
        mut self,
        tune: impl FnOnce(&mut flowgate::server::GatewayConfig) + 'static,
    ) -> Self {
        self.tunes.push(Box::new(tune));
        self
    }

    /// Starts the sandboxes, then the gateway over them, on ephemeral loopback ports.
    pub async fn start(self) -> Gateway {
        let sandbox = Sandbox::start(self.sandbox).await.expect("sandbox starts");
        let mut config = sandboxed(&sandbox);
        for tune in self.tunes {
            tune(&mut config);
        }
        Gateway::serve(sandbox, config).await
    }
}

/// One caller's requests: `g.as_user(Alice).ok(query, variables)`.
pub struct Caller<'a> {
    gateway: &'a Gateway,
    who: Who,
}

impl Caller<'_> {
    /// Only the user's Appy Pie token.
    pub fn only_appypie(self) -> Self {
        let Who::Both(n) = self.who else { return self };
        Caller {
            who: Who::AppyPie(n),
            ..self
        }
    }

    /// Only the user's Appmixer token.
    pub fn only_appmixer(self) -> Self {
        let Who::Both(n) = self.who else { return self };
        Caller {
            who: Who::Appmixer(n),
            ..self
        }
    }

    /// The whole response (`data` and `errors`).
    pub async fn query(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        self.gateway.query(self.who, query, variables).await
    }

    /// The response's `data`, asserting there is no error.
    pub async fn ok(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        let res = self.query(query, variables).await;
        assert!(res.get("errors").is_none(), "unexpected errors: {res:#}");
        res["data"].clone()
    }
}

impl Gateway {
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    pub async fn start() -> Gateway {
        Self::builder().start().await
    }

    /// A gateway whose config `tune` adjusts (limits, policies...).
    pub async fn start_with(
        tune: impl FnOnce(&mut flowgate::server::GatewayConfig) + 'static,
    ) -> Gateway {
        Self::builder().settings(tune).start().await
    }

    /// Requests as `user`, with both of their tokens.
    pub fn as_user(&self, user: User) -> Caller<'_> {
        Caller {
            gateway: self,
            who: Who::Both(user.index()),
        }
    }

    async fn serve(sandbox: Sandbox, config: flowgate::server::GatewayConfig) -> Gateway {
        let app = flowgate::server::router(config).expect("router");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/graphql", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Gateway {
            sandbox,
            url,
            http: reqwest::Client::new(),
            _server: server,
        }
    }

    /// POSTs a query; answers the whole response (`data` and `errors`).
    pub async fn query(
        &self,
        who: Who,
        query: &str,
        variables: serde_json::Value,
    ) -> serde_json::Value {
        let mut req = self
            .http
            .post(&self.url)
            .json(&serde_json::json!({ "query": query, "variables": variables }));
        let (pie, mixer) = match who {
            Who::Both(n) => (Some(n), Some(n)),
            Who::AppyPie(n) => (Some(n), None),
            Who::Appmixer(n) => (None, Some(n)),
            Who::Nobody => (None, None),
        };
        if let Some(n) = pie {
            req = req.header("X-Appypie-Token", DEMO_USERS[n].appypie_token);
        }
        if let Some(n) = mixer {
            req = req.header("X-Appmixer-Token", DEMO_USERS[n].appmixer_token);
        }
        req.send()
            .await
            .expect("gateway answers")
            .json()
            .await
            .expect("json")
    }

    /// Like [`Gateway::query`] for Alice with both tokens, and asserts there is no error.
    pub async fn ok(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        self.as_user(User::Alice).ok(query, variables).await
    }

    /// The global id of Alice's first connect.
    pub async fn first_connect_id(&self) -> serde_json::Value {
        let d = self
            .ok(
                "{ connects(first: 1) { edges { node { id } } } }",
                serde_json::json!({}),
            )
            .await;
        d["connects"]["edges"][0]["node"]["id"].clone()
    }

    /// Upstream calls both sandboxes have seen since the last reset.
    pub fn calls(&self) -> u64 {
        self.sandbox.appypie.hooks.total() + self.sandbox.appmixer.hooks.total()
    }

    /// Runs `testConnect` on `connect` `times` times: its history grows by as many runs.
    pub async fn test_connect(&self, connect: &serde_json::Value, times: usize) {
        let q = "mutation($id: ID!) { testConnect(input: { id: $id }) { success } }";
        for _ in 0..times {
            self.ok(q, serde_json::json!({ "id": connect })).await;
        }
    }

    /// Every upstream route served so far and how often, both vendors.
    pub fn hits(&self) -> std::collections::BTreeMap<String, u64> {
        let mut all = self.sandbox.appypie.hooks.counts();
        all.extend(self.sandbox.appmixer.hooks.counts());
        all
    }

    /// Runs `work`, then asserts the upstream calls it caused, route by route: an extra call or
    /// a missing one fails.
    pub async fn costs<T>(
        &self,
        expected: &[(&str, u64)],
        work: impl std::future::Future<Output = T>,
    ) -> T {
        let before = self.hits();
        let out = work.await;
        let mut caused = self.hits();
        caused.retain(|route, n| {
            *n -= before.get(route).copied().unwrap_or(0);
            *n > 0
        });
        let expected: std::collections::BTreeMap<String, u64> =
            expected.iter().map(|(r, n)| (r.to_string(), *n)).collect();
        assert_eq!(caused, expected, "upstream calls, route by route");
        out
    }
}

/// The `extensions.code` of each error in a response.
pub fn codes(res: &serde_json::Value) -> Vec<String> {
    res["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The nodes of a Relay connection.
pub fn edges(connection: &serde_json::Value) -> Vec<serde_json::Value> {
    connection["edges"]
        .as_array()
        .map(|e| e.iter().map(|e| e["node"].clone()).collect())
        .unwrap_or_default()
}

impl Gateway {
    /// Alice's sessions on the gateway's own sandbox, for reading what the tests expect.
    pub fn alice_sessions(&self) -> (AppyPieSession, AppmixerSession) {
        self.sessions(0)
    }

    /// Demo user `n`'s sessions on the gateway's own sandbox, straight to the upstream.
    pub fn sessions(&self, n: usize) -> (AppyPieSession, AppmixerSession) {
        let core = HttpCore::new(&HttpConfig::default());
        let (pie, mixer) = clients(core, &self.sandbox);
        (
            pie.session(Token::new(DEMO_USERS[n].appypie_token)),
            mixer.session(Token::new(DEMO_USERS[n].appmixer_token)),
        )
    }
}

/// `flowgate serve --sandbox` run as shipped, in its own process, on an ephemeral loopback
/// port; its stdout and stderr go to a file. Stopped when dropped.
pub struct Served {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub root: String,
    /// `<root>/graphql`.
    pub url: String,
    pub log: std::path::PathBuf,
}

impl Served {
    /// Starts it with `flags` after `serve --sandbox --listen ...` and `env` set, and waits
    /// until it answers.
    pub async fn start(flags: &[&str], env: &[(&str, &str)]) -> Served {
        Self::launch(&["--sandbox"], flags, env).await
    }

    /// Starts `flowgate serve` over `sandbox`, which runs in the test's process.
    pub async fn over(sandbox: &Sandbox, flags: &[&str], env: &[(&str, &str)]) -> Served {
        let upstreams = [
            "--appypie-url",
            &sandbox.appypie_base_url(),
            "--appypie-auth-url",
            &sandbox.appypie_auth_url(),
            "--appmixer-url",
            &sandbox.appmixer_base_url(),
        ]
        .map(str::to_string);
        let upstreams: Vec<&str> = upstreams.iter().map(String::as_str).collect();
        Self::launch(&upstreams, flags, env).await
    }

    async fn launch(upstreams: &[&str], flags: &[&str], env: &[(&str, &str)]) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log =
            std::env::temp_dir().join(format!("flowgate-served-{}-{port}.log", std::process::id()));
        let file = std::fs::File::create(&log).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_flowgate"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(upstreams)
            .args(flags)
            .envs(env.iter().copied())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("flowgate starts");
        let root = format!("http://127.0.0.1:{port}");
        let served = Served {
            child,
            url: format!("{root}/graphql"),
            root,
            log,
        };
        for _ in 0..200 {
            if reqwest::get(format!("{}/healthz", served.root))
                .await
                .is_ok()
            {
                return served;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("flowgate serve did not answer on {}", served.root);
    }

    /// A JWT of demo subject `name` from the demo identity provider its banner names.
    pub async fn demo_jwt(&self, name: &str) -> String {
        let output = self.output();
        let issuer = output
            .lines()
            .find_map(|l| l.strip_prefix("Demo identity provider: "))
            .and_then(|l| l.split_whitespace().next())
            .expect("the banner names the demo issuer");
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{issuer}/token"))
            .json(&serde_json::json!({ "username": name }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it has written so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first component, in flows listed with `components { componentType ... }`, that talks to
/// a service (not one of Appmixer's own utilities).
pub fn service_component(flows: &serde_json::Value) -> serde_json::Value {
    edges(flows)
        .iter()
        .flat_map(|f| f["components"].as_array().cloned().unwrap_or_default())
        .find(|c| {
            let kind = c["componentType"].as_str().unwrap_or_default();
            !kind.starts_with("appmixer.utils.")
        })
        .expect("a flow uses a service")
}

/// A WebSocket handshake to `/graphql` at `http_url` offering `graphql-transport-ws`.
pub fn graphql_ws(http_url: &str) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = http_url
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    let protocol = "graphql-transport-ws".parse().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol);
    request
}
