//! Load benchmark: the gateway over the sandbox upstreams, all in this process on loopback.
//! Prints, per workload, requests/s, p50 and p99 latency and upstream calls per query, beside
//! the same kind of load sent straight to the sandbox (the ceiling), and the peak RSS. Asserts
//! nothing. Run with `cargo bench` (release mode).

use flowgate::sandbox::{Sandbox, SandboxConfig, DEMO_USERS};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 32;
const WARM_UP: Duration = Duration::from_secs(1);
const RUN: Duration = Duration::from_secs(5);

struct Load {
    name: String,
    url: String,
    body: Option<String>,
    /// One header set per caller; request i of a connection is sent by caller i mod n.
    callers: Vec<Vec<(&'static str, String)>>,
}

struct Result {
    p50: Duration,
    p99: Duration,
    per_sec: f64,
}

async fn drive(load: Arc<Load>) -> Result {
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|connection| {
            let load = load.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut latencies = Vec::new();
                for sent in connection.. {
                    let t = Instant::now();
                    if t - start > WARM_UP + RUN {
                        return latencies;
                    }
                    let mut req = match &load.body {
                        Some(b) => client
                            .post(&load.url)
                            .header("content-type", "application/json")
                            .body(b.clone()),
                        None => client.get(&load.url),
                    };
                    for (k, v) in &load.callers[sent % load.callers.len()] {
                        req = req.header(*k, v);
                    }
                    let ok = match req.send().await {
                        Ok(res) => res.status().is_success() && res.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if ok && t - start > WARM_UP {
                        latencies.push(t.elapsed());
                    }
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    all.sort();
    let pick = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Result {
        p50: pick(0.5),
        p99: pick(0.99),
        per_sec: all.len() as f64 / RUN.as_secs_f64(),
    }
}

async fn send_once(load: &Load) {
    let mut req = reqwest::Client::new()
        .post(&load.url)
        .header("content-type", "application/json")
        .body(load.body.clone().unwrap_or_default());
    for (k, v) in &load.callers[0] {
        req = req.header(*k, v);
    }
    let res = req.send().await.expect("gateway answers");
    let body: serde_json::Value = res.json().await.expect("json");
    assert!(
        body.get("errors").is_none(),
        "the workload query fails: {body}"
    );
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn gql(query: &str) -> Option<String> {
    Some(serde_json::json!({ "query": query }).to_string())
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
        let settings = flowgate::config::Config::sandbox(&sandbox).build().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = format!("http://{}/graphql", listener.local_addr().unwrap());
        let app = flowgate::app(&settings).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let both = |n: usize| {
            let u = &DEMO_USERS[n];
            vec![("x-appmixer-token", u.appmixer_token.to_string()), ("x-appypie-token", u.appypie_token.to_string())]
        };
        let queries = [
            ("flat: 40 connects", "{ connects(first: 40) { edges { node { name status } } } }"),
            (
                "nested: connects with apps, triggers, actions, accounts",
                "{ connects(first: 40) { edges { node { name triggerApp { name } actionApp { name } trigger { name } action { name } triggerAccount { name } actionAccount { name } } } } }",
            ),
            ("nested: accounts with their flows", "{ accounts(filter: { provider: APPMIXER }, first: 100) { edges { node { name automations(first: 100) { nodes { name } } } } } }"),
            (
                "mixed: both vendors",
                "{ viewer { appmixer { email } appypie { email } } automations(first: 20) { totalCount edges { node { name status } } } apps(first: 10) { edges { node { name } } } }",
            ),
        ];
        let mut loads = Vec::new();
        for (callers, label) in [(vec![both(0)], "1 caller"), ((0..3).map(both).collect(), "3 callers")] {
            for (name, query) in queries {
                loads.push(Load { name: format!("{name} ({label})"), url: gateway.clone(), body: gql(query), callers: callers.clone() });
            }
        }
        let alice = &DEMO_USERS[0];
        loads.push(Load {
            name: "ceiling: sandbox GET /connect/list".into(),
            url: format!("{}/connect/list?limit=40", sandbox.appypie_base_url()),
            body: None,
            callers: vec![vec![("ACCESSTOKEN", alice.appypie_token.to_string())]],
        });
        loads.push(Load {
            name: "ceiling: sandbox GET /accounts".into(),
            url: format!("{}/accounts", sandbox.appmixer_base_url()),
            body: None,
            callers: vec![vec![("Authorization", format!("Bearer {}", alice.appmixer_token))]],
        });
        println!("{CONNECTIONS} connections, {}s warm-up, {}s run, {} cores", WARM_UP.as_secs(), RUN.as_secs(), std::thread::available_parallelism().map_or(0, |n| n.get()));
        println!("{:<70} {:>9} {:>9} {:>9} {:>14}", "workload", "req/s", "p50 ms", "p99 ms", "upstream/query");
        for load in loads {
            let name = load.name.clone();
            let per_query = if load.body.is_some() {
                sandbox.reset_hooks();
                send_once(&load).await;
                (sandbox.appypie.hooks.total() + sandbox.appmixer.hooks.total()).to_string()
            } else {
                "-".into()
            };
            let r = drive(Arc::new(load)).await;
            println!("{name:<70} {:>9.0} {:>9.2} {:>9.2} {per_query:>14}", r.per_sec, r.p50.as_secs_f64() * 1e3, r.p99.as_secs_f64() * 1e3);
        }
        println!("peak RSS: {:.0} MiB", peak_rss_mib());
    });
}
