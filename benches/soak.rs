//! Soak: `flowgate serve --sandbox` (the release binary, its own process) under a mixed load for
//! a while: three tenants, both vendors, queries and mutations, faults injected every 30 s. Every
//! 10 s it records the gateway's RSS, open file descriptors, requests, errors and latency; every
//! answer is checked against the tenant's own data as the sandbox holds it. Fails when RSS or
//! descriptors keep growing, or when any answer holds another tenant's data.
//!
//! `cargo bench --bench soak -- <seconds> <csv>` (scripts/soak.sh runs it).

use flowgate::sandbox::DEMO_USERS;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WORKERS: usize = 24;
const SAMPLE: Duration = Duration::from_secs(10);

struct Gateway {
    child: Child,
    url: String,
    pie_base: String,
    mixer_base: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    format!("{root}/target/release/flowgate")
}

async fn start() -> Gateway {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::env::temp_dir().join(format!("flowgate-soak-{port}.out"));
    let child = Command::new(binary())
        .args([
            "serve",
            "--sandbox",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--appmixer-timeout-ms",
            "500",
            "--appypie-timeout-ms",
            "500",
        ])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("build the release binary first: cargo build --release");
    let url = format!("http://127.0.0.1:{port}/graphql");
    for _ in 0..200 {
        if reqwest::get(url.replace("/graphql", "/healthz"))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let printed = std::fs::read_to_string(&out).unwrap();
    let base = |vendor: &str| {
        let at = printed.find(&format!("{vendor} sandbox: ")).unwrap();
        let rest = &printed[at + vendor.len() + 10..];
        rest.split_whitespace().next().unwrap().to_string()
    };
    Gateway {
        pie_base: base("Appy Pie"),
        mixer_base: base("Appmixer"),
        child,
        url,
    }
}

/// Tenant `n`'s automation ids (connects and flows), read straight from the sandbox.
async fn held(g: &Gateway, n: usize) -> BTreeSet<String> {
    let http = reqwest::Client::new();
    let user = &DEMO_USERS[n];
    let read = |request: reqwest::RequestBuilder| async move {
        let res = request.send().await.expect("the sandbox answers");
        res.json::<Value>().await.expect("JSON")
    };
    let connects = read(
        http.get(format!("{}/connect/list?limit=100", g.pie_base))
            .header("ACCESSTOKEN", user.appypie_token),
    )
    .await;
    let flows = read(
        http.get(format!("{}/flows?limit=100", g.mixer_base))
            .bearer_auth(user.appmixer_token),
    )
    .await;
    let ids = |list: &Value, key: &str| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x[key].as_str().map(str::to_string))
            .collect()
    };
    ids(&connects["data"], "_id")
        .into_iter()
        .chain(ids(&flows, "flowId"))
        .collect()
}

const QUERIES: [&str; 4] = [
    "{ viewer { appmixer { email } appypie { email } } automations(first: 100) { edges { node { nativeId name status } } } }",
    "{ connects(first: 20) { edges { node { nativeId name triggerApp { name } actionApp { name } } } } }",
    "{ flows(first: 20) { edges { node { nativeId name runs(first: 3) { status } } } } apps(first: 10) { edges { node { name } } } }",
    "{ accounts(first: 100) { edges { node { name } } } categories(first: 100) { edges { node { name } } } }",
];

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    errors: AtomicU64,
    foreign: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
}

/// Every automation id an answer holds.
fn automation_ids(answer: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for list in ["automations", "connects", "flows"] {
        for edge in answer["data"][list]["edges"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(id) = edge["node"]["nativeId"].as_str() {
                out.push(id.to_string());
            }
        }
    }
    out
}

async fn worker(
    g: Arc<Gateway>,
    own: Arc<Vec<BTreeSet<String>>>,
    tally: Arc<Tally>,
    until: Instant,
    seed: usize,
) {
    let http = reqwest::Client::new();
    let mut i = seed;
    while Instant::now() < until {
        i += 1;
        let n = i % 3;
        let user = &DEMO_USERS[n];
        let body = if i.is_multiple_of(25) {
            let id = own[n]
                .iter()
                .nth(i % own[n].len())
                .cloned()
                .unwrap_or_default();
            let kind = if id.len() == 24 {
                "Connect:appypie"
            } else {
                "Flow:appmixer"
            };
            let global = base64_url(&format!("{kind}:{id}"));
            json!({
                "query": "mutation($id: ID!, $n: String!) { renameAutomation(input: { id: $id, name: $n }) { automation { nativeId } } }",
                "variables": { "id": global, "n": format!("soak {i}") },
            })
        } else {
            json!({ "query": QUERIES[i % QUERIES.len()] })
        };
        let sent = Instant::now();
        let res = http
            .post(&g.url)
            .header("x-appmixer-token", user.appmixer_token)
            .header("x-appypie-token", user.appypie_token)
            .json(&body)
            .send()
            .await;
        let answer: Value = match res {
            Ok(res) => res.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        tally.latencies.lock().unwrap().push(sent.elapsed());
        tally.requests.fetch_add(1, Ordering::Relaxed);
        if answer.is_null() || answer.get("errors").is_some() {
            tally.errors.fetch_add(1, Ordering::Relaxed);
        }
        let viewer = &answer["data"]["viewer"];
        let wrong_viewer = [&viewer["appmixer"]["email"], &viewer["appypie"]["email"]]
            .iter()
            .any(|e| e.as_str().is_some_and(|e| e != user.email));
        let foreign = automation_ids(&answer)
            .iter()
            .any(|id| !own[n].contains(id));
        if wrong_viewer || foreign {
            tally.foreign.fetch_add(1, Ordering::Relaxed);
            eprintln!("FOREIGN DATA for tenant {n}: {answer}");
        }
    }
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Faults on both vendors, a new one every 30 s, each for a few calls.
async fn inject_faults(g: Arc<Gateway>, until: Instant) {
    let http = reqwest::Client::new();
    let origin = |base: &str| {
        url::Url::parse(base)
            .unwrap()
            .origin()
            .ascii_serialization()
    };
    let faults = [
        (
            origin(&g.mixer_base),
            json!({ "path": "/flows", "fault": { "kind": "status", "status": 503 }, "times": 30 }),
        ),
        (
            origin(&g.pie_base),
            json!({ "path": "*/connect/list", "fault": { "kind": "latency", "ms": 800 }, "times": 30 }),
        ),
        (
            origin(&g.mixer_base),
            json!({ "path": "/accounts", "fault": { "kind": "truncated_body" }, "times": 30 }),
        ),
        (
            origin(&g.pie_base),
            json!({ "path": "*/me", "fault": { "kind": "rate_limit", "retry_after": 1 }, "times": 30 }),
        ),
        (
            origin(&g.mixer_base),
            json!({ "path": "/user", "fault": { "kind": "drop_connection" }, "times": 30 }),
        ),
    ];
    if std::env::var_os("SOAK_FAULTS_FOREVER").is_some() {
        for (origin, rule) in &faults {
            let mut rule = rule.clone();
            rule.as_object_mut().map(|r| r.remove("times"));
            let _ = http
                .post(format!("{origin}/__sandbox/faults"))
                .json(&rule)
                .send()
                .await;
        }
        return;
    }
    let mut n = 0;
    while Instant::now() + Duration::from_secs(30) < until {
        tokio::time::sleep(Duration::from_secs(30)).await;
        let (origin, rule) = &faults[n % faults.len()];
        let _ = http
            .post(format!("{origin}/__sandbox/faults"))
            .json(rule)
            .send()
            .await;
        n += 1;
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(600);
    let csv_path = args.get(1).cloned().unwrap_or_else(|| "soak.csv".into());
    let g = Arc::new(start().await);
    let pid = g.child.id();
    let own = Arc::new(vec![
        held(&g, 0).await,
        held(&g, 1).await,
        held(&g, 2).await,
    ]);
    let until = Instant::now() + Duration::from_secs(seconds);
    let tally = Arc::new(Tally::default());
    let mut tasks: Vec<_> = (0..WORKERS)
        .map(|w| tokio::spawn(worker(g.clone(), own.clone(), tally.clone(), until, w * 7)))
        .collect();
    tasks.push(tokio::spawn(inject_faults(g.clone(), until)));
    let mut csv = String::from("seconds,rss_mib,fds,requests,errors,p50_ms,p99_ms,foreign\n");
    let started = Instant::now();
    let mut rows = Vec::new();
    let (mut last_requests, mut last_errors) = (0, 0);
    while Instant::now() < until {
        tokio::time::sleep(SAMPLE).await;
        let mut latencies = std::mem::take(&mut *tally.latencies.lock().unwrap());
        latencies.sort();
        let requests = tally.requests.load(Ordering::Relaxed);
        let errors = tally.errors.load(Ordering::Relaxed);
        let row = (
            started.elapsed().as_secs(),
            rss_kib(pid) as f64 / 1024.0,
            open_fds(pid),
            requests - last_requests,
            errors - last_errors,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            tally.foreign.load(Ordering::Relaxed),
        );
        (last_requests, last_errors) = (requests, errors);
        let line = format!(
            "{},{:.1},{},{},{},{:.2},{:.2},{}\n",
            row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7
        );
        print!("{line}");
        csv.push_str(&line);
        rows.push(row);
    }
    for t in tasks {
        let _ = t.await;
    }
    std::fs::write(&csv_path, csv).unwrap();
    verdict(&rows, tally.foreign.load(Ordering::Relaxed));
}

type Row = (u64, f64, usize, u64, u64, f64, f64, u64);

/// Fails the run when RSS or descriptors grow from the first third to the last, or any answer
/// held foreign data.
fn verdict(rows: &[Row], foreign: u64) {
    let third = (rows.len() / 3).max(1);
    let peak = |rows: &[Row]| rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let fds = |rows: &[Row]| rows.iter().map(|r| r.2).max().unwrap_or(0);
    let (early, late) = (&rows[..third], &rows[rows.len() - third..]);
    let total: u64 = rows.iter().map(|r| r.3).sum();
    println!(
        "soak: {} s, {total} requests, RSS peak {:.1} MiB early / {:.1} MiB late, fds {} / {}, foreign answers {foreign}",
        rows.last().map_or(0, |r| r.0),
        peak(early),
        peak(late),
        fds(early),
        fds(late)
    );
    let mut failed = Vec::new();
    if peak(late) > peak(early) * 1.25 + 16.0 {
        failed.push("RSS kept growing");
    }
    if fds(late) > fds(early) + 64 {
        failed.push("file descriptors kept growing");
    }
    if foreign > 0 {
        failed.push("an answer held another tenant's data");
    }
    if !failed.is_empty() {
        eprintln!("soak FAILED: {}", failed.join("; "));
        std::process::exit(1);
    }
    println!("soak: passed");
}
