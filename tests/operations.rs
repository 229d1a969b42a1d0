//! What operators watch per request: request ids end to end, JSON log lines, and the trace of
//! upstream calls. (Metrics and `/readyz` are in `metrics.rs`.)

mod common;

use common::{Gateway, Served};
use flowgate::sandbox::DEMO_USERS;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

#[tokio::test]
async fn request_ids_are_kept_made_returned_and_sent_upstream() {
    let g = Gateway::start().await;
    let http = reqwest::Client::new();
    let send = |id: Option<&str>| {
        let mut req = http
            .post(&g.url)
            .header("x-appypie-token", DEMO_USERS[0].appypie_token)
            .json(&json!({ "query": "{ viewer { appypie { email } } }" }));
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };
    let res = send(Some("order-42")).await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "order-42");
    let upstream: Vec<_> = g.sandbox.appypie.hooks.log();
    assert_eq!(
        upstream.last().unwrap().request_id.as_deref(),
        Some("order-42")
    );

    let made = send(None).await.unwrap();
    let id = made.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 32, "{id}");
    let bad = "x".repeat(300);
    let replaced = send(Some(&bad)).await.unwrap();
    let new = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(new != bad && new != id, "{new}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_one_line_a_request() {
    let g = Served::start(&["--log-format", "json"], &[("RUST_LOG", "info")]).await;
    reqwest::Client::new()
        .post(&g.url)
        .header("x-request-id", "log-test-1")
        .header("x-appypie-token", DEMO_USERS[0].appypie_token)
        .json(&json!({ "query": "query Me { viewer { appypie { email } } nope: viewer { appmixer { email } } }" }))
        .send()
        .await
        .unwrap();
    let text = g.output();
    let line: HashMap<String, Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|l: &HashMap<String, Value>| l.get("request_id") == Some(&json!("log-test-1")))
        .expect("a JSON line for the request");
    assert_eq!(line["message"], "graphql request");
    assert_eq!(line["operation"], "Me");
    assert_eq!(line["kind"], "query");
    assert_eq!(line["upstream_calls"], 1);
    assert_eq!(line["errors"], "UNAUTHENTICATED");
    assert!(line["elapsed_ms"].is_u64());
}

async fn traced(g: &Gateway, query: &str, trace: bool) -> Value {
    let mut req = reqwest::Client::new()
        .post(&g.url)
        .header("x-appypie-token", DEMO_USERS[0].appypie_token)
        .header("x-appmixer-token", DEMO_USERS[0].appmixer_token)
        .json(&json!({ "query": query }));
    if trace {
        req = req.header("x-flowgate-trace", "1");
    }
    req.send().await.unwrap().json().await.unwrap()
}

/// A route template with its parameters unnamed (`{appId}` and `{app_id}` are the same place).
fn unnamed(route: &str) -> String {
    route
        .split('/')
        .map(|part| if part.starts_with('{') { "{}" } else { part })
        .collect::<Vec<_>>()
        .join("/")
}

/// Route → calls, from a trace's entries served as one of `served`.
fn by_route(res: &Value, served: &[&str]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for call in res["extensions"]["upstreamCalls"].as_array().unwrap() {
        if served.iter().any(|s| call["served"] == *s) {
            *out.entry(unnamed(call["route"].as_str().unwrap()))
                .or_default() += 1;
        }
    }
    out
}

/// Both sandboxes' counters, route templates unnamed.
fn sandbox_counts(g: &Gateway) -> BTreeMap<String, u64> {
    let mut counts = g.sandbox.appypie.hooks.counts();
    counts.extend(g.sandbox.appmixer.hooks.counts());
    counts.into_iter().map(|(k, v)| (unnamed(&k), v)).collect()
}

#[tokio::test]
async fn the_upstream_call_trace_matches_the_sandbox_counters() {
    let g = Gateway::start_with(|c| c.allow_trace = true).await;
    let q = "{ connects(first: 5) { edges { node { name triggerApp { name } trigger { name } } } } viewer { appmixer { email } } flows(first: 3) { edges { node { name runs(first: 2) { edges { node { id } } } } } } }";
    let first = traced(&g, q, true).await;
    assert!(first.get("errors").is_none(), "{first:#}");
    let seen = sandbox_counts(&g);
    assert_eq!(by_route(&first, &["network", "batch"]), seen, "{first:#}");
    let calls = first["extensions"]["upstreamCalls"].as_array().unwrap();
    let batched: Vec<_> = calls.iter().filter(|c| c["served"] == "batch").collect();
    assert!(
        !batched.is_empty(),
        "one call answers several keys: {first:#}"
    );
    assert!(
        batched.iter().all(|c| c["keys"].as_u64() > Some(1)),
        "{first:#}"
    );
    for call in first["extensions"]["upstreamCalls"].as_array().unwrap() {
        assert_eq!(call["status"], "200");
        assert_eq!(call["attempt"], 1);
        assert!(call["vendor"] == "appypie" || call["vendor"] == "appmixer");
        assert!(call["durationMs"].as_f64().unwrap() >= 0.0);
    }

    let again = traced(&g, q, true).await;
    let cached = by_route(&again, &["cache"]);
    assert!(
        cached.contains_key("GET /apps"),
        "the catalogue comes from the cache: {again:#}"
    );
    let now = sandbox_counts(&g);
    let network = by_route(&again, &["network", "batch"]);
    for (route, n) in &network {
        assert_eq!(
            now[route] - seen.get(route).copied().unwrap_or(0),
            *n,
            "{route}"
        );
    }
    assert!(traced(&g, q, false).await.get("extensions").is_none());
    let off = Gateway::start().await;
    assert!(
        traced(&off, q, true).await.get("extensions").is_none(),
        "off unless allowed"
    );
}
