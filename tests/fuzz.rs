//! Random and mutated queries and bodies: every answer is well-formed GraphQL JSON whose errors
//! carry codes from the closed list, and the gateway keeps serving.

mod common;

use common::Gateway;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

const CODES: [&str; 11] = [
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "RATE_LIMITED",
    "UPSTREAM_ERROR",
    "UPSTREAM_TIMEOUT",
    "UPSTREAM_UNAVAILABLE",
    "INVALID_UPSTREAM_RESPONSE",
    "QUERY_LIMIT_EXCEEDED",
    "INTERNAL",
];

const SEEDS: [&str; 4] = [
    "{ viewer { appmixer { email } appypie { email } } }",
    "{ connects(first: 3) { edges { node { name trigger { name } triggerApp { name } } } } }",
    "query($id: ID!) { node(id: $id) { id ... on Flow { name runs { status } } } }",
    "mutation { renameAutomation(input: { id: \"RmxvdzphcHBtaXhlcjp4\", name: \"n\" }) { automation { name } } }",
];

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        0..SEEDS.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
    )
        .prop_map(|(seed, edits)| {
            let mut q: Vec<u8> = SEEDS[seed].as_bytes().to_vec();
            for (at, byte, op) in edits {
                let i = at.index(q.len() + 1);
                match op {
                    0 if i < q.len() => {
                        q.remove(i);
                    }
                    1 => q.insert(i.min(q.len()), byte),
                    _ if i < q.len() => q[i] = byte,
                    _ => {}
                }
            }
            let query = String::from_utf8_lossy(&q).into_owned();
            serde_json::to_vec(
                &json!({ "query": query, "variables": { "id": "RmxvdzphcHBtaXhlcjp4" } }),
            )
            .unwrap()
        })
}

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..120),
        "\\PC{0,60}".prop_map(|q| serde_json::to_vec(&json!({ "query": q })).unwrap()),
        mutated(),
        mutated(),
    ]
}

fn well_formed(status: u16, body: &Value) -> Result<(), String> {
    if ![200, 400, 413].contains(&status) {
        return Err(format!("status {status}"));
    }
    if body.get("data").is_none() && body.get("errors").is_none() {
        return Err(format!("neither data nor errors: {body}"));
    }
    for err in body["errors"].as_array().into_iter().flatten() {
        let code = err["extensions"]["code"].as_str().unwrap_or("");
        if !CODES.contains(&code) || err["message"].as_str().is_none_or(str::is_empty) {
            return Err(format!("error outside the closed list: {err}"));
        }
    }
    Ok(())
}

#[test]
fn random_and_mutated_requests_get_well_formed_answers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let g = rt.block_on(Gateway::start());
    let http = reqwest::Client::new();
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&bodies(), |body| {
            let (status, text) = rt.block_on(async {
                let res = http
                    .post(&g.url)
                    .header("content-type", "application/json")
                    .header("X-Appmixer-Token", "appmixer-demo-alice")
                    .header("X-Appypie-Token", "appypie-demo-alice")
                    .body(body)
                    .send()
                    .await
                    .expect("the gateway is still up");
                (res.status().as_u16(), res.text().await.unwrap())
            });
            let parsed: Value = serde_json::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {text}")))?;
            well_formed(status, &parsed).map_err(TestCaseError::fail)
        })
        .unwrap();
    let alive = rt.block_on(async {
        reqwest::get(g.url.replace("/graphql", "/healthz"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(alive, 200);
}
