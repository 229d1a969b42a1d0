//! Query limits and bad input: a clear error, and no upstream call.

mod common;

use common::{codes, Gateway, Who};
use serde_json::{json, Value};

async fn post_raw(g: &Gateway, body: Vec<u8>) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(&g.url)
        .header("content-type", "application/json")
        .header("X-Appmixer-Token", "appmixer-demo-alice")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (
        status,
        res.json()
            .await
            .expect("every answer is GraphQL-shaped JSON"),
    )
}

#[tokio::test]
async fn limits_refuse_before_any_upstream_call() {
    let g = Gateway::start_with(|c| {
        c.limits.max_depth = 6;
        c.limits.max_complexity = 40;
        c.limits.max_aliases = 3;
        c.limits.max_root_fields = 4;
    })
    .await;
    let deep = "{ apps { edges { node { category { apps { category { name } } } } } } }";
    let complex = format!(
        "{{ viewer {{ appmixer {{ {} }} }} }}",
        ["email username plan scope id"; 10].join(" ")
    );
    let aliases = "{ a: viewer { appmixer { email } } b: viewer { appmixer { email } } c: viewer { appmixer { email } } d: viewer { appmixer { email } } }";
    let roots = "{ viewer { appmixer { email } } flows { totalCount } connects { totalCount } categories { name } automations { totalCount } }";
    for q in [deep, complex.as_str(), aliases, roots] {
        let res = g.query(Who::Both(0), q, json!({})).await;
        assert_eq!(codes(&res), vec!["QUERY_LIMIT_EXCEEDED"], "{q}: {res:#}");
    }
    assert_eq!(g.calls(), 0);
    let res = g
        .query(Who::Both(0), "{ flows { totalCount } }", json!({}))
        .await;
    assert!(res.get("errors").is_none());
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let g = Gateway::start_with(|c| c.limits.max_body_bytes = 1024).await;
    let body = serde_json::to_vec(
        &json!({ "query": "{ flows { totalCount } }", "pad": "x".repeat(4096) }),
    )
    .unwrap();
    let (status, res) = post_raw(&g, body).await;
    assert_eq!(status, 413);
    assert_eq!(codes(&res), vec!["QUERY_LIMIT_EXCEEDED"]);
    assert_eq!(g.calls(), 0);
}

#[tokio::test]
async fn introspection_can_be_switched_off() {
    let on = Gateway::start().await;
    let res = on
        .query(
            Who::Nobody,
            "{ __schema { queryType { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(res["data"]["__schema"]["queryType"]["name"], "Query");
    let off = Gateway::start_with(|c| c.limits.introspection = false).await;
    let res = off
        .query(
            Who::Nobody,
            "{ __schema { queryType { name } } }",
            json!({}),
        )
        .await;
    assert!(
        res["data"]["__schema"].is_null() || res.get("errors").is_some(),
        "{res:#}"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_no_upstream_call() {
    let g = Gateway::start().await;
    let cases: Vec<Vec<u8>> = vec![
        b"{\"query\": ".to_vec(),
        b"not json at all".to_vec(),
        b"{\"query\": \"{ viewer { \"}".to_vec(),
        b"{\"query\": \"{ nope }\"}".to_vec(),
        b"{\"query\": \"query($n: Int!) { flows(first: $n) { totalCount } }\", \"variables\": {\"n\": \"ten\"}}".to_vec(),
        b"{\"query\": \"{ node(id: \\\"Zm9yZ2Vk\\\") { id } }\"}".to_vec(),
        b"{\"query\": \"{ flows(after: \\\"x\\\") { totalCount } }\"}".to_vec(),
        b"{\"query\": \"{ viewer { appmixer { email } } }\xff\xfe\"}".to_vec(),
        vec![0xff, 0x00, 0x7b],
        b"[{\"query\": \"{ flows { totalCount } }\"}, {\"query\": \"{ flows { totalCount } }\"}]".to_vec(),
    ];
    for body in cases {
        let (status, res) = post_raw(&g, body.clone()).await;
        let c = codes(&res);
        assert!(
            !c.is_empty() && c.iter().all(|c| c == "BAD_USER_INPUT"),
            "{}: {status} {res:#}",
            String::from_utf8_lossy(&body)
        );
        assert!(res["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(g.calls(), 0);

    let connect = g.first_connect_id().await;
    let res = g
        .query(
            Who::Both(0),
            "mutation($id: ID!) { updateFlow(input: { id: $id, name: \"x\" }) { flow { id } } }",
            json!({ "id": connect }),
        )
        .await;
    assert_eq!(
        codes(&res),
        vec!["BAD_USER_INPUT"],
        "a connect id where a flow id belongs"
    );
    let res = g
        .query(
            Who::Both(0),
            "mutation($id: ID!) { deleteAutomation(input: { id: $id }) { deletedId } }",
            json!({ "id": "QXBwOmFwcHlwaWU6eA" }),
        )
        .await;
    assert_eq!(
        codes(&res),
        vec!["BAD_USER_INPUT"],
        "an App id where an automation belongs"
    );
}
