//! Work shared between requests: identical in-flight upstream reads, identical concurrent query
//! executions, and the catalogue cache. Each is shown by its effect on the sandbox's counters,
//! each can be switched off, and none lets one caller see another's data.

mod common;

use common::{edges, Gateway, Who};
use flowgate::sandbox::{Fault, FaultRule};
use flowgate::server::GatewayConfig;
use flowgate::upstream::appypie::model::PageRequest;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

const CONNECTS: &str = "{ connects(first: 100) { edges { node { nativeId name } } } }";

/// Sharing switched on or off one mechanism at a time.
fn only(dedupe: bool, coalesce: bool, cache: bool) -> impl FnOnce(&mut GatewayConfig) {
    move |c| {
        c.sharing.dedupe = dedupe;
        c.coalesce = coalesce;
        if !cache {
            c.sharing.catalogue_ttl = Duration::ZERO;
        }
    }
}

/// Sends `queries` at once as caller `who`; answers in order.
async fn all_at_once(g: &Arc<Gateway>, who: Who, queries: Vec<String>) -> Vec<Value> {
    let tasks: Vec<_> = queries
        .into_iter()
        .map(|q| {
            let g = g.clone();
            tokio::spawn(async move { g.query(who, &q, json!({})).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Holds the connect list for a while, so concurrent requests overlap.
fn slow_connect_list(g: &Gateway) {
    g.sandbox
        .appypie
        .hooks
        .add_fault(FaultRule::new("*/connect/list", Fault::Latency { ms: 300 }));
}

/// The same connect list under a different alias each time: no two documents are equal.
fn varied(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!("{{ connects(first: 100) {{ edges {{ node {{ nativeId n{i}: name }} }} }} }}")
        })
        .collect()
}

/// Sends `queries` at once through a gateway tuned by `tune`, with a slow connect list; answers
/// them with the sandbox's whole per-route count map.
async fn at_once_on_a_slow_list(
    tune: impl FnOnce(&mut GatewayConfig) + 'static,
    queries: Vec<String>,
) -> (Vec<Value>, BTreeMap<String, u64>) {
    let g = Arc::new(Gateway::start_with(tune).await);
    slow_connect_list(&g);
    let answers = all_at_once(&g, Who::Both(0), queries).await;
    assert!(answers.iter().all(|a| a.get("errors").is_none()));
    assert!(answers
        .iter()
        .all(|a| edges(&a["data"]["connects"]).len() == 40));
    (answers, g.sandbox.appypie.hooks.counts())
}

fn list_calls(n: u64) -> BTreeMap<String, u64> {
    BTreeMap::from([("GET /connect/list".to_string(), n)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_reads_in_flight_share_one_upstream_call() {
    for (dedupe, calls) in [(true, 1), (false, 8)] {
        let (_, counts) = at_once_on_a_slow_list(only(dedupe, false, false), varied(8)).await;
        assert_eq!(counts, list_calls(calls), "dedupe {dedupe}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_queries_in_flight_share_one_execution() {
    for (coalesce, calls) in [(true, 1), (false, 8)] {
        let same = vec![CONNECTS.to_string(); 8];
        let (answers, counts) = at_once_on_a_slow_list(only(false, coalesce, false), same).await;
        assert!(answers.iter().all(|a| a == &answers[0]));
        assert_eq!(counts, list_calls(calls), "coalesce {coalesce}");
    }
}

/// While queries repeat, another execution runs and executions have been long, a new shared
/// execution waits its window, and an identical query sent meanwhile joins it instead of
/// running again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_gateway_holds_a_repeated_query_for_company() {
    let tune = |c: &mut GatewayConfig| {
        only(false, true, false)(c);
        c.coalesce_window = Duration::from_millis(200);
    };
    let g = Arc::new(Gateway::start_with(tune).await);
    // Queries repeat: most of these join the first one's execution, which runs long.
    let slow_list = FaultRule::new("*/connect/list", Fault::Latency { ms: 3_400 });
    g.sandbox.appypie.hooks.add_fault(slow_list);
    all_at_once(&g, Who::Both(0), vec![CONNECTS.to_string(); 40]).await;
    g.sandbox.appypie.hooks.clear_faults();
    g.sandbox.reset_hooks();
    // Busy: another execution runs for a while.
    let slow_accounts = FaultRule::new("/accounts", Fault::Latency { ms: 1_500 });
    g.sandbox.appmixer.hooks.add_fault(slow_accounts);
    let accounts = "{ accounts(filter: { provider: APPMIXER }, first: 5) { nodes { nativeId } } }";
    let query = |q: &'static str, after: u64| {
        let g = g.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after)).await;
            g.query(Who::Both(0), q, json!({})).await
        })
    };
    let (busy, first, second) = (
        query(accounts, 0),
        query(CONNECTS, 150),
        query(CONNECTS, 250),
    );
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(edges(&first["data"]["connects"]).len(), 40);
    assert_eq!(first, second);
    assert!(busy.await.unwrap().get("errors").is_none());
    assert_eq!(g.sandbox.appypie.hooks.counts(), list_calls(1));
    assert_eq!(g.sandbox.appmixer.hooks.count("GET /accounts"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_are_never_shared() {
    let g = Arc::new(Gateway::start().await);
    let id = g.first_connect_id().await.to_string();
    g.sandbox.reset_hooks();
    g.sandbox
        .appypie
        .hooks
        .add_fault(FaultRule::new("*/name", Fault::Latency { ms: 200 }));
    let rename = format!(
        "mutation {{ renameAutomation(input: {{ id: {id}, name: \"same\" }}) {{ automation {{ name }} }} }}"
    );
    all_at_once(&g, Who::Both(0), vec![rename; 4]).await;
    assert_eq!(g.sandbox.appypie.hooks.count("PUT /connect/{id}/name"), 4);
}

#[tokio::test]
async fn the_catalogue_cache_can_be_switched_off() {
    let q = "{ apps(provider: APPYPIE, first: 5) { edges { node { name } } } }";
    for (cache, calls) in [(true, 1), (false, 2)] {
        let g = Gateway::start_with(only(true, true, cache)).await;
        g.ok(q, json!({})).await;
        g.ok(q, json!({})).await;
        assert_eq!(
            g.sandbox.appypie.hooks.counts(),
            BTreeMap::from([("GET /apps".to_string(), calls)]),
            "cache {cache}"
        );
    }
}

#[tokio::test]
async fn the_catalogue_cache_keeps_a_reply_only_as_long_as_the_upstream_allows() {
    let q = "{ apps(provider: APPMIXER, first: 5) { edges { node { name } } } }";
    let app = json!({ "name": "appmixer.slack", "label": "Slack", "category": "communication",
        "description": "Team chat", "icon": "" });
    let body = json!({ "appmixer.slack": app }).to_string();
    for (cache_control, calls) in [("public, max-age=30", 1), ("no-store", 2), ("max-age=0", 2)] {
        let g = Gateway::start().await;
        let headers = [
            ("content-type", "application/json"),
            ("cache-control", cache_control),
        ];
        let reply = Fault::Canned {
            status: 200,
            headers: headers
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .to_vec(),
            body: body.clone(),
        };
        g.sandbox
            .appmixer
            .hooks
            .add_fault(FaultRule::new("/apps", reply));
        for _ in 0..2 {
            let d = g.ok(q, json!({})).await;
            assert_eq!(d["apps"]["edges"][0]["node"]["name"], "Slack", "{d}");
        }
        assert_eq!(
            g.sandbox.appmixer.hooks.counts(),
            BTreeMap::from([("GET /apps".to_string(), calls)]),
            "Cache-Control: {cache_control}"
        );
    }
}

/// The names of the connects and flows demo user `n` owns, read straight from the sandbox.
async fn own_names(g: &Gateway, n: usize) -> (BTreeSet<String>, BTreeSet<String>) {
    let (pie, mixer) = g.sessions(n);
    let connects = pie.connects(None, PageRequest::new(1, 100)).await.unwrap();
    let accounts = mixer.accounts(&[]).await.unwrap();
    (
        connects.items.iter().map(|c| c.id.clone()).collect(),
        accounts.iter().map(|a| a.account_id.clone()).collect(),
    )
}

fn ids(list: &Value, field: &str) -> BTreeSet<String> {
    let items = match list.get("edges") {
        Some(_) => edges(list),
        None => list.as_array().cloned().unwrap_or_default(),
    };
    items
        .iter()
        .map(|n| n[field].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_tenants_under_load_see_only_their_own_data_with_all_sharing_on() {
    let g = Arc::new(Gateway::start().await);
    let mut own = Vec::new();
    for n in 0..3 {
        own.push(own_names(&g, n).await);
    }
    assert!(own[0].0.is_disjoint(&own[1].0) && own[1].0.is_disjoint(&own[2].0));
    assert!(own[0].1.is_disjoint(&own[1].1) && own[0].1.is_disjoint(&own[2].1));
    g.sandbox
        .appypie
        .hooks
        .add_fault(FaultRule::new("*/connect/list", Fault::Latency { ms: 20 }));
    g.sandbox
        .appmixer
        .hooks
        .add_fault(FaultRule::new("/accounts", Fault::Latency { ms: 20 }));
    let q = |i: usize| {
        format!(
            "{{ connects(first: 100) {{ edges {{ node {{ nativeId n{}: name triggerApp {{ name }} }} }} }}
               accounts(filter: {{ provider: APPMIXER }}, first: 100) {{ edges {{ node {{ nativeId }} }} }} }}",
            i % 2
        )
    };
    let tasks: Vec<_> = (0..240)
        .map(|i| {
            let (g, q) = (g.clone(), q(i / 3));
            tokio::spawn(async move { (i % 3, g.query(Who::Both(i % 3), &q, json!({})).await) })
        })
        .collect();
    for task in tasks {
        let (n, res) = task.await.unwrap();
        assert!(res.get("errors").is_none(), "{res:#}");
        assert_eq!(
            ids(&res["data"]["connects"], "nativeId"),
            own[n].0,
            "caller {n}'s connects"
        );
        assert_eq!(
            ids(&res["data"]["accounts"], "nativeId"),
            own[n].1,
            "caller {n}'s accounts"
        );
    }
    let calls = g.sandbox.appypie.hooks.count("GET /connect/list");
    assert!(calls < 240, "the requests shared work: {calls} list calls");
}
