//! Connections to plain-HTTP upstreams: kept alive and reused, no more kept idle than the
//! setting allows, and one the upstream closed while idle replaced without sending a call twice.

mod common;

use common::Harness;
use flowgate::sandbox::{Fault, FaultRule};
use flowgate::upstream::appmixer::model::{FlowInput, FlowQuery};
use flowgate::upstream::HttpConfig;
use futures_util::future::join_all;
use std::time::Duration;

/// Appmixer's `GET /flows`, `n` at once, each for Alice and each answered.
async fn flows_at_once(h: &Harness, n: usize) {
    let calls = (0..n).map(|_| async { h.mixer(0).flows(&FlowQuery::default()).await });
    for result in join_all(calls).await {
        result.expect("flows");
    }
}

fn appmixer_connections(h: &Harness) -> u64 {
    h.sandbox.connections().1
}

#[tokio::test]
async fn sequential_calls_share_one_connection() {
    let h = Harness::start().await;
    for _ in 0..10 {
        flows_at_once(&h, 1).await;
    }
    assert_eq!(h.sandbox.appmixer.hooks.count("GET /flows"), 10);
    assert_eq!(appmixer_connections(&h), 1);
    assert_eq!(h.sandbox.connections().0, 0);
}

#[tokio::test]
async fn concurrent_calls_keep_their_connections_for_the_next() {
    let h = Harness::start().await;
    flows_at_once(&h, 8).await;
    assert_eq!(appmixer_connections(&h), 8);
    flows_at_once(&h, 8).await;
    assert_eq!(appmixer_connections(&h), 8, "all eight reused");
    assert_eq!(h.sandbox.appmixer.hooks.count("GET /flows"), 16);
}

#[tokio::test]
async fn no_more_connections_stay_idle_than_the_setting_allows() {
    let h = Harness::with_http(HttpConfig {
        pool_idle_per_host: 2,
        ..HttpConfig::default()
    })
    .await;
    flows_at_once(&h, 8).await;
    flows_at_once(&h, 8).await;
    assert_eq!(appmixer_connections(&h), 8 + 6, "two kept, six made again");
}

#[tokio::test]
async fn a_connection_the_upstream_closed_is_replaced_and_a_write_goes_once() {
    let h = Harness::start().await;
    let hooks = &h.sandbox.appmixer.hooks;
    let close = FaultRule::new("/flows", Fault::CloseAfterAnswer { ms: 20 });
    hooks.add_fault(close.method("GET").times(1));
    flows_at_once(&h, 1).await;
    // The upstream closes the idle connection 20 ms after answering.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let input = FlowInput {
        name: Some("After a close".into()),
        ..FlowInput::default()
    };
    let id = h.mixer(0).create_flow(&input).await.expect("created");
    assert_eq!(hooks.count("POST /flows"), 1, "sent once");
    assert_eq!(appmixer_connections(&h), 2);
    h.mixer(0).flow(&id).await.expect("the flow is there");
    assert_eq!(appmixer_connections(&h), 2, "the new connection is reused");
}
