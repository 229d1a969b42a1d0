//! Persisted queries: Apollo's automatic persisted queries (per caller, bounded) and trusted
//! documents from a manifest.

mod common;

use common::{codes, Gateway};
use flowgate::sandbox::DEMO_USERS;
use flowgate::server::sha256_hex;
use serde_json::{json, Value};

const QUERY: &str = "{ connects(first: 2) { edges { node { name } } } }";

/// POSTs `body` as user `n` with both tokens: the status and the response.
async fn send(g: &Gateway, n: usize, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(&g.url)
        .header("accept", "application/graphql-response+json")
        .header("x-appypie-token", DEMO_USERS[n].appypie_token)
        .header("x-appmixer-token", DEMO_USERS[n].appmixer_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

#[tokio::test]
async fn a_hash_runs_once_its_document_is_registered() {
    let g = Gateway::start().await;
    let hash = sha256_hex(QUERY);
    let (status, miss) = send(&g, 0, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(status, 404);
    assert_eq!(codes(&miss), ["PERSISTED_QUERY_NOT_FOUND"]);
    assert_eq!(miss["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(g.calls(), 0);

    let (status, registered) = send(
        &g,
        0,
        json!({ "query": QUERY, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(status, 200);
    let names = registered["data"]["connects"]["edges"].clone();
    assert_eq!(names.as_array().unwrap().len(), 2);

    let (status, hit) = send(&g, 0, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(status, 200);
    assert_eq!(hit["data"]["connects"]["edges"], names);

    let mut url = url::Url::parse(&g.url).unwrap();
    url.query_pairs_mut()
        .append_pair("extensions", &persisted(&hash).to_string());
    let over_get: Value = reqwest::Client::new()
        .get(url)
        .header("x-appypie-token", DEMO_USERS[0].appypie_token)
        .header("x-appmixer-token", DEMO_USERS[0].appmixer_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_get["data"]["connects"]["edges"], names);
}

#[tokio::test]
async fn registrations_are_per_caller_and_must_match_their_hash() {
    let g = Gateway::start().await;
    let hash = sha256_hex(QUERY);
    send(
        &g,
        0,
        json!({ "query": QUERY, "extensions": persisted(&hash) }),
    )
    .await;
    let (_, bob) = send(&g, 1, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(
        codes(&bob),
        ["PERSISTED_QUERY_NOT_FOUND"],
        "Alice's registration is hers"
    );

    let other = "{ __typename }";
    let wrong = sha256_hex("{ something else }");
    let before = g.calls();
    let (status, res) = send(
        &g,
        1,
        json!({ "query": other, "extensions": persisted(&wrong) }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(codes(&res), ["BAD_USER_INPUT"]);
    let (_, res) = send(&g, 1, json!({ "extensions": persisted(&wrong) })).await;
    assert_eq!(
        codes(&res),
        ["PERSISTED_QUERY_NOT_FOUND"],
        "a mismatch registers nothing"
    );
    let (_, res) = send(
        &g,
        1,
        json!({ "extensions": { "persistedQuery": { "version": 2, "sha256Hash": wrong } } }),
    )
    .await;
    assert_eq!(codes(&res), ["BAD_USER_INPUT"]);
    assert_eq!(g.calls(), before);
}

#[tokio::test]
async fn with_apq_off_a_hash_is_not_supported() {
    let g = Gateway::start_with(|c| c.persisted.apq = false).await;
    let hash = sha256_hex(QUERY);
    let (_, res) = send(
        &g,
        0,
        json!({ "query": QUERY, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(codes(&res), ["PERSISTED_QUERY_NOT_SUPPORTED"]);
    let (_, res) = send(&g, 0, json!({ "query": QUERY })).await;
    assert!(res.get("errors").is_none(), "{res}");
}

fn manifest(name: &str, body: Value) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("flowgate-trusted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body.to_string()).unwrap();
    path
}

#[tokio::test]
async fn trusted_documents_refuse_every_other_operation() {
    let hash = sha256_hex(QUERY);
    let apollo = manifest(
        "apollo.json",
        json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": hash, "name": "Two", "type": "query", "body": QUERY }]
        }),
    );
    let g = Gateway::start_with(|c| c.persisted.trusted_documents = Some(apollo)).await;
    let (status, res) = send(&g, 0, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        res["data"]["connects"]["edges"].as_array().unwrap().len(),
        2
    );
    let (_, res) = send(&g, 0, json!({ "query": QUERY })).await;
    assert!(
        res.get("errors").is_none(),
        "the manifest's exact text runs: {res}"
    );

    let before = g.calls();
    let other = "{ connects(first: 3) { edges { node { name } } } }";
    for body in [
        json!({ "query": other }),
        json!({ "query": other, "extensions": persisted(&sha256_hex(other)) }),
        json!({ "documentId": "unknown" }),
    ] {
        let (status, res) = send(&g, 0, body.clone()).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(codes(&res), ["DOCUMENT_NOT_TRUSTED"], "{body}");
    }
    assert_eq!(g.calls(), before);

    let relay = manifest(
        "relay.json",
        json!({ "q1": "{ viewer { appypie { email } } }" }),
    );
    let g = Gateway::start_with(|c| c.persisted.trusted_documents = Some(relay)).await;
    let (_, res) = send(&g, 0, json!({ "doc_id": "q1" })).await;
    assert_eq!(
        res["data"]["viewer"]["appypie"]["email"],
        DEMO_USERS[0].email
    );
    let (_, res) = send(&g, 0, json!({ "documentId": "q1" })).await;
    assert!(res.get("errors").is_none(), "{res}");
}

#[test]
fn a_broken_manifest_stops_the_gateway_from_starting() {
    let path = manifest("broken.json", json!({ "q1": 42 }));
    let config = flowgate::server::GatewayConfig {
        persisted: flowgate::server::PersistedConfig {
            trusted_documents: Some(path),
            ..Default::default()
        },
        ..Default::default()
    };
    let why = flowgate::server::router(config)
        .expect_err("refused")
        .to_string();
    assert!(why.contains("broken.json"), "{why}");
}
