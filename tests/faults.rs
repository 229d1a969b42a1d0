//! Each injected fault kind, seen by the clients as the right typed error.

mod common;

use common::Harness;
use flowgate::sandbox::{Fault, FaultRule};
use flowgate::upstream::appmixer::model::FlowQuery;
use flowgate::upstream::appypie::model::PageRequest;
use flowgate::upstream::{ErrorKind, UpstreamError};
use std::time::Duration;

async fn appypie_error(h: &Harness, fault: Fault) -> UpstreamError {
    h.sandbox
        .appypie
        .hooks
        .add_fault(FaultRule::new("/api/v2/integrations/connect/list", fault).times(1));
    let err = h
        .pie(0)
        .connects(None, PageRequest::default())
        .await
        .unwrap_err();
    h.pie(0)
        .connects(None, PageRequest::default())
        .await
        .expect("a fault limited to one request is gone");
    err
}

async fn appmixer_error(h: &Harness, fault: Fault) -> UpstreamError {
    h.sandbox
        .appmixer
        .hooks
        .add_fault(FaultRule::new("/flows", fault).method("GET").times(1));
    let err = h.mixer(0).flows(&FlowQuery::default()).await.unwrap_err();
    h.mixer(0)
        .flows(&FlowQuery::default())
        .await
        .expect("a fault limited to one request is gone");
    err
}

#[tokio::test]
async fn error_statuses_carry_status_and_vendor_body() {
    let h = Harness::start().await;
    for (status, kind) in [
        (500, ErrorKind::ServerError),
        (503, ErrorKind::ServerError),
        (403, ErrorKind::Forbidden),
        (404, ErrorKind::NotFound),
        (400, ErrorKind::BadRequest),
    ] {
        let err = appypie_error(&h, Fault::Status { status }).await;
        assert_eq!(
            (err.kind, err.status),
            (kind, Some(status)),
            "Appy Pie {status}"
        );
        assert_eq!(err.vendor_message.as_deref(), Some("Injected failure"));
        let err = appmixer_error(&h, Fault::Status { status }).await;
        assert_eq!(
            (err.kind, err.status),
            (kind, Some(status)),
            "Appmixer {status}"
        );
        assert_eq!(err.vendor_message.as_deref(), Some("Injected failure"));
    }
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let h = Harness::start().await;
    for err in [
        appypie_error(&h, Fault::RateLimit { retry_after: 7 }).await,
        appmixer_error(&h, Fault::RateLimit { retry_after: 7 }).await,
    ] {
        assert_eq!((err.kind, err.status), (ErrorKind::RateLimited, Some(429)));
        assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
    }
}

#[tokio::test]
async fn malformed_json_is_an_invalid_response() {
    let h = Harness::start().await;
    for err in [
        appypie_error(&h, Fault::MalformedJson).await,
        appmixer_error(&h, Fault::MalformedJson).await,
    ] {
        assert_eq!(
            (err.kind, err.status),
            (ErrorKind::InvalidResponse, Some(200))
        );
    }
}

#[tokio::test]
async fn truncated_body_and_dropped_connection() {
    let h = Harness::start().await;
    for err in [
        appypie_error(&h, Fault::TruncatedBody).await,
        appmixer_error(&h, Fault::TruncatedBody).await,
    ] {
        assert_eq!(err.kind, ErrorKind::TruncatedBody);
    }
    for err in [
        appypie_error(&h, Fault::DropConnection).await,
        appmixer_error(&h, Fault::DropConnection).await,
    ] {
        assert_eq!(err.kind, ErrorKind::Disconnected);
    }
}

#[tokio::test]
async fn latency_past_the_client_timeout() {
    let h = Harness::with_timeout(Duration::from_millis(200)).await;
    for err in [
        appypie_error(&h, Fault::Latency { ms: 2_000 }).await,
        appmixer_error(&h, Fault::Latency { ms: 2_000 }).await,
    ] {
        assert_eq!(err.kind, ErrorKind::Timeout);
    }
}

#[tokio::test]
async fn latency_then_answer_and_method_matching() {
    let h = Harness::start().await;
    let hooks = &h.sandbox.appmixer.hooks;
    hooks.add_fault(FaultRule::new("/flows*", Fault::Latency { ms: 50 }).times(1));
    assert_eq!(
        h.mixer(0).flows(&FlowQuery::default()).await.unwrap().len(),
        40
    );
    hooks.add_fault(FaultRule::new("/flows*", Fault::Status { status: 500 }).method("POST"));
    h.mixer(0)
        .flow_count()
        .await
        .expect("GET is not matched by a POST rule");
    assert_eq!(hooks.faults().len(), 1);
    hooks.clear_faults();
    assert!(hooks.faults().is_empty());
}

#[tokio::test]
async fn faults_over_the_admin_route() {
    let h = Harness::start().await;
    let http = reqwest::Client::new();
    let admin = format!("{}/__sandbox/faults", h.sandbox.appmixer_base_url());
    let rule = serde_json::json!({ "path": "/user", "fault": { "kind": "rate_limit", "retry_after": 3 }, "times": 2 });
    assert_eq!(
        http.post(&admin).json(&rule).send().await.unwrap().status(),
        201
    );
    let listed: serde_json::Value = http.get(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["fault"]["kind"], "rate_limit");
    for _ in 0..2 {
        assert_eq!(
            h.mixer(0).current_user().await.unwrap_err().kind,
            ErrorKind::RateLimited
        );
    }
    h.mixer(0).current_user().await.unwrap();

    let bad = http
        .post(&admin)
        .body("{\"path\": 3}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    http.post(&admin).json(&rule).send().await.unwrap();
    assert_eq!(http.delete(&admin).send().await.unwrap().status(), 204);
    h.mixer(0).current_user().await.unwrap();
}
