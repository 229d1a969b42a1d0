//! Upstream failures seen through the gateway: retries for reads only, writes sent once, the
//! circuit breaker, the request deadline, and partial data from the healthy vendor.

mod common;

use common::{codes, Gateway, Who};
use flowgate::sandbox::{Fault, FaultRule};
use flowgate::upstream::Policy;
use serde_json::json;
use std::time::Duration;

const MIXED: &str = "{ flows { totalCount } connects { totalCount } }";

fn quick() -> Policy {
    Policy {
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        ..Policy::default()
    }
}

async fn gateway() -> Gateway {
    Gateway::start_with(|c| {
        c.appmixer_policy = quick();
        c.appypie_policy = quick();
    })
    .await
}

#[tokio::test]
async fn reads_are_retried_through_brief_failures() {
    let g = gateway().await;
    let hooks = &g.sandbox.appmixer.hooks;
    hooks.add_fault(
        FaultRule::new("/flows", Fault::Status { status: 503 })
            .method("GET")
            .times(2),
    );
    let res = g.query(Who::Both(0), MIXED, json!({})).await;
    assert!(res.get("errors").is_none(), "{res:#}");
    assert_eq!(res["data"]["flows"]["totalCount"], 40);
    assert_eq!(
        hooks.count("GET /flows"),
        3,
        "two failures, then the answer"
    );

    hooks.reset();
    hooks.add_fault(FaultRule::new("/flows/count", Fault::RateLimit { retry_after: 1 }).times(1));
    let res = g.query(Who::Both(0), MIXED, json!({})).await;
    assert!(res.get("errors").is_none(), "{res:#}");
    assert_eq!(
        hooks.count("GET /flows/count"),
        2,
        "Retry-After within the cap is honoured"
    );
}

#[tokio::test]
async fn long_retry_after_is_passed_on_not_waited_for() {
    let g = gateway().await;
    let hooks = &g.sandbox.appmixer.hooks;
    hooks.add_fault(FaultRule::new("/flows", Fault::RateLimit { retry_after: 60 }).method("GET"));
    let res = g.query(Who::Both(0), MIXED, json!({})).await;
    assert_eq!(codes(&res), vec!["RATE_LIMITED"]);
    assert_eq!(res["errors"][0]["extensions"]["retryAfter"], 60);
    assert_eq!(res["errors"][0]["extensions"]["provider"], "APPMIXER");
    assert_eq!(
        res["data"]["connects"]["totalCount"], 40,
        "the other vendor still answers"
    );
    assert_eq!(hooks.count("GET /flows"), 1);
}

#[tokio::test]
async fn writes_are_sent_once_even_when_they_time_out() {
    let g = Gateway::start_with(|c| {
        c.appypie_policy = Policy {
            timeout: Duration::from_millis(200),
            ..quick()
        }
    })
    .await;
    let id = g.first_connect_id().await;
    let hooks = &g.sandbox.appypie.hooks;
    hooks.add_fault(FaultRule::new("*/name", Fault::Latency { ms: 1_000 }).times(1));
    let q = "mutation($id: ID!) { renameAutomation(input: { id: $id, name: \"slow\" }) { automation { name } } }";
    let res = g.query(Who::Both(0), q, json!({ "id": id })).await;
    assert_eq!(codes(&res), vec!["UPSTREAM_TIMEOUT"]);
    assert_eq!(res["errors"][0]["extensions"]["outcomeUnknown"], true);
    assert!(res["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("may or may not have been applied"));
    assert_eq!(hooks.count("PUT /connect/{id}/name"), 1);

    for fault in [Fault::Status { status: 503 }, Fault::DropConnection] {
        hooks.reset();
        hooks.add_fault(FaultRule::new("*/on", fault).times(1));
        let q =
            "mutation($id: ID!) { enableAutomation(input: { id: $id }) { automation { status } } }";
        let res = g.query(Who::Both(0), q, json!({ "id": id })).await;
        assert!(!codes(&res).is_empty());
        assert_eq!(hooks.count("PUT /connect/{id}/on"), 1, "never retried");
    }
}

#[tokio::test]
async fn breaker_opens_and_fails_fast_while_the_other_vendor_answers() {
    let g = Gateway::start_with(|c| {
        c.appmixer_policy = Policy {
            breaker_threshold: 3,
            breaker_open_for: Duration::from_secs(60),
            max_retries: 0,
            ..quick()
        }
    })
    .await;
    let hooks = &g.sandbox.appmixer.hooks;
    hooks.add_fault(FaultRule::new("/*", Fault::Status { status: 500 }));
    for _ in 0..3 {
        let res = g
            .query(Who::Both(0), "{ flows { totalCount } }", json!({}))
            .await;
        assert_eq!(codes(&res), vec!["UPSTREAM_ERROR"]);
    }
    let seen = hooks.total();
    let res = g.query(Who::Both(0), MIXED, json!({})).await;
    assert_eq!(codes(&res), vec!["UPSTREAM_UNAVAILABLE"]);
    assert_eq!(hooks.total(), seen, "an open breaker sends nothing");
    assert_eq!(res["data"]["connects"]["totalCount"], 40);
}

#[tokio::test]
async fn breaker_closes_after_a_good_probe() {
    let g = Gateway::start_with(|c| {
        c.appmixer_policy = Policy {
            breaker_threshold: 1,
            breaker_open_for: Duration::from_millis(100),
            max_retries: 0,
            ..quick()
        }
    })
    .await;
    let hooks = &g.sandbox.appmixer.hooks;
    hooks.add_fault(FaultRule::new("/*", Fault::Status { status: 503 }).times(1));
    assert_eq!(
        codes(
            &g.query(Who::Both(0), "{ flows { totalCount } }", json!({}))
                .await
        ),
        vec!["UPSTREAM_ERROR"]
    );
    assert_eq!(
        codes(
            &g.query(Who::Both(0), "{ flows { totalCount } }", json!({}))
                .await
        ),
        vec!["UPSTREAM_UNAVAILABLE"]
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let res = g
        .query(Who::Both(0), "{ flows { totalCount } }", json!({}))
        .await;
    assert!(
        res.get("errors").is_none(),
        "the probe succeeds and closes the breaker: {res:#}"
    );
}

#[tokio::test]
async fn fault_suite_codes_with_partial_data() {
    let cases = [
        (Fault::Status { status: 500 }, "UPSTREAM_ERROR"),
        (Fault::Status { status: 404 }, "NOT_FOUND"),
        (Fault::Status { status: 403 }, "FORBIDDEN"),
        (Fault::Status { status: 400 }, "BAD_USER_INPUT"),
        (Fault::Status { status: 401 }, "UNAUTHENTICATED"),
        (Fault::MalformedJson, "INVALID_UPSTREAM_RESPONSE"),
        (Fault::TruncatedBody, "INVALID_UPSTREAM_RESPONSE"),
        (Fault::DropConnection, "UPSTREAM_UNAVAILABLE"),
    ];
    for (fault, code) in cases {
        let g = gateway().await;
        g.sandbox
            .appypie
            .hooks
            .add_fault(FaultRule::new("*/connect/list", fault.clone()));
        let res = g.query(Who::Both(0), MIXED, json!({})).await;
        assert_eq!(codes(&res), vec![code], "{fault:?}: {res:#}");
        assert_eq!(res["errors"][0]["extensions"]["provider"], "APPYPIE");
        assert_eq!(
            res["data"]["flows"]["totalCount"], 40,
            "{fault:?}: Appmixer still answers"
        );
        assert_eq!(res["data"].get("connects"), Some(&json!(null)));
    }
}

#[tokio::test]
async fn the_deadline_bounds_a_slow_upstream() {
    let g = Gateway::start_with(|c| c.limits.deadline = Duration::from_millis(300)).await;
    g.sandbox
        .appmixer
        .hooks
        .add_fault(FaultRule::new("/flows*", Fault::Latency { ms: 3_000 }));
    let res = g.query(Who::Both(0), MIXED, json!({})).await;
    assert_eq!(
        codes(&res),
        vec!["UPSTREAM_TIMEOUT"],
        "the request completed, bounded by the deadline"
    );
}

#[tokio::test]
async fn a_slow_upstream_times_out_per_call() {
    let g = Gateway::start_with(|c| {
        c.appmixer_policy = Policy {
            timeout: Duration::from_millis(150),
            max_retries: 1,
            ..quick()
        }
    })
    .await;
    g.sandbox
        .appmixer
        .hooks
        .add_fault(FaultRule::new("/flows*", Fault::Latency { ms: 2_000 }));
    let res = g.query(Who::Both(0), MIXED, json!({})).await;
    assert_eq!(codes(&res), vec!["UPSTREAM_TIMEOUT"]);
    assert_eq!(res["data"]["connects"]["totalCount"], 40);
}

#[tokio::test]
async fn the_retry_budget_keeps_an_outage_from_multiplying_load() {
    let g = Gateway::start_with(|c| {
        c.appmixer_policy = Policy {
            breaker_threshold: u32::MAX,
            retry_budget_ratio: 0.2,
            ..quick()
        }
    })
    .await;
    let hooks = &g.sandbox.appmixer.hooks;
    hooks.add_fault(FaultRule::new("/user", Fault::Status { status: 503 }));
    let requests = 40;
    for _ in 0..requests {
        let res = g
            .query(Who::Both(0), "{ viewer { appmixer { email } } }", json!({}))
            .await;
        assert_eq!(codes(&res), vec!["UPSTREAM_ERROR"]);
    }
    let sent = hooks.count("GET /user");
    assert!(sent >= requests, "every request tried once");
    assert!(
        sent <= requests + 10 + requests / 5 + 1,
        "{sent} calls: retries stayed within the budget (2 retries each would be {})",
        requests * 3
    );
}
