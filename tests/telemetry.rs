//! OpenTelemetry: the shipped binary exports its spans over OTLP/HTTP to a small collector in
//! this test, continuing the caller's `traceparent` and passing its own on upstream.

mod common;

use axum::routing::post;
use common::Served;
use flowgate::sandbox::{Sandbox, SandboxConfig, DEMO_USERS};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP/HTTP collector on a loopback port: the spans it has received.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: axum::body::Bytes| async move {
            let export: Value = serde_json::from_slice(&body).unwrap_or_default();
            let mut kept = kept.lock().unwrap();
            for resource in export["resourceSpans"].as_array().into_iter().flatten() {
                for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                    for span in scope["spans"].as_array().into_iter().flatten() {
                        let mut span = span.clone();
                        span["resource"] = resource["resource"].clone();
                        kept.push(span);
                    }
                }
            }
            "{}"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

fn named<'a>(spans: &'a [Value], name: &str) -> Vec<&'a Value> {
    spans.iter().filter(|s| s["name"] == name).collect()
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    let attributes = span["attributes"].as_array()?;
    let found = attributes.iter().find(|a| a["key"] == key)?;
    found["value"].as_object()?.values().next()
}

#[tokio::test(flavor = "multi_thread")]
async fn spans_continue_the_callers_trace_and_reach_the_upstream() {
    let (endpoint, received) = collector().await;
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let g = Served::over(
        &sandbox,
        &["--otlp-endpoint", &endpoint],
        &[("OTEL_BSP_SCHEDULE_DELAY", "50")],
    )
    .await;
    let res = reqwest::Client::new()
        .post(&g.url)
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .header("x-appypie-token", DEMO_USERS[0].appypie_token)
        .header("x-appmixer-token", DEMO_USERS[0].appmixer_token)
        .json(&json!({ "query": "query Both { viewer { appypie { email } appmixer { email } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let mut spans = Vec::new();
    for _ in 0..200 {
        spans = received.lock().unwrap().clone();
        if named(&spans, "upstream.call").len() >= 2 && !named(&spans, "graphql.request").is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let request = named(&spans, "graphql.request");
    let execute = named(&spans, "graphql.execute");
    let upstream = named(&spans, "upstream.call");
    assert_eq!(
        (request.len(), execute.len(), upstream.len()),
        (1, 1, 2),
        "{spans:#?}"
    );
    assert!(spans.iter().all(|s| s["traceId"] == TRACE), "{spans:#?}");
    assert_eq!(request[0]["parentSpanId"], CALLER_SPAN);
    assert_eq!(execute[0]["parentSpanId"], request[0]["spanId"]);
    assert_eq!(
        attribute(request[0], "graphql.operation.name"),
        Some(&json!("Both"))
    );
    let service = &request[0]["resource"]["attributes"];
    assert!(service.to_string().contains("flowgate"), "{service}");

    let mut vendors: Vec<_> = upstream
        .iter()
        .map(|s| attribute(s, "vendor").unwrap().clone())
        .collect();
    vendors.sort_by_key(|v| v.to_string());
    assert_eq!(vendors, [json!("appmixer"), json!("appypie")]);
    // Each vendor saw the trace, as the child of the upstream span that called it.
    let seen = [sandbox.appypie.hooks.log(), sandbox.appmixer.hooks.log()].concat();
    assert_eq!(seen.len(), 2);
    for record in seen {
        let parent = record.traceparent.expect("traceparent sent upstream");
        let [_, trace, span, _]: [&str; 4] =
            parent.split('-').collect::<Vec<_>>().try_into().unwrap();
        assert_eq!(trace, TRACE);
        let caller = upstream
            .iter()
            .find(|s| s["spanId"] == span)
            .expect("an upstream span");
        assert!(
            caller["parentSpanId"] == execute[0]["spanId"]
                || caller["parentSpanId"] == request[0]["spanId"],
            "{caller}"
        );
        assert!(
            attribute(caller, "http.response.status_code").is_some(),
            "{caller}"
        );
    }
}

#[tokio::test]
async fn without_an_endpoint_the_callers_traceparent_is_passed_on() {
    let g = common::Gateway::start().await;
    let parent = format!("00-{TRACE}-{CALLER_SPAN}-01");
    reqwest::Client::new()
        .post(&g.url)
        .header("traceparent", &parent)
        .header("x-appypie-token", DEMO_USERS[0].appypie_token)
        .json(&json!({ "query": "{ viewer { appypie { email } } }" }))
        .send()
        .await
        .unwrap();
    let seen = g.sandbox.appypie.hooks.log();
    assert_eq!(
        seen.last().unwrap().traceparent.as_deref(),
        Some(parent.as_str())
    );
}
