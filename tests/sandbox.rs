//! The sandbox itself: tenant isolation, request counters and log, admin routes, fixtures.

mod common;

use common::Harness;
use flowgate::sandbox::{FixtureConfig, Sandbox, SandboxConfig, DEMO_USERS};
use flowgate::upstream::appmixer::model::FlowQuery;
use flowgate::upstream::appypie::all_pages;
use flowgate::upstream::appypie::model::PageRequest;
use flowgate::upstream::ErrorKind;
use std::collections::HashSet;

#[tokio::test]
async fn tenants_see_only_their_own_data() {
    let h = Harness::start().await;
    let (alice, bob) = (h.pie(0), h.pie(1));
    let alice_connects = all_pages(100, |p| alice.connects(None, p)).await.unwrap();
    let bob_connects = all_pages(100, |p| bob.connects(None, p)).await.unwrap();
    let alice_ids: HashSet<_> = alice_connects.iter().map(|c| c.id.clone()).collect();
    assert!(bob_connects.iter().all(|c| !alice_ids.contains(&c.id)));
    let alices = &alice_connects[0];
    for err in [
        h.pie(1)
            .connect_history(&alices.id, PageRequest::default())
            .await
            .map(|_| ())
            .unwrap_err(),
        h.pie(1)
            .delete_connect(&alices.id)
            .await
            .map(|_| ())
            .unwrap_err(),
        h.pie(1)
            .test_connect(&alices.id)
            .await
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert_eq!(err.kind, ErrorKind::NotFound);
    }
    let bob_sees = h
        .pie(1)
        .connected_accounts(None, Some(&alices.trigger_account_id))
        .await
        .unwrap();
    assert!(bob_sees.is_empty());
    assert_eq!(h.pie(0).profile().await.unwrap().email, DEMO_USERS[0].email);
    assert_eq!(h.pie(1).profile().await.unwrap().email, DEMO_USERS[1].email);

    let alice_flows = h.mixer(0).flows(&FlowQuery::default()).await.unwrap();
    let chen_flows = h.mixer(2).flows(&FlowQuery::default()).await.unwrap();
    let alice_flow_ids: HashSet<_> = alice_flows.iter().map(|f| f.flow_id.clone()).collect();
    assert!(chen_flows
        .iter()
        .all(|f| !alice_flow_ids.contains(&f.flow_id)));
    let alice_user = h.mixer(0).current_user().await.unwrap();
    assert!(alice_flows
        .iter()
        .all(|f| f.user_id.as_ref() == Some(&alice_user.id)));
    let alice_accounts = h.mixer(0).accounts(&[]).await.unwrap();
    let chen_accounts = h.mixer(2).accounts(&[]).await.unwrap();
    assert!(chen_accounts.iter().all(|a| a.user_id != alice_user.id));
    assert_eq!(
        h.mixer(2)
            .flow(&alice_flows[0].flow_id)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        h.mixer(2)
            .remove_account(&alice_accounts[0].account_id)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        h.mixer(0).flows(&FlowQuery::default()).await.unwrap().len(),
        40,
        "nothing of Alice's changed"
    );
}

#[tokio::test]
async fn catalogue_is_shared_between_tenants() {
    let h = Harness::start().await;
    let a = h
        .pie(0)
        .apps(&Default::default(), PageRequest::new(1, 100))
        .await
        .unwrap();
    let b = h
        .pie(2)
        .apps(&Default::default(), PageRequest::new(1, 100))
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(
        h.mixer(0).apps(false).await.unwrap(),
        h.mixer(1).apps(false).await.unwrap()
    );
}

#[tokio::test]
async fn counters_and_log_per_route() {
    let h = Harness::start().await;
    let pie = &h.sandbox.appypie.hooks;
    let mixer = &h.sandbox.appmixer.hooks;
    h.pie(0)
        .connects(None, PageRequest::default())
        .await
        .unwrap();
    h.pie(0)
        .connects(None, PageRequest::new(2, 10))
        .await
        .unwrap();
    let connect = h
        .pie(0)
        .connects(None, PageRequest::default())
        .await
        .unwrap()
        .items
        .remove(0);
    h.pie(1)
        .connect_history(&connect.id, PageRequest::default())
        .await
        .unwrap_err();
    h.mixer(0).flow_count().await.unwrap();
    let flows = h.mixer(0).flows(&FlowQuery::default()).await.unwrap();
    h.mixer(0).flow(&flows[0].flow_id).await.unwrap();

    assert_eq!(pie.count("GET /connect/list"), 3);
    assert_eq!(pie.count("GET /connect/{id}/history"), 1);
    assert_eq!(pie.total(), 4);
    assert_eq!(mixer.count("GET /flows/count"), 1);
    assert_eq!(mixer.count("GET /flows/{id}"), 1);
    assert_eq!(mixer.total(), 3);

    let log = pie.log();
    assert_eq!(log[1].path, "/api/v2/integrations/connect/list");
    assert_eq!(log[1].query.as_deref(), Some("page=2&limit=10"));
    assert_eq!(log[0].credential, log[1].credential);
    assert_ne!(
        log[0].credential, log[3].credential,
        "different users, different fingerprints"
    );
    for record in log.iter().chain(mixer.log().iter()) {
        let text = format!("{record:?}");
        assert!(DEMO_USERS
            .iter()
            .all(|u| !text.contains(u.appypie_token) && !text.contains(u.appmixer_token)));
    }

    h.sandbox.reset_hooks();
    assert_eq!((pie.total(), mixer.total()), (0, 0));
    assert!(pie.log().is_empty());
}

#[tokio::test]
async fn admin_routes_expose_counts_and_reset() {
    let h = Harness::start().await;
    h.mixer(0).current_user().await.unwrap();
    h.mixer(0).current_user().await.unwrap();
    let base = h.sandbox.appmixer_base_url();
    let http = reqwest::Client::new();
    let view: serde_json::Value = http
        .get(format!("{base}/__sandbox/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["counts"]["GET /user"], 2);
    assert_eq!(view["total"], 2);
    assert_eq!(view["log"][0]["path"], "/user");
    assert_eq!(
        http.post(format!("{base}/__sandbox/reset"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let view: serde_json::Value = http
        .get(format!("{base}/__sandbox/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["total"], 0, "admin calls are not counted");

    let pie = h.sandbox.appypie_auth_url();
    h.pie(0).profile().await.unwrap();
    let view: serde_json::Value = http
        .get(format!("{pie}/__sandbox/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["counts"]["GET /me"], 1);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_vendor_bodies() {
    let h = Harness::start().await;
    let http = reqwest::Client::new();
    let res = http
        .get(format!("{}/nope", h.sandbox.appypie_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (
            body["status"].as_str(),
            body["success"].as_bool(),
            body["code"].as_i64()
        ),
        (Some("0"), Some(false), Some(404))
    );
    let res = http
        .delete(format!("{}/flows/count", h.sandbox.appmixer_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (body["statusCode"].as_i64(), body["error"].as_str()),
        (Some(405), Some("Method Not Allowed"))
    );
}

async fn snapshot(config: SandboxConfig) -> (String, String) {
    let sandbox = Sandbox::start(config).await.unwrap();
    let http = reqwest::Client::new();
    let connects = http
        .get(format!(
            "{}/connect/list?limit=100",
            sandbox.appypie_base_url()
        ))
        .header("ACCESSTOKEN", DEMO_USERS[0].appypie_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let flows = http
        .get(format!("{}/flows", sandbox.appmixer_base_url()))
        .bearer_auth(DEMO_USERS[0].appmixer_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    sandbox.stop().await;
    (connects, flows)
}

#[tokio::test]
async fn fixtures_are_deterministic_and_scale() {
    let a = snapshot(SandboxConfig::default()).await;
    let b = snapshot(SandboxConfig::default()).await;
    assert_eq!(a, b);
    let other_seed = SandboxConfig {
        fixtures: FixtureConfig {
            seed: 42,
            ..FixtureConfig::default()
        },
        ..SandboxConfig::default()
    };
    assert_ne!(snapshot(other_seed).await, a);

    let small = SandboxConfig {
        fixtures: FixtureConfig {
            scale: 0.25,
            ..FixtureConfig::default()
        },
        ..SandboxConfig::default()
    };
    let (connects, flows) = snapshot(small).await;
    let connects: serde_json::Value = serde_json::from_str(&connects).unwrap();
    let flows: serde_json::Value = serde_json::from_str(&flows).unwrap();
    assert_eq!(connects["total"], 10);
    assert_eq!(flows.as_array().unwrap().len(), 10);
}

/// Every route key a sandbox lists is one its router serves, so `count()` can refuse the rest.
#[tokio::test]
async fn the_route_lists_match_the_routers() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let vendors = [
        (&sandbox.appypie.hooks, sandbox.appypie_base_url()),
        (&sandbox.appmixer.hooks, sandbox.appmixer_base_url()),
    ];
    for (hooks, base) in vendors {
        let origin = url::Url::parse(&base)
            .unwrap()
            .origin()
            .ascii_serialization();
        for key in hooks.routes() {
            let (method, template) = key.split_once(' ').unwrap();
            let path: String = template
                .split('/')
                .map(|part| if part.starts_with('{') { "x" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let mut matched = false;
            for url in [format!("{base}{path}"), format!("{origin}{path}")] {
                hooks.reset();
                let _ = http.request(method.clone(), &url).send().await.unwrap();
                if hooks.log().last().is_some_and(|r| r.route == *key) {
                    matched = true;
                    break;
                }
            }
            assert!(matched, "no router serves {key}");
        }
    }
}

#[test]
#[should_panic(expected = "serves no route")]
fn counting_a_route_that_does_not_exist_is_refused() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = rt
        .block_on(Sandbox::start(SandboxConfig::default()))
        .unwrap();
    sandbox.appmixer.hooks.count("GET /flow");
}
