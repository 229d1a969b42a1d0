//! Hostile and broken upstreams: huge, endless, slow and malformed bodies, redirects, error
//! pages and envelopes, endless pagination. Each fails alone with its code, the healthy vendor's
//! fields answer, nothing is buffered past the body limit, and every answer comes in bounded time.

mod common;

use common::{codes, Gateway, Who};
use flowgate::sandbox::{Fault, FaultRule};
use serde_json::{json, Value};
use std::time::Duration;

const VIEWER: &str = "{ viewer { appmixer { email } appypie { email } } }";

/// A gateway whose vendors read at most 64 KiB of a body and give up on a call after 2 s.
async fn gateway() -> Gateway {
    Gateway::start_with(|c| {
        for policy in [&mut c.appmixer_policy, &mut c.appypie_policy] {
            policy.max_body_bytes = 64 << 10;
            policy.timeout = Duration::from_secs(2);
            policy.max_retries = 0;
        }
        c.limits.deadline = Duration::from_secs(10);
    })
    .await
}

/// Runs `query` for Alice with `fault` on Appmixer's `path`: the response.
async fn with_appmixer_fault(g: &Gateway, path: &str, fault: Fault, query: &str) -> Value {
    g.sandbox
        .appmixer
        .hooks
        .add_fault(FaultRule::new(path, fault));
    let answer = g.query(Who::Both(0), query, json!({}));
    tokio::time::timeout(Duration::from_secs(30), answer)
        .await
        .expect("an answer in bounded time")
}

/// Appmixer's viewer failed with `code`; Appy Pie's answered.
fn only_appmixer_failed(res: &Value, code: &str) {
    assert_eq!(codes(res), [code], "{res:#}");
    assert_eq!(
        res["errors"][0]["extensions"]["provider"], "APPMIXER",
        "{res:#}"
    );
    assert!(res["data"]["viewer"]["appmixer"].is_null(), "{res:#}");
    assert_eq!(
        res["data"]["viewer"]["appypie"]["email"], "alice@example.com",
        "{res:#}"
    );
}

fn stream(chunk: &str, repeat: Option<u64>, pause_ms: u64) -> Fault {
    Fault::Stream {
        content_type: "application/json".into(),
        head: r#"{"username":""#.into(),
        chunk: chunk.into(),
        repeat,
        pause_ms,
        tail: r#""}"#.into(),
    }
}

fn canned(status: u16, content_type: &str, body: String) -> Fault {
    Fault::Canned {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        body,
    }
}

#[tokio::test]
async fn a_huge_body_is_cut_at_the_limit() {
    let g = gateway().await;
    let chunk = "x".repeat(1024);
    let res = with_appmixer_fault(&g, "/user", stream(&chunk, Some(1024), 0), VIEWER).await;
    only_appmixer_failed(&res, "INVALID_UPSTREAM_RESPONSE");
}

#[tokio::test]
async fn a_body_that_never_ends_is_cut_at_the_limit() {
    let g = gateway().await;
    let res = with_appmixer_fault(&g, "/user", stream(&"y".repeat(4096), None, 0), VIEWER).await;
    only_appmixer_failed(&res, "INVALID_UPSTREAM_RESPONSE");
}

#[tokio::test]
async fn a_slow_drip_times_out() {
    let g = gateway().await;
    let res = with_appmixer_fault(&g, "/user", stream("z", None, 200), VIEWER).await;
    only_appmixer_failed(&res, "UPSTREAM_TIMEOUT");
}

#[tokio::test]
async fn html_where_json_belongs_is_an_invalid_response() {
    let g = gateway().await;
    let page = "<html><body>Welcome to our CDN</body></html>".to_string();
    let res = with_appmixer_fault(&g, "/user", canned(200, "text/html", page), VIEWER).await;
    only_appmixer_failed(&res, "INVALID_UPSTREAM_RESPONSE");
}

#[tokio::test]
async fn an_html_error_page_keeps_its_status_meaning() {
    let g = gateway().await;
    let page = "<html><h1>502 Bad Gateway</h1></html>".to_string();
    let res = with_appmixer_fault(&g, "/user", canned(502, "text/html", page), VIEWER).await;
    only_appmixer_failed(&res, "UPSTREAM_ERROR");
    assert_eq!(res["errors"][0]["extensions"]["upstreamStatus"], 502);
    assert!(
        !res.to_string().contains("Bad Gateway</h1>"),
        "no raw upstream body"
    );
}

#[tokio::test]
async fn a_json_bomb_is_refused_without_a_stack_overflow() {
    let g = gateway().await;
    let depth = 30_000;
    let bomb = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let res = with_appmixer_fault(&g, "/user", canned(200, "application/json", bomb), VIEWER).await;
    only_appmixer_failed(&res, "INVALID_UPSTREAM_RESPONSE");
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let g = gateway().await;
    let redirect = Fault::Canned {
        status: 302,
        headers: vec![("location".into(), "http://127.0.0.2:9/steal".into())],
        body: String::new(),
    };
    let res = with_appmixer_fault(&g, "/user", redirect, VIEWER).await;
    only_appmixer_failed(&res, "INVALID_UPSTREAM_RESPONSE");
}

#[tokio::test]
async fn a_200_with_an_error_envelope_is_an_error() {
    let g = gateway().await;
    let envelope = r#"{"status":"0","success":false,"message":"Something went wrong"}"#;
    let fault = canned(200, "application/json", envelope.into());
    g.sandbox
        .appypie
        .hooks
        .add_fault(FaultRule::new("/api/v2/integrations/me", fault));
    let res = g.query(Who::Both(0), VIEWER, json!({})).await;
    assert_eq!(
        res["errors"][0]["extensions"]["provider"], "APPYPIE",
        "{res:#}"
    );
    assert!(
        !codes(&res).is_empty() && codes(&res)[0] != "INTERNAL",
        "{res:#}"
    );
    assert!(res["data"]["viewer"]["appypie"].is_null());
    assert_eq!(
        res["data"]["viewer"]["appmixer"]["email"],
        "alice@example.com"
    );
}

/// Alice's connect list as the sandbox serves it: one connect's JSON.
async fn one_connect(g: &Gateway) -> Value {
    let url = format!("{}/connect/list?limit=1", g.sandbox.appypie_base_url());
    let res: Value = reqwest::Client::new()
        .get(url)
        .header(
            "ACCESSTOKEN",
            flowgate::sandbox::DEMO_USERS[0].appypie_token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["data"][0].clone()
}

const CONNECTS: &str = "{ connects(first: 1) { totalCount } viewer { appmixer { email } } }";

#[tokio::test]
async fn pages_without_end_stop_at_the_page_cap() {
    let g = gateway().await;
    let item = one_connect(&g).await;
    let body = format!(
        r#"{{"success":true,"page":{{page}},"limit":1,"total":1000000000,"data":[{item}]}}"#
    );
    let hooks = &g.sandbox.appypie.hooks;
    hooks.reset();
    hooks.add_fault(FaultRule::new(
        "/api/v2/integrations/connect/list",
        canned(200, "application/json", body),
    ));
    let res = g.query(Who::Both(0), CONNECTS, json!({})).await;
    assert_eq!(codes(&res), ["INVALID_UPSTREAM_RESPONSE"], "{res:#}");
    assert_eq!(
        res["data"]["viewer"]["appmixer"]["email"],
        "alice@example.com"
    );
    assert_eq!(
        hooks.count("GET /connect/list"),
        u64::from(flowgate::upstream::MAX_PAGES)
    );
}

#[tokio::test]
async fn a_page_that_does_not_advance_stops_the_walk() {
    let g = gateway().await;
    let item = one_connect(&g).await;
    let body = format!(r#"{{"success":true,"page":1,"limit":1,"total":500,"data":[{item}]}}"#);
    let hooks = &g.sandbox.appypie.hooks;
    hooks.reset();
    hooks.add_fault(FaultRule::new(
        "/api/v2/integrations/connect/list",
        canned(200, "application/json", body),
    ));
    let res = g.query(Who::Both(0), CONNECTS, json!({})).await;
    assert_eq!(codes(&res), ["INVALID_UPSTREAM_RESPONSE"], "{res:#}");
    assert_eq!(hooks.count("GET /connect/list"), 2);
}

#[tokio::test]
async fn the_same_flow_page_twice_stops_the_walk() {
    let g = Gateway::start().await;
    let url = format!("{}/flows?limit=1", g.sandbox.appmixer_base_url());
    let flows: Value = reqwest::Client::new()
        .get(url)
        .bearer_auth(flowgate::sandbox::DEMO_USERS[0].appmixer_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page: Vec<Value> = (0..100)
        .map(|n| {
            let mut flow = flows[0].clone();
            flow["flowId"] = json!(format!("flow-{n}"));
            flow
        })
        .collect();
    let hooks = &g.sandbox.appmixer.hooks;
    let fault = canned(200, "application/json", Value::Array(page).to_string());
    hooks.reset();
    hooks.add_fault(FaultRule::new("/flows", fault).method("GET"));
    let query =
        "{ automations(filter: { provider: APPMIXER }, first: 1) { totalCount } viewer { appypie { email } } }";
    let res = g.query(Who::Both(0), query, json!({})).await;
    assert_eq!(codes(&res), ["INVALID_UPSTREAM_RESPONSE"], "{res:#}");
    assert_eq!(
        res["data"]["viewer"]["appypie"]["email"],
        "alice@example.com"
    );
    assert_eq!(hooks.count("GET /flows"), 2, "{res:#}");
}

#[tokio::test]
async fn a_vendor_error_echoing_the_token_or_a_url_is_scrubbed() {
    let g = gateway().await;
    let token = flowgate::sandbox::DEMO_USERS[0].appmixer_token;
    let message = format!(
        "token {token} refused at https://api.appmixer.example/user?token={token} see /user?key=k1"
    );
    let body = json!({ "statusCode": 400, "error": "Bad Request", "message": message });
    let fault = canned(400, "application/json", body.to_string());
    let res = with_appmixer_fault(&g, "/user", fault, VIEWER).await;
    only_appmixer_failed(&res, "BAD_USER_INPUT");
    let shown = res["errors"][0]["message"].as_str().unwrap();
    assert!(shown.contains("token [redacted] refused"), "{shown}");
    for leak in [token, "https://", "appmixer.example", "?token", "key=k1"] {
        assert!(!shown.contains(leak), "{leak} in {shown}");
    }
}
