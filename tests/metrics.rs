//! Metrics as Prometheus scrapes them, and `/readyz`. A test binary of its own: the metrics
//! recorder is the process's, so other tests' gateways would move the same series. The tests
//! here touch different series (Appy Pie's connect list; Appmixer's user and breaker), or wait
//! for the others' calls to end (Appmixer's calls in flight).

mod common;

use common::{Gateway, Who};
use flowgate::sandbox::{Fault, FaultRule};
use serde_json::{json, Value};
use std::time::Duration;

/// `/metrics` parsed with a Prometheus text parser: each sample's value by name and labels.
async fn scrape(g: &Gateway) -> Vec<prometheus_parse::Sample> {
    let text = reqwest::get(g.url.replace("/graphql", "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines)
        .expect("Prometheus text format")
        .samples
}

/// The sum of the samples of `name` whose labels include all of `labels`.
fn value(samples: &[prometheus_parse::Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            prometheus_parse::Value::Summary(_) => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn metrics_count_requests_operations_upstream_calls_and_caches() {
    let g = Gateway::start().await;
    let before = scrape(&g).await;
    let q =
        "query Dashboard { connects(first: 2) { edges { node { name triggerApp { name } } } } }";
    for _ in 0..3 {
        g.ok(q, json!({})).await;
    }
    g.query(Who::Both(0), "{ nope }", json!({})).await;
    let after = scrape(&g).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(
        moved(
            "flowgate_graphql_operations_total",
            &[
                ("operation", "Dashboard"),
                ("type", "query"),
                ("outcome", "ok")
            ]
        ),
        3.0
    );
    assert!(
        moved(
            "flowgate_http_requests_total",
            &[("route", "/graphql"), ("method", "POST"), ("status", "200")]
        ) >= 4.0
    );
    let list = [
        ("vendor", "appypie"),
        ("route", "GET /connect/list"),
        ("status", "200"),
    ];
    assert_eq!(
        moved("flowgate_upstream_calls_total", &list),
        g.sandbox.appypie.hooks.count("GET /connect/list") as f64,
        "one sample per call the sandbox saw"
    );
    assert!(
        moved(
            "flowgate_upstream_call_duration_seconds",
            &[("vendor", "appypie")]
        ) > 0.0
    );
    assert!(
        moved(
            "flowgate_cache_requests_total",
            &[("cache", "catalogue"), ("result", "hit")]
        ) > 0.0
    );
    assert!(
        moved(
            "flowgate_cache_requests_total",
            &[("cache", "documents"), ("result", "hit")]
        ) >= 2.0
    );
    assert!(moved("flowgate_loader_batch_size", &[]) > 0.0);
    assert!(after
        .iter()
        .any(|s| s.metric == "flowgate_upstream_breaker_open"));
}

#[tokio::test]
async fn retries_and_the_breaker_show_in_metrics_and_readyz() {
    let g = Gateway::start_with(|c| {
        c.appmixer_policy.breaker_threshold = 2;
        c.appmixer_policy.max_retries = 1;
    })
    .await;
    let ready = |g: &Gateway| {
        let url = g.url.replace("/graphql", "/readyz");
        async move {
            let res = reqwest::get(url).await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = ready(&g).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["vendors"]["appmixer"]["breaker"], "closed");
    assert_eq!(body["vendors"]["appmixer"]["lastCall"], Value::Null);
    let before = scrape(&g).await;
    g.sandbox
        .appmixer
        .hooks
        .add_fault(FaultRule::new("/user", Fault::Status { status: 503 }));
    for _ in 0..2 {
        g.query(Who::Both(0), "{ viewer { appmixer { email } } }", json!({}))
            .await;
    }
    let (status, body) = ready(&g).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["vendors"]["appmixer"]["breaker"], "open");
    assert_eq!(body["vendors"]["appmixer"]["lastCall"], "failed");
    assert_eq!(body["vendors"]["appypie"]["breaker"], "closed");
    let after = scrape(&g).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert!(
        moved(
            "flowgate_upstream_retries_total",
            &[("vendor", "appmixer"), ("route", "GET /user")]
        ) >= 1.0
    );
    assert_eq!(
        value(
            &after,
            "flowgate_upstream_breaker_open",
            &[("vendor", "appmixer")]
        ),
        1.0
    );
    assert!(
        moved(
            "flowgate_upstream_calls_total",
            &[("vendor", "appmixer"), ("status", "503")]
        ) >= 2.0
    );
}

#[tokio::test]
async fn a_call_its_request_gave_up_leaves_the_in_flight_gauge() {
    let g = Gateway::start_with(|c| c.limits.deadline = Duration::from_millis(1_500)).await;
    let slow = |path: &str| FaultRule::new(path, Fault::Latency { ms: 20_000 });
    g.sandbox.appypie.hooks.add_fault(slow("*/connect/list"));
    g.sandbox.appmixer.hooks.add_fault(slow("/accounts*"));
    // Another request runs meanwhile, so the Appmixer read runs in its caller's task (alone,
    // it would be a task of its own, which goes on, counted, after its caller gave up).
    let other = g.query(
        Who::Both(0),
        "{ connects(first: 5) { nodes { id } } }",
        json!({}),
    );
    let mine = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let q = "{ accounts(filter: { provider: APPMIXER }, first: 5) { nodes { name } } }";
        g.query(Who::Both(1), q, json!({})).await
    };
    let (_, res) = tokio::join!(other, mine);
    assert_eq!(common::codes(&res), vec!["UPSTREAM_TIMEOUT"]);
    // The other tests' calls may be in flight for a moment; this one would be for 20 s.
    let mut left = f64::NAN;
    for _ in 0..50 {
        let labels = [("vendor", "appmixer")];
        left = value(&scrape(&g).await, "flowgate_upstream_in_flight", &labels);
        if left == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0.0, "the dropped call is no longer counted in flight");
}
