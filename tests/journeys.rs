//! What a frontend team builds first, each screen as one test against the sandbox: the whole
//! response as a snapshot (`tests/snapshots/`) and every upstream call it costs.

mod common;

use common::User::{Alice, Bob};
use common::{edges, Gateway};
use serde_json::json;

#[tokio::test]
async fn the_integrations_page_lists_every_automation_with_its_health() {
    let g = Gateway::builder().start().await;
    let q = "{ automations(first: 8) { totalCount pageInfo { hasNextPage }
        edges { node { __typename name status updatedAt apps { name } lastRun { status startedAt } lastError { message } } } } }";
    let page = g
        .costs(
            &[
                ("GET /apps", 1),
                ("GET /connect/list", 1),
                ("GET /connect/{id}/history", 5),
                ("GET /flows", 1),
                ("GET /logs", 1),
            ],
            g.as_user(Alice).ok(q, json!({})),
        )
        .await;
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn run_history_pages_through_an_automations_runs() {
    let g = Gateway::builder().start().await;
    let connect = g.first_connect_id().await;
    g.test_connect(&connect, 3).await;
    let q = "query($id: ID!, $after: String) { node(id: $id) { ... on Automation { name
        runs(first: 2, after: $after) { pageInfo { hasNextPage endCursor } edges { node { status isTest steps } } } } } }";
    let first = g
        .costs(
            &[("GET /connect/list", 1), ("GET /connect/{id}/history", 1)],
            g.as_user(Alice).ok(q, json!({ "id": connect })),
        )
        .await;
    let after = first["node"]["runs"]["pageInfo"]["endCursor"].clone();
    let second = g
        .as_user(Alice)
        .ok(q, json!({ "id": connect, "after": after }))
        .await;
    assert_eq!(edges(&first["node"]["runs"]).len(), 2);
    insta::assert_json_snapshot!(json!({ "first": first, "second": second }));
}

#[tokio::test]
async fn the_template_gallery_shows_popular_matches_by_category() {
    let g = Gateway::builder().start().await;
    let q = "{ categories(provider: APPYPIE, first: 100) { edges { node { name } } }
        popularMatches(first: 6) { totalCount edges { node { title description triggerApp { name authType } actionApp { name } } } } }";
    let gallery = g
        .costs(
            &[
                ("GET /apps", 1),
                ("GET /categories", 1),
                ("GET /popular-match/{id}", 6),
                ("GET /popular-matches", 1),
            ],
            g.as_user(Alice).ok(q, json!({})),
        )
        .await;
    insta::assert_json_snapshot!(gallery);
}

#[tokio::test]
async fn connecting_an_account_is_one_flow_for_both_vendors() {
    let g = Gateway::builder().start().await;
    let d = g
        .ok(
            "{ apps(provider: APPYPIE, first: 1) { edges { node { id } } }
        flows(first: 40) { edges { node { components { componentType app { id } } } } } }",
            json!({}),
        )
        .await;
    let pie_app = edges(&d["apps"])[0]["id"].clone();
    let mixer_app = common::service_component(&d["flows"])["app"]["id"].clone();
    let start = "mutation($a: ID!) { startAccountLink(input: { appId: $a, callbackUrl: \"https://partner.example/cb\" }) {
        link { handle provider state redirectUrl } userErrors { field code } } }";
    let status = "query($h: ID!) { accountLink(handle: $h) { state account { id } } }";
    let finish =
        "mutation($h: ID!, $t: String) { finishAccountLink(input: { handle: $h, token: $t }) {
        link { state account { id provider apps { id } } } userErrors { field code } } }";

    let started = g.as_user(Alice).ok(start, json!({ "a": pie_app })).await["startAccountLink"]
        ["link"]
        .clone();
    assert_eq!(
        (&started["provider"], &started["state"]),
        (&json!("APPYPIE"), &json!("PENDING"))
    );
    let token = common::callback_token(started["redirectUrl"].as_str().unwrap()).await;
    let done = g
        .ok(finish, json!({ "h": started["handle"], "t": token }))
        .await["finishAccountLink"]
        .clone();
    assert_eq!(done["link"]["state"], "CONNECTED", "{done}");
    assert_eq!(done["link"]["account"]["apps"][0]["id"], pie_app);

    let started = g.as_user(Alice).ok(start, json!({ "a": mixer_app })).await["startAccountLink"]
        ["link"]
        .clone();
    assert_eq!(
        (&started["provider"], &started["state"]),
        (&json!("APPMIXER"), &json!("PENDING"))
    );
    let before = g
        .as_user(Alice)
        .ok(status, json!({ "h": started["handle"] }))
        .await;
    assert_eq!(
        before["accountLink"],
        json!({ "state": "PENDING", "account": null })
    );
    common::browse(started["redirectUrl"].as_str().unwrap()).await;
    let after = g
        .as_user(Alice)
        .ok(status, json!({ "h": started["handle"] }))
        .await;
    assert_eq!(after["accountLink"]["state"], "CONNECTED", "{after}");
    let account = after["accountLink"]["account"]["id"].clone();
    let listed = g
        .ok(
            "{ accounts(filter: { provider: APPMIXER }, first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(edges(&listed["accounts"])
        .iter()
        .any(|a| a["id"] == account));

    let refused = g
        .as_user(Alice)
        .ok(finish, json!({ "h": "not-a-handle" }))
        .await;
    assert_eq!(
        refused["finishAccountLink"]["userErrors"],
        json!([{ "field": ["input", "handle"], "code": "INVALID" }])
    );
}

#[tokio::test]
async fn a_flow_is_copied_with_its_accounts_then_shared() {
    let g = Gateway::builder().start().await;
    let q = "{ flows(first: 40) { edges { node { id name accounts { id } components { nativeId } } } } }";
    let d = g.as_user(Alice).ok(q, json!({})).await;
    let original = edges(&d["flows"])
        .into_iter()
        .find(|f| !f["accounts"].as_array().unwrap().is_empty())
        .expect("a flow with accounts");

    let clone = "mutation($id: ID!, $with: Boolean!) { cloneFlow(input: { id: $id, prefix: \"Mine: \", connectAccounts: $with }) {
        flow { id name status } userErrors { code } } }";
    let vars = json!({ "id": original["id"], "with": true });
    let copied = g
        .costs(
            &[("POST /flows/{id}/clone", 1), ("GET /flows/{id}", 1)],
            g.as_user(Alice).ok(clone, vars),
        )
        .await;
    let copy = &copied["cloneFlow"]["flow"];
    let name = format!("Mine: {}", original["name"].as_str().unwrap());
    assert_eq!(copy["name"], name.as_str());
    assert_eq!(copy["status"], "STOPPED");
    let q = "query($id: ID!) { node(id: $id) { ... on Flow { accounts { id } components { nativeId } } } }";
    let d = g.as_user(Alice).ok(q, json!({ "id": copy["id"] })).await;
    assert_eq!(d["node"]["accounts"], original["accounts"]);
    assert_ne!(d["node"]["components"], original["components"]);
    let vars = json!({ "id": original["id"], "with": false });
    let bare = g.as_user(Alice).ok(clone, vars).await["cloneFlow"]["flow"]["id"].clone();
    let d = g.as_user(Alice).ok(q, json!({ "id": bare })).await;
    assert_eq!(d["node"]["accounts"], json!([]));

    let share = "mutation($id: ID!) { updateFlow(input: { id: $id, thumbnail: \"data:image/svg+xml;base64,PHN2Zy8+\",
        sharedWith: [{ email: \"bob@example.com\", permissions: [READ, START] }] }) { flow { thumbnail sharedWith { email permissions } } } }";
    let shared = g
        .costs(
            &[("PUT /flows/{id}", 1), ("GET /flows/{id}", 1)],
            g.as_user(Alice).ok(share, json!({ "id": copy["id"] })),
        )
        .await;
    insta::assert_json_snapshot!(shared);

    let vars = json!({ "id": original["id"], "with": false });
    let d = g
        .costs(
            &[("POST /flows/{id}/clone", 1)],
            g.as_user(Bob).ok(clone, vars),
        )
        .await;
    assert_eq!(
        d["cloneFlow"]["userErrors"][0]["code"], "NOT_FOUND",
        "Bob cannot copy Alice's flow: {d}"
    );

    let missing = "mutation { cloneFlow(input: { id: \"RmxvdzphcHBtaXhlcjpub3BlLW5vcGU\" }) { flow { id } userErrors { field code } } }";
    let d = g
        .costs(
            &[("POST /flows/{id}/clone", 1)],
            g.as_user(Alice).ok(missing, json!({})),
        )
        .await;
    assert_eq!(d["cloneFlow"]["userErrors"][0]["code"], "NOT_FOUND", "{d}");
}

#[tokio::test]
async fn only_a_flow_stops_in_the_background() {
    let g = Gateway::builder().start().await;
    let connect = g.first_connect_id().await;
    let stop = "mutation($id: ID!) { disableAutomation(input: { id: $id, background: true }) { ticket userErrors { field code } } }";
    let d = g
        .costs(&[], g.as_user(Alice).ok(stop, json!({ "id": connect })))
        .await;
    let refused = &d["disableAutomation"];
    assert_eq!(
        refused["userErrors"][0]["field"],
        json!(["input", "background"]),
        "{refused}"
    );
    assert_eq!(refused["userErrors"][0]["code"], "INVALID");
    assert!(refused["ticket"].is_null());
}

#[tokio::test]
async fn a_run_is_a_node_on_both_vendors() {
    let g = Gateway::builder().start().await;
    let connect = g.first_connect_id().await;
    g.test_connect(&connect, 2).await;
    let q = "query($c: ID!) { connect: node(id: $c) { ... on Automation { lastRun { id nativeId } } }
        flows(first: 40, filter: { status: RUNNING }) { edges { node { lastRun { id nativeId status } } } } }";
    let d = g.as_user(Alice).ok(q, json!({ "c": connect })).await;
    let flow_run = edges(&d["flows"])
        .into_iter()
        .find_map(|f| f["lastRun"]["id"].is_string().then(|| f["lastRun"].clone()))
        .expect("a running flow has run");
    let connect_run = d["connect"]["lastRun"].clone();
    let q = "query($id: ID!) { node(id: $id) { __typename id ... on Run { nativeId status } } }";
    let found = g
        .costs(
            &[("GET /logs", 1)],
            g.as_user(Alice).ok(q, json!({ "id": flow_run["id"] })),
        )
        .await;
    assert_eq!(found["node"]["nativeId"], flow_run["nativeId"]);
    assert_eq!(found["node"]["status"], flow_run["status"]);
    let found = g
        .costs(
            &[("GET /connect/{id}/history", 1)],
            g.as_user(Alice).ok(q, json!({ "id": connect_run["id"] })),
        )
        .await;
    assert_eq!(found["node"]["__typename"], "Run");
    assert_eq!(found["node"]["nativeId"], connect_run["nativeId"]);
}
