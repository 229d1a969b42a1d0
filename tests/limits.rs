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
    let deep = "{ apps { edges { node { category { apps { edges { node { category { name } } } } } } } } }";
    let complex = format!(
        "{{ viewer {{ appmixer {{ {} }} }} }}",
        ["email username plan scope id"; 10].join(" ")
    );
    let aliases = "{ a: viewer { appmixer { email } } b: viewer { appmixer { email } } c: viewer { appmixer { email } } d: viewer { appmixer { email } } }";
    let roots = "{ viewer { appmixer { email } } flows { totalCount } connects { totalCount } categories { totalCount } automations { totalCount } }";
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
    let sdl = |g: &Gateway| reqwest::get(g.url.replace("/graphql", "/schema.graphql"));
    assert_eq!(sdl(&on).await.unwrap().status(), 200);
    assert_eq!(sdl(&off).await.unwrap().status(), 404);
    for g in [&on, &off] {
        let res = g.query(Who::Nobody, "{ viewe { id } }", json!({})).await;
        let message = res["errors"][0]["message"].as_str().unwrap().to_string();
        let suggested = message.contains("Did you mean");
        assert_eq!(suggested, std::ptr::eq(g, &on), "{message}");
    }
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
            "mutation($id: ID!) { updateFlow(input: { id: $id, name: \"x\" }) { flow { id } userErrors { field code } } }",
            json!({ "id": connect }),
        )
        .await;
    assert_eq!(
        res["data"]["updateFlow"]["userErrors"],
        json!([{ "field": ["input", "id"], "code": "INVALID" }]),
        "a connect id where a flow id belongs"
    );
    let res = g
        .query(
            Who::Both(0),
            "mutation($id: ID!) { deleteAutomation(input: { id: $id }) { deletedId userErrors { field code } } }",
            json!({ "id": "QXBwOmFwcHlwaWU6eA" }),
        )
        .await;
    assert_eq!(
        res["data"]["deleteAutomation"]["userErrors"],
        json!([{ "field": ["input", "id"], "code": "INVALID" }]),
        "an App id where an automation belongs"
    );
}

/// Every limit counts the operation as it executes: fragments expanded, inline or spread,
/// however often they are spread.
#[tokio::test]
async fn fragments_do_not_walk_around_the_limits() {
    let g = Gateway::start_with(|c| {
        c.limits.max_depth = 6;
        c.limits.max_complexity = 60;
        c.limits.max_aliases = 8;
        c.limits.max_root_fields = 4;
    })
    .await;
    let five_roots = "a: flows { totalCount } b: flows { totalCount } c: flows { totalCount } d: flows { totalCount } e: flows { totalCount }";
    let ten_aliases = (0..10)
        .map(|n| format!("e{n}: email"))
        .collect::<Vec<_>>()
        .join(" ");
    let cases = [
        // root fields inside an inline fragment on Query
        format!("{{ ... on Query {{ {five_roots} }} }}"),
        // root fields inside a named fragment
        format!("query {{ ...Roots }} fragment Roots on Query {{ {five_roots} }}"),
        // root fields split over two fragments
        "query { ...A ...B } fragment A on Query { a: flows { totalCount } b: flows { totalCount } c: flows { totalCount } } fragment B on Query { d: flows { totalCount } e: flows { totalCount } }".to_string(),
        // a fragment of 3 aliases spread 3 times (9 aliases)
        "{ viewer { appmixer { ...M } x: appmixer { ...M } y: appmixer { ...M } } } fragment M on AppmixerUser { a: email b: email c: email }".to_string(),
        // aliases behind nested spreads
        format!("{{ viewer {{ appmixer {{ ...Outer }} }} }} fragment Outer on AppmixerUser {{ ...Inner }} fragment Inner on AppmixerUser {{ {ten_aliases} }}"),
        // depth through fragments
        "{ apps { ...Deep } } fragment Deep on AppConnection { edges { node { category { apps { edges { node { category { name } } } } } } } }".to_string(),
        // complexity through a fragment spread many times
        format!(
            "{{ viewer {{ appmixer {{ ...U }} }} }} fragment U on AppmixerUser {{ {} }}",
            ["email username plan scope id"; 14].join(" ")
        ),
    ];
    for q in &cases {
        let res = g.query(Who::Both(0), q, json!({})).await;
        assert_eq!(codes(&res), vec!["QUERY_LIMIT_EXCEEDED"], "{q}: {res:#}");
    }
    assert_eq!(g.calls(), 0);
    let within =
        "query { ...R } fragment R on Query { flows { totalCount } connects { totalCount } }";
    let res = g.query(Who::Both(0), within, json!({})).await;
    assert!(res.get("errors").is_none(), "{res:#}");
}

/// A fragment spread inside fragments spread inside fragments is counted once per level, not
/// expanded: a document built to explode the count is refused at once, without a hang.
#[tokio::test]
async fn a_fragment_bomb_is_refused_quickly() {
    let g = Gateway::start().await;
    let mut doc = String::from("{ viewer { appmixer { ...F0 } } }");
    doc.push_str(" fragment F0 on AppmixerUser { a: email b: email }");
    for n in 1..40 {
        let p = n - 1;
        doc.push_str(&format!(
            " fragment F{n} on AppmixerUser {{ ...F{p} ...F{p} }}"
        ));
    }
    let doc = doc.replacen("...F0 }", "...F39 }", 1);
    let res = g.query(Who::Both(0), &doc, json!({})).await;
    assert_eq!(codes(&res), vec!["QUERY_LIMIT_EXCEEDED"], "{res:#}");
    assert_eq!(g.calls(), 0);
}
