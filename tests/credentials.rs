//! Each caller's own credentials are forwarded; missing ones fail only their vendor's fields.

mod common;

use common::{codes, Gateway, Who};
use flowgate::sandbox::DEMO_USERS;
use flowgate::upstream::appmixer::model::FlowQuery;
use flowgate::upstream::appypie::model::PageRequest;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const BOTH: &str = "{ viewer { appmixer { email } appypie { email } } flows { totalCount } connects { totalCount } automations { totalCount } }";

#[tokio::test]
async fn one_credential_answers_its_vendor_and_flags_the_other() {
    let g = Gateway::start().await;
    let res = g.query(Who::AppyPie(1), BOTH, json!({})).await;
    assert_eq!(
        res["data"]["viewer"]["appypie"]["email"],
        DEMO_USERS[1].email
    );
    assert_eq!(res["data"]["connects"]["totalCount"], 40);
    assert_eq!(
        res["data"]["automations"]["totalCount"], 40,
        "the Appy Pie half of the mixed list"
    );
    assert_eq!(
        res["data"]["viewer"].get("appmixer"),
        Some(&json!(null)),
        "failed fields are present as null"
    );
    assert_eq!(res["data"].get("flows"), Some(&json!(null)));
    assert_eq!(codes(&res), vec!["UNAUTHENTICATED"; 3]);
    assert!(res["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["extensions"]["provider"] == "APPMIXER"));
    assert_eq!(
        g.sandbox.appmixer.hooks.total(),
        0,
        "no Appmixer call without its credential"
    );

    let res = g.query(Who::Appmixer(2), BOTH, json!({})).await;
    assert_eq!(
        res["data"]["viewer"]["appmixer"]["email"],
        DEMO_USERS[2].email
    );
    assert_eq!(res["data"]["flows"]["totalCount"], 40);
    assert!(res["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["extensions"]["provider"] == "APPYPIE"));

    let res = g.query(Who::Nobody, BOTH, json!({})).await;
    assert_eq!(
        codes(&res).len(),
        6,
        "two viewers, flows, connects, and both halves of automations"
    );
    assert!(codes(&res).iter().all(|c| c == "UNAUTHENTICATED"));
}

#[tokio::test]
async fn upstream_rejection_of_a_token_is_unauthenticated() {
    let g = Gateway::start().await;
    let res: serde_json::Value = reqwest::Client::new()
        .post(&g.url)
        .header("X-Appmixer-Token", "Bearer not-a-real-token")
        .json(&json!({ "query": "{ viewer { appmixer { email } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(codes(&res), vec!["UNAUTHENTICATED"]);
    assert_eq!(res["errors"][0]["extensions"]["upstreamStatus"], 401);
    assert!(!res.to_string().contains("not-a-real-token"));
}

#[tokio::test]
async fn tokens_are_forwarded_per_caller() {
    let g = Gateway::start().await;
    g.query(
        Who::Both(1),
        "{ flows { totalCount } connects { totalCount } }",
        json!({}),
    )
    .await;
    let log = g.sandbox.appmixer.hooks.log();
    let pie = g.sandbox.appypie.hooks.log();
    let bob = flowgate::sandbox::support::fingerprint(DEMO_USERS[1].appmixer_token);
    assert!(log
        .iter()
        .all(|r| r.credential.as_deref() == Some(bob.as_str())));
    let bob_pie = flowgate::sandbox::support::fingerprint(DEMO_USERS[1].appypie_token);
    assert!(pie
        .iter()
        .all(|r| r.credential.as_deref() == Some(bob_pie.as_str())));
}

#[tokio::test]
async fn concurrent_callers_see_only_their_own_data() {
    let g = Gateway::start().await;
    let q = "{ viewer { appmixer { email } appypie { email } } flows(first: 100) { edges { node { nativeId } } } connects(first: 100) { edges { node { nativeId } } } }";
    let mut own = Vec::new();
    for n in 0..3 {
        own.push(g.query(Who::Both(n), q, json!({})).await["data"].clone());
    }
    let runs = (0..30).map(|i| {
        let g = &g;
        async move { (i % 3, g.query(Who::Both(i % 3), q, json!({})).await) }
    });
    for (n, res) in futures_util::future::join_all(runs).await {
        assert!(res.get("errors").is_none());
        assert_eq!(res["data"], own[n], "caller {n} got someone else's data");
        assert_eq!(
            res["data"]["viewer"]["appmixer"]["email"],
            DEMO_USERS[n].email
        );
    }
}

#[tokio::test]
async fn each_mutation_is_sent_once() {
    let g = Gateway::start().await;
    let id = g.first_connect_id().await;
    g.sandbox.reset_hooks();
    g.query(Who::Both(0), "mutation($id: ID!) { renameAutomation(input: { id: $id, name: \"x\" }) { automation { name } } }", json!({ "id": id })).await;
    assert_eq!(g.sandbox.appypie.hooks.count("PUT /connect/{id}/name"), 1);
    g.sandbox
        .appypie
        .hooks
        .add_fault(flowgate::sandbox::FaultRule::new(
            "*/name",
            flowgate::sandbox::Fault::Status { status: 503 },
        ));
    let res = g.query(Who::Both(0), "mutation($id: ID!) { renameAutomation(input: { id: $id, name: \"y\" }) { automation { name } } }", json!({ "id": id })).await;
    assert_eq!(codes(&res), vec!["UPSTREAM_ERROR"]);
    assert_eq!(res["errors"][0]["extensions"]["upstreamStatus"], 503);
    assert_eq!(
        g.sandbox.appypie.hooks.count("PUT /connect/{id}/name"),
        2,
        "a failed write is not retried"
    );
}

/// Demo user `n`'s automations (flow and connect ids) and Appmixer accounts, as the sandbox
/// holds them: the truth each answer is checked against, not the gateway's own earlier answer.
async fn held_by_sandbox(g: &Gateway, n: usize) -> (BTreeSet<String>, BTreeSet<String>) {
    let (pie, mixer) = g.sessions(n);
    let connects = pie.connects(None, PageRequest::new(1, 100)).await.unwrap();
    let query = FlowQuery {
        limit: Some(100),
        ..FlowQuery::default()
    };
    let flows = mixer.flows(&query).await.unwrap();
    let accounts = mixer.accounts(&[]).await.unwrap();
    let automations = connects
        .items
        .into_iter()
        .map(|c| c.id.clone())
        .chain(flows.into_iter().map(|f| f.flow_id))
        .collect();
    (
        automations,
        accounts.iter().map(|a| a.account_id.clone()).collect(),
    )
}

fn native_ids(list: &Value) -> BTreeSet<String> {
    let items = match list.get("edges") {
        Some(_) => common::edges(list),
        None => list.as_array().cloned().unwrap_or_default(),
    };
    items
        .iter()
        .map(|n| n["nativeId"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_concurrent_requests_from_three_tenants_stay_isolated() {
    let g = std::sync::Arc::new(Gateway::start().await);
    let q = "{ viewer { appmixer { email } appypie { email } } accounts(filter: { provider: APPMIXER }, first: 100) { edges { node { nativeId } } }
        automations(first: 100) { edges { node { nativeId } } } }";
    let mut held = Vec::new();
    for n in 0..3 {
        held.push(held_by_sandbox(&g, n).await);
    }
    for (a, b) in [(0, 1), (1, 2), (0, 2)] {
        assert!(held[a].0.is_disjoint(&held[b].0) && held[a].1.is_disjoint(&held[b].1));
    }
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let g = g.clone();
            tokio::spawn(async move { (i % 3, g.query(Who::Both(i % 3), q, json!({})).await) })
        })
        .collect();
    for task in tasks {
        let (n, res) = task.await.unwrap();
        assert!(res.get("errors").is_none(), "{res:#}");
        let data = &res["data"];
        assert_eq!(data["viewer"]["appmixer"]["email"], DEMO_USERS[n].email);
        assert_eq!(data["viewer"]["appypie"]["email"], DEMO_USERS[n].email);
        assert_eq!(
            native_ids(&data["automations"]),
            held[n].0,
            "caller {n}'s automations"
        );
        assert_eq!(
            native_ids(&data["accounts"]),
            held[n].1,
            "caller {n}'s accounts"
        );
    }
}
