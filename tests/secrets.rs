//! No token, and no raw upstream body, in logs or error messages: a run at debug level with
//! known tokens, captured and searched.

mod common;

use common::{Gateway, Who};
use flowgate::sandbox::{Fault, FaultRule, DEMO_USERS};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn debug_logs_and_errors_hold_no_token() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let g = Gateway::start().await;
    let mut answers = String::new();
    let q = "{ viewer { appmixer { email } appypie { email } } flows(first: 5) { edges { node { name runs { status } } } } connects(first: 5) { edges { node { name trigger { name } } } } }";
    for who in [Who::Both(0), Who::Both(1), Who::AppyPie(2)] {
        answers.push_str(&g.query(who, q, json!({})).await.to_string());
    }
    g.sandbox
        .appypie
        .hooks
        .add_fault(FaultRule::new("*/connect/list", Fault::MalformedJson));
    g.sandbox
        .appmixer
        .hooks
        .add_fault(FaultRule::new("/flows", Fault::Status { status: 400 }));
    answers.push_str(&g.query(Who::Both(0), q, json!({})).await.to_string());
    let bad_token = "secret-token-that-must-not-leak";
    let res = reqwest::Client::new()
        .post(&g.url)
        .header("X-Appmixer-Token", bad_token)
        .json(&json!({ "query": "{ viewer { appmixer { email } } }" }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    answers.push_str(&res);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("graphql request"), "the run was logged");
    let secrets: Vec<&str> = DEMO_USERS
        .iter()
        .flat_map(|u| [u.appmixer_token, u.appypie_token])
        .chain([bad_token])
        .collect();
    for secret in secrets {
        assert!(!logs.contains(secret), "a token is in the logs");
        assert!(!answers.contains(secret), "a token is in a response");
    }
    for raw in ["\"oops\"", "statusCode"] {
        assert!(
            !logs.contains(raw),
            "a raw upstream body is in the logs: {raw}"
        );
        assert!(
            !answers.contains(raw),
            "a raw upstream body is in a response: {raw}"
        );
    }
}
