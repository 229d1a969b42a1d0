//! Upstream call counts of nested queries, read from the sandbox's counters: a list of N parents
//! with child relationships costs a fixed number of calls, never one per parent.

mod common;

use common::{edges, Gateway, Who};
use flowgate::upstream::appmixer::model::FlowQuery;
use flowgate::upstream::appypie::model::PageRequest;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const CONNECTS: &str = "{ connects(first: 100) { edges { node { name
    triggerApp { name } actionApp { name } trigger { name } action { name }
    triggerAccount { name } actionAccount { name } } } } }";

#[tokio::test]
async fn connects_with_apps_triggers_actions_and_accounts() {
    let g = Gateway::start().await;
    let (pie, _) = g.alice_sessions();
    let connects = pie
        .connects(None, PageRequest::new(1, 100))
        .await
        .unwrap()
        .items;
    let trigger_apps: BTreeSet<_> = connects.iter().map(|c| c.trigger_app_id.clone()).collect();
    let action_apps: BTreeSet<_> = connects.iter().map(|c| c.action_app_id.clone()).collect();
    let any_app: BTreeSet<_> = trigger_apps.union(&action_apps).cloned().collect();
    g.sandbox.reset_hooks();

    let data = g.ok(CONNECTS, json!({})).await;
    let edges = data["connects"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 40);
    assert!(edges
        .iter()
        .all(|e| e["node"]["trigger"]["name"].is_string()
            && e["node"]["actionAccount"]["name"].is_string()));

    let hooks = &g.sandbox.appypie.hooks;
    assert_eq!(hooks.count("GET /connect/list"), 1);
    assert_eq!(hooks.count("GET /apps"), 1);
    assert_eq!(
        hooks.count("GET /app/trigger/list/{app_id}"),
        trigger_apps.len() as u64
    );
    assert_eq!(
        hooks.count("GET /app/action/list/{app_id}"),
        action_apps.len() as u64
    );
    assert_eq!(
        hooks.count("GET /user-connected-accounts"),
        any_app.len() as u64
    );
    let expected = 2 + trigger_apps.len() + action_apps.len() + any_app.len();
    assert_eq!(g.calls(), expected as u64);
    assert!(g.calls() < 1 + 6 * 40);
    assert_eq!(g.sandbox.appmixer.hooks.total(), 0);
}

/// Per-route counts of the Appy Pie sandbox, with only the user-data routes kept.
fn user_data(g: &Gateway) -> BTreeMap<String, u64> {
    let mut counts = g.sandbox.appypie.hooks.counts();
    counts
        .retain(|route, _| route == "GET /connect/list" || route == "GET /user-connected-accounts");
    counts
}

#[tokio::test]
async fn repeated_references_are_fetched_once() {
    let g = Gateway::start_with(|c| c.sharing.catalogue_ttl = Duration::ZERO).await;
    g.ok(CONNECTS, json!({})).await;
    let once = g.calls();
    g.sandbox.reset_hooks();
    let twice = format!(
        "{{ a: {} b: {} }}",
        &CONNECTS[1..CONNECTS.len() - 1],
        &CONNECTS[1..CONNECTS.len() - 1]
    );
    g.ok(&twice, json!({})).await;
    assert_eq!(
        g.calls(),
        once,
        "the same look-ups in one request cost nothing more"
    );
    g.ok(CONNECTS, json!({})).await;
    assert_eq!(
        g.calls(),
        2 * once,
        "with the cache off, nothing outlives a request"
    );
}

#[tokio::test]
async fn the_catalogue_is_cached_and_user_data_is_not() {
    let g = Gateway::start().await;
    g.ok(CONNECTS, json!({})).await;
    let cold = g.sandbox.appypie.hooks.counts();
    let user = user_data(&g);
    assert!(
        cold.len() > user.len(),
        "the cold query reads the catalogue: {cold:?}"
    );
    g.sandbox.reset_hooks();

    g.ok(CONNECTS, json!({})).await;
    assert_eq!(
        g.sandbox.appypie.hooks.counts(),
        user,
        "warm: only the connect list and accounts again, no catalogue call"
    );
    g.sandbox.reset_hooks();
    g.query(Who::Both(1), CONNECTS, json!({})).await;
    let bob = g.sandbox.appypie.hooks.counts();
    assert!(
        bob.contains_key("GET /apps") && bob.contains_key("GET /app/trigger/list/{app_id}"),
        "another caller's catalogue is fetched with its own credential: {bob:?}"
    );
}

#[tokio::test]
async fn flows_with_apps_components_and_runs() {
    let g = Gateway::start().await;
    let (_, mixer) = g.alice_sessions();
    let flows = mixer.flows(&FlowQuery::default()).await.unwrap();
    let apps: BTreeSet<String> = flows
        .iter()
        .flat_map(|f| f.flow.clone().unwrap_or_default().into_values())
        .map(|c| c.component_type.rsplit_once('.').unwrap().0.to_string())
        .collect();
    g.sandbox.reset_hooks();

    let q = "{ automations(filter: { provider: APPMIXER }, first: 100) { edges { node { name ... on Flow {
        apps { name } components { trigger { name } action { name } app { name } } runs { edges { node { status startedAt } } } } } } } }";
    let data = g.ok(q, json!({})).await;
    assert_eq!(data["automations"]["edges"].as_array().unwrap().len(), 40);
    let hooks = &g.sandbox.appmixer.hooks;
    assert_eq!(hooks.count("GET /flows"), 1);
    assert_eq!(hooks.count("GET /apps"), 1);
    assert_eq!(hooks.count("GET /apps/components"), apps.len() as u64);
    assert_eq!(hooks.count("GET /logs"), 1);
    assert_eq!(g.calls(), 3 + apps.len() as u64);
}

fn routes(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(r, n)| (r.to_string(), *n)).collect()
}

#[tokio::test]
async fn accounts_with_the_flows_that_use_them() {
    let g = Gateway::start().await;
    let q = "{ accounts(filter: { provider: APPMIXER }, first: 100) { edges { node { name automations(first: 100) { nodes { name ... on Flow { nativeId } } } apps { name } } } } }";
    let data = g.ok(q, json!({})).await;
    assert_eq!(edges(&data["accounts"]).len(), 25);
    assert_eq!(
        g.sandbox.appmixer.hooks.counts(),
        routes(&[
            ("GET /accounts", 1),
            ("GET /accounts/{id}/flows", 25),
            ("GET /apps", 1)
        ]),
        "no batch route: one call per account; names and ids need no flow list"
    );
    g.sandbox.reset_hooks();
    let q = "{ accounts(filter: { provider: APPMIXER }, first: 100) { edges { node { automations(first: 100) { nodes { name status } } } } } }";
    let data = g.ok(q, json!({})).await;
    assert!(edges(&data["accounts"])[0]["automations"]["nodes"][0]["status"].is_string());
    assert_eq!(
        g.sandbox.appmixer.hooks.counts(),
        routes(&[
            ("GET /accounts", 1),
            ("GET /accounts/{id}/flows", 25),
            ("GET /flows", 1)
        ]),
        "a field beyond name and id reads the flow list once"
    );
}

#[tokio::test]
async fn app_catalogue_with_triggers_costs_one_call_per_app_page() {
    let g = Gateway::start().await;
    let q = "{ apps(provider: APPYPIE, first: 10) { totalCount edges { node { name triggers { name } category { name } } } } }";
    let data = g.query(Who::AppyPie(1), q, json!({})).await;
    assert!(data.get("errors").is_none(), "{data:#}");
    assert_eq!(data["data"]["apps"]["totalCount"], 60);
    let hooks = &g.sandbox.appypie.hooks;
    assert_eq!(hooks.count("GET /apps"), 1);
    assert_eq!(hooks.count("GET /categories"), 1);
    assert_eq!(hooks.count("GET /app/trigger/list/{app_id}"), 10);
    assert_eq!(g.calls(), 12);
}

#[tokio::test]
async fn appypie_accounts_cost_one_call_per_app() {
    let g = Gateway::start().await;
    let (pie, _) = g.alice_sessions();
    let connects = pie
        .connects(None, PageRequest::new(1, 100))
        .await
        .unwrap()
        .items;
    let apps: BTreeSet<_> = connects
        .iter()
        .flat_map(|c| [c.trigger_app_id.clone(), c.action_app_id.clone()])
        .collect();
    g.sandbox.reset_hooks();
    let data = g
        .ok(
            "{ accounts(filter: { provider: APPYPIE }, first: 100) { edges { node { name apps { name } } } } }",
            json!({}),
        )
        .await;
    assert!(!edges(&data["accounts"]).is_empty());
    let hooks = &g.sandbox.appypie.hooks;
    assert_eq!(
        hooks.count("GET /user-connected-accounts"),
        apps.len() as u64
    );
    assert_eq!(
        g.calls(),
        2 + apps.len() as u64,
        "connect list, app catalogue, one accounts call per app"
    );
}
