//! What WebSockets cost: `flowgate serve --sandbox` (the release binary, its own process) holds
//! idle sockets, then sockets with subscriptions; its RSS is read from /proc before and after.
//! Prints a table; asserts nothing.
//!
//! `cargo build --release && cargo bench --bench sockets -- [idle sockets] [subscriptions] [sockets]`
//! (defaults 1000, 10000, 500).

use flowgate::sandbox::DEMO_USERS;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Gateway {
    child: Child,
    url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    async fn start() -> Gateway {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let binary = format!("{}/target/release/flowgate", env!("CARGO_MANIFEST_DIR"));
        let child = Command::new(binary)
            .args([
                "serve",
                "--sandbox",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--subscription-max-sockets", "100000"])
            .args(["--subscription-max-sockets-per-client", "100000"])
            .args(["--subscription-max-per-caller", "100000"])
            .args(["--subscription-poll-ms", "60000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("build the release binary first: cargo build --release");
        let url = format!("ws://127.0.0.1:{port}/graphql");
        let health = format!("http://127.0.0.1:{port}/healthz");
        for _ in 0..200 {
            if reqwest::get(&health).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Gateway { child, url }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// A socket past `connection_init`, as Alice.
    async fn socket(&self) -> Socket {
        let mut request = self.url.as_str().into_client_request().unwrap();
        let protocol = "graphql-transport-ws".parse().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let alice = &DEMO_USERS[0];
        let init = json!({ "type": "connection_init", "payload": {
            "x-appmixer-token": alice.appmixer_token, "x-appypie-token": alice.appypie_token } });
        socket.send(init.to_string().into()).await.unwrap();
        socket.next().await.unwrap().unwrap();
        socket
    }
}

async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let idle = args.first().copied().unwrap_or(1000);
    let subscriptions = args.get(1).copied().unwrap_or(10_000);
    let sockets = args.get(2).copied().unwrap_or(500).max(1);

    let g = Gateway::start().await;
    settle().await;
    let start = g.rss_kib();
    let mut open = Vec::new();
    for _ in 0..idle {
        open.push(g.socket().await);
    }
    settle().await;
    let with_idle = g.rss_kib();
    drop(open);
    settle().await;
    drop(g);

    let g = Gateway::start().await;
    let ids: Vec<String> = {
        let http = reqwest::Client::new();
        let alice = &DEMO_USERS[0];
        let res: serde_json::Value = http
            .post(g.url.replace("ws://", "http://"))
            .header("x-appmixer-token", alice.appmixer_token)
            .header("x-appypie-token", alice.appypie_token)
            .json(&json!({ "query": "{ automations(first: 20) { edges { node { id } } } }" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let edges = res["data"]["automations"]["edges"]
            .as_array()
            .unwrap()
            .clone();
        edges
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    settle().await;
    let before = g.rss_kib();
    let mut open = Vec::new();
    for s in 0..sockets {
        let mut socket = g.socket().await;
        for n in 0..subscriptions / sockets {
            let id = &ids[(s + n) % ids.len()];
            let query = format!(r#"subscription {{ automationState(id: "{id}") {{ status }} }}"#);
            let message =
                json!({ "id": n.to_string(), "type": "subscribe", "payload": { "query": query } });
            socket.send(message.to_string().into()).await.unwrap();
        }
        open.push(socket);
    }
    let mut answered = 0;
    for socket in &mut open {
        for _ in 0..subscriptions / sockets {
            if let Ok(Some(Ok(_))) =
                tokio::time::timeout(Duration::from_secs(10), socket.next()).await
            {
                answered += 1;
            }
        }
    }
    settle().await;
    let after = g.rss_kib();

    let per_idle = with_idle.saturating_sub(start) as f64 / idle.max(1) as f64;
    let grown = after.saturating_sub(before) as f64 / 1024.0;
    println!("| what | RSS before | RSS after | cost |");
    println!("|---|---|---|---|");
    println!(
        "| {idle} idle sockets (past connection_init) | {:.1} MiB | {:.1} MiB | {per_idle:.1} KiB a socket |",
        start as f64 / 1024.0,
        with_idle as f64 / 1024.0
    );
    println!(
        "| {subscriptions} subscriptions over {sockets} sockets ({answered} first events read) | {:.1} MiB | {:.1} MiB | +{grown:.1} MiB |",
        before as f64 / 1024.0,
        after as f64 / 1024.0
    );
}
