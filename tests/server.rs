//! The HTTP surface: health, GraphiQL, the CLI's refusal to start without upstreams.

mod common;

use common::Gateway;
use flowgate::config::Config;
use flowgate::sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

#[tokio::test]
async fn healthz_answers() {
    let g = Gateway::start().await;
    let url = g.url.replace("/graphql", "/healthz");
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn graphiql_opens_with_the_demo_tokens_in_the_demo() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let settings = Config::sandbox(&sandbox).demo().build().unwrap();
    let app = flowgate::app(&settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("graphiql") || page.contains("GraphiQL"));
    assert!(page.contains("appmixer-demo-alice"));
    assert!(page.contains("/graphql"));
}

#[tokio::test]
async fn appmixer_components_are_triggers_and_actions() {
    let g = Gateway::start().await;
    let q = "query($after: String) { appmixerComponents(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        edges { node { __typename ... on Trigger { nativeId } ... on Action { nativeId } } } } }";
    let (mut all, mut after) = (Vec::new(), serde_json::Value::Null);
    loop {
        let d = g.ok(q, json!({ "after": after })).await;
        let page = &d["appmixerComponents"];
        all.extend(common::edges(page));
        if page["pageInfo"]["hasNextPage"] != true {
            assert_eq!(page["totalCount"], all.len());
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert!(
        all.iter().any(|c| c["__typename"] == "Trigger")
            && all.iter().any(|c| c["__typename"] == "Action")
    );
    assert!(all.iter().any(
        |c| c["nativeId"] == "appmixer.utils.controls.OnStart" && c["__typename"] == "Trigger"
    ));
}

#[test]
fn serve_without_upstreams_says_what_to_set() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("FLOWGATE_APPYPIE_URL")
        .env_remove("FLOWGATE_APPMIXER_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--sandbox")
            && err.contains("FLOWGATE_APPYPIE_URL")
            && err.contains("FLOWGATE_APPMIXER_URL"),
        "{err}"
    );
}

#[test]
fn print_schema_prints_the_sdl() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .arg("print-schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        flowgate::schema::sdl()
    );
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .args([
            "serve",
            "--sandbox",
            "--listen",
            "127.0.0.1:0",
            "--grace-period-secs",
            "5",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let second = lines.next().unwrap().unwrap();
    let appmixer = second.rsplit(' ').next().unwrap().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fault = json!({ "path": "/user", "fault": { "kind": "latency", "ms": 800 } });
    let added = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{appmixer}/__sandbox/faults"))
            .json(&fault)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(added, 201);
    let in_flight = rt.spawn(async move {
        reqwest::Client::new()
            .post(format!("http://{addr}/graphql"))
            .header("X-Appmixer-Token", "appmixer-demo-alice")
            .json(&json!({ "query": "{ viewer { appmixer { email } } }" }))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success());
    let res = rt.block_on(in_flight).unwrap();
    assert_eq!(
        res["data"]["viewer"]["appmixer"]["email"], "alice@example.com",
        "the in-flight request finished"
    );
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("shutting down"), "{err}");
}
