//! Every mutation against the sandbox, each followed by reads that show the change.

mod common;

use common::{browse, codes, edges, Gateway, Who};
use flowgate::sandbox::DEMO_USERS;
use serde_json::{json, Value};

#[tokio::test]
async fn sign_in_and_token_creation() {
    let g = Gateway::start().await;
    let alice = &DEMO_USERS[0];
    let q = "mutation($u: String!, $p: String!) { appmixerSignIn(input: { username: $u, password: $p }) { token user { email } } }";
    let d = g
        .query(
            Who::Nobody,
            q,
            json!({ "u": alice.username, "p": alice.password }),
        )
        .await;
    assert_eq!(d["data"]["appmixerSignIn"]["token"], alice.appmixer_token);
    let bad = g
        .query(Who::Nobody, q, json!({ "u": alice.username, "p": "nope" }))
        .await;
    assert_eq!(codes(&bad), vec!["UNAUTHENTICATED"]);
    let q = "mutation($k: String!, $s: String!) { createAppyPieAccessToken(input: { tokenKey: $k, secretKey: $s }) { accessToken } }";
    let d = g
        .query(
            Who::Nobody,
            q,
            json!({ "k": alice.token_key, "s": alice.secret_key }),
        )
        .await;
    assert_eq!(
        d["data"]["createAppyPieAccessToken"]["accessToken"],
        alice.appypie_token
    );
    let bad = g
        .query(Who::Nobody, q, json!({ "k": alice.token_key, "s": "nope" }))
        .await;
    assert_eq!(codes(&bad), vec!["UNAUTHENTICATED"]);
    assert_eq!(bad["errors"][0]["extensions"]["vendorCode"], 2036);
}

#[tokio::test]
async fn connect_lifecycle() {
    let g = Gateway::start().await;
    let d = g.ok("{ popularMatches(first: 1) { edges { node { id title triggerApp { id } actionApp { id } trigger { fields { key required } } action { fields { key required } } } } } }", json!({})).await;
    let pm = edges(&d["popularMatches"])[0].clone();

    let mut accounts = Vec::new();
    for app in [&pm["triggerApp"]["id"], &pm["actionApp"]["id"]] {
        let q = "mutation($a: ID!) { connectAppyPieAccount(input: { appId: $a, callbackUrl: \"https://partner.example/cb\" }) { authorizationUrl } }";
        let d = g.ok(q, json!({ "a": app })).await;
        let url = d["connectAppyPieAccount"]["authorizationUrl"].as_str();
        let t = common::callback_token(url.unwrap()).await;
        let d = g
            .ok(
                "query($t: String!) { appyPieAccountByToken(token: $t) { id apps { id } } }",
                json!({ "t": t }),
            )
            .await;
        assert_eq!(&d["appyPieAccountByToken"]["apps"][0]["id"], app);
        accounts.push(d["appyPieAccountByToken"]["id"].clone());
    }

    let q = "mutation($i: CreateConnectInput!) { createConnect(input: $i) { connect { id name status popularMatch { id } triggerAccount { id } } } }";
    let input = json!({ "popularMatchId": pm["id"], "triggerAccountId": accounts[0], "actionAccountId": accounts[1], "name": "From GraphQL" });
    let d = g.ok(q, json!({ "i": input })).await;
    let connect = d["createConnect"]["connect"].clone();
    assert_eq!(
        (connect["name"].as_str(), connect["status"].as_str()),
        (Some("From GraphQL"), Some("STOPPED"))
    );
    assert_eq!(connect["triggerAccount"]["id"], accounts[0]);
    let id = connect["id"].clone();
    let d = g
        .ok(
            "{ connects(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(
        edges(&d["connects"]).iter().any(|c| c["id"] == id),
        "create -> list contains it"
    );

    for (side, step) in [("TRIGGER", "trigger"), ("ACTION", "action")] {
        let options: serde_json::Map<String, Value> = pm[step]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["key"].as_str().unwrap().to_string(), json!("Inbox")))
            .collect();
        let q = "mutation($i: UpdateConnectOptionsInput!) { updateConnectOptions(input: $i) { connect { triggerOptions actionOptions } } }";
        let d = g
            .ok(
                q,
                json!({ "i": { "id": id, "side": side, "options": options } }),
            )
            .await;
        assert_eq!(
            d["updateConnectOptions"]["connect"][format!("{step}Options")],
            Value::Object(options)
        );
    }

    let d = g.ok("mutation($id: ID!) { testConnect(input: { id: $id }) { success message triggerSample connect { runs(first: 1) { edges { node { isTest status } } } } } }", json!({ "id": id })).await;
    assert_eq!(d["testConnect"]["success"], true);
    assert_eq!(
        d["testConnect"]["connect"]["runs"]["edges"][0]["node"]["isTest"],
        true
    );

    let q = "mutation($id: ID!) { enableAutomation(input: { id: $id }) { automation { status } } }";
    let d = g.ok(q, json!({ "id": id })).await;
    assert_eq!(d["enableAutomation"]["automation"]["status"], "RUNNING");
    let d = g
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Connect { status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["node"]["status"], "RUNNING");
    let q = "mutation($id: ID!) { renameAutomation(input: { id: $id, name: \"Renamed\" }) { automation { name } } }";
    assert_eq!(
        g.ok(q, json!({ "id": id })).await["renameAutomation"]["automation"]["name"],
        "Renamed"
    );
    let q =
        "mutation($id: ID!) { disableAutomation(input: { id: $id }) { automation { status } } }";
    assert_eq!(
        g.ok(q, json!({ "id": id })).await["disableAutomation"]["automation"]["status"],
        "STOPPED"
    );
    let d = g
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Connect { name status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["node"], json!({ "name": "Renamed", "status": "STOPPED" }));

    let q = "mutation($id: ID!) { deleteAutomation(input: { id: $id }) { deletedId userErrors { field code message } } }";
    assert_eq!(
        g.ok(q, json!({ "id": id })).await["deleteAutomation"]["deletedId"],
        id
    );
    let d = g
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(d["node"].is_null(), "delete -> gone");
    let again = g.ok(q, json!({ "id": id })).await;
    let refused = &again["deleteAutomation"];
    assert!(refused["deletedId"].is_null(), "{again}");
    assert_eq!(refused["userErrors"][0]["code"], "NOT_FOUND", "{again}");
    assert_eq!(refused["userErrors"][0]["field"], json!(["input"]));
}

#[tokio::test]
async fn flow_lifecycle() {
    let g = Gateway::start().await;
    let descriptor = json!({
        "00000000-0000-4000-8000-000000000001": { "type": "appmixer.utils.controls.OnStart", "label": "Start", "source": {} },
    });
    let q = "mutation($i: CreateFlowInput!) { createFlow(input: $i) { flow { id name status components { componentType } customFields } } }";
    let d = g.ok(q, json!({ "i": { "name": "GraphQL flow", "descriptor": descriptor, "customFields": { "category": "ops" } } })).await;
    let flow = d["createFlow"]["flow"].clone();
    assert_eq!(
        flow["components"][0]["componentType"],
        "appmixer.utils.controls.OnStart"
    );
    let id = flow["id"].clone();
    assert_eq!(
        g.ok("{ flows { totalCount } }", json!({})).await["flows"]["totalCount"],
        41
    );

    let start =
        "mutation($id: ID!) { enableAutomation(input: { id: $id }) { automation { status } } }";
    assert_eq!(
        g.ok(start, json!({ "id": id })).await["enableAutomation"]["automation"]["status"],
        "RUNNING"
    );
    let rename = "mutation($id: ID!, $f: Boolean!) { renameAutomation(input: { id: $id, name: \"New name\", force: $f }) { automation { name } userErrors { code message } } }";
    let refused = g.ok(rename, json!({ "id": id, "f": false })).await;
    let refused = &refused["renameAutomation"];
    assert!(refused["automation"].is_null(), "{refused}");
    assert_eq!(refused["userErrors"][0]["code"], "REJECTED", "{refused}");
    assert!(refused["userErrors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("forceUpdate"));
    assert_eq!(
        g.ok(rename, json!({ "id": id, "f": true })).await["renameAutomation"]["automation"]
            ["name"],
        "New name"
    );
    let update = "mutation($id: ID!) { updateFlow(input: { id: $id, customFields: { category: \"sales\" }, force: true }) { flow { customFields } } }";
    assert_eq!(
        g.ok(update, json!({ "id": id })).await["updateFlow"]["flow"]["customFields"]["category"],
        "sales"
    );
    let stop = "mutation($id: ID!) { disableAutomation(input: { id: $id, background: true }) { ticket automation { status ... on Flow { nativeId stopStatus { state detail } } } } }";
    let d = g.ok(stop, json!({ "id": id })).await;
    let stopped = &d["disableAutomation"];
    assert_eq!(
        stopped["ticket"], stopped["automation"]["nativeId"],
        "a stop in the background answers with the flow's id as its ticket"
    );
    let status = &stopped["automation"]["stopStatus"];
    assert_eq!(status["state"], "COMPLETED");
    assert_eq!(status["detail"], "completed");

    let delete = "mutation($id: ID!) { deleteAutomation(input: { id: $id }) { deletedId } }";
    g.ok(delete, json!({ "id": id })).await;
    assert!(g
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id })
        )
        .await["node"]
        .is_null());
    let delete =
        "mutation($id: ID!) { deleteAutomation(input: { id: $id }) { userErrors { code } } }";
    assert_eq!(
        g.ok(delete, json!({ "id": id })).await["deleteAutomation"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
}

#[tokio::test]
async fn account_mutations() {
    let g = Gateway::start().await;
    let q = "mutation { createAppmixerAccount(input: { service: \"appmixer:github\", token: { accessToken: \"x\" }, name: \"octocat\" }) { account { id name service } } }";
    let d = g.ok(q, json!({})).await;
    let account = d["createAppmixerAccount"]["account"].clone();
    assert_eq!(account["service"], "appmixer:github");
    let id = account["id"].clone();
    let q = "mutation { given: createAppmixerAccount(input: { service: \"appmixer:github\", token: { accessToken: \"y\" }, profileInfo: { login: \"octo\" } }) { account { profileInfo } }
        none: createAppmixerAccount(input: { service: \"appmixer:github\", token: { accessToken: \"z\" }, requestProfileInfo: false }) { account { profileInfo } } }";
    let d = g.ok(q, json!({})).await;
    assert_eq!(
        d["given"]["account"]["profileInfo"],
        json!({ "login": "octo" })
    );
    assert_eq!(d["none"]["account"]["profileInfo"], json!({}));

    let q = "mutation($id: ID!) { updateAppmixerAccount(input: { id: $id, displayName: \"Work GitHub\" }) { account { displayName } } }";
    assert_eq!(
        g.ok(q, json!({ "id": id })).await["updateAppmixerAccount"]["account"]["displayName"],
        "Work GitHub"
    );
    let q = "mutation($id: ID!) { testAppmixerAccount(input: { id: $id }) { tokens { tokenId valid } } }";
    assert_eq!(
        g.ok(q, json!({ "id": id })).await["testAppmixerAccount"]["tokens"][0]["valid"],
        true
    );
    let q = "mutation($id: ID!) { removeAppmixerAccount(input: { id: $id }) { deletedId userErrors { code } } }";
    g.ok(q, json!({ "id": id })).await;
    assert!(g
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id })
        )
        .await["node"]
        .is_null());
    let again = g.ok(q, json!({ "id": id })).await;
    assert_eq!(
        again["removeAppmixerAccount"]["userErrors"][0]["code"], "NOT_FOUND",
        "{again}"
    );

    let d = g
        .ok(
            "{ connects(first: 1) { edges { node { triggerAccount { id } } } } }",
            json!({}),
        )
        .await;
    let pie_account = edges(&d["connects"])[0]["triggerAccount"]["id"].clone();
    let wrong = g
        .query(
            Who::Both(0),
            "mutation($id: ID!) { removeAppmixerAccount(input: { id: $id }) { deletedId userErrors { field code } } }",
            json!({ "id": pie_account }),
        )
        .await;
    assert_eq!(
        wrong["data"]["removeAppmixerAccount"]["userErrors"],
        json!([{ "field": ["input", "id"], "code": "INVALID" }])
    );
}

#[tokio::test]
async fn auth_session_and_assignment() {
    let g = Gateway::start().await;
    let q = "{ flows(first: 40) { edges { node { components { id componentType } } } } }";
    let d = g.ok(q, json!({})).await;
    let component = common::service_component(&d["flows"]);
    let (cid, ctype) = (component["id"].clone(), component["componentType"].clone());

    let ticket = g
        .ok("mutation { createAuthTicket { ticket } }", json!({}))
        .await["createAuthTicket"]["ticket"]
        .clone();
    let q = "mutation($t: String!, $c: String!, $id: ID) { appmixerAuthUrl(input: { componentType: $c, ticket: $t, componentId: $id }) { authUrl } }";
    let url = g.ok(q, json!({ "t": ticket, "c": ctype, "id": cid })).await["appmixerAuthUrl"]
        ["authUrl"]
        .clone();
    let q = "mutation($t: String!, $c: String!) { startAuthSession(input: { componentType: $c, ticket: $t }) { service } }";
    assert!(
        g.ok(q, json!({ "t": ticket, "c": ctype })).await["startAuthSession"]["service"]
            .as_str()
            .unwrap()
            .starts_with("appmixer:")
    );
    let status =
        "query($t: String!) { appmixerAuthStatus(ticket: $t) { finished account { id service } } }";
    assert_eq!(
        g.ok(status, json!({ "t": ticket })).await["appmixerAuthStatus"]["finished"],
        false
    );
    browse(url.as_str().unwrap()).await;
    let d = g.ok(status, json!({ "t": ticket })).await;
    assert_eq!(d["appmixerAuthStatus"]["finished"], true);
    let new_account = d["appmixerAuthStatus"]["account"]["id"].clone();
    assert!(new_account.is_string());

    let q = "mutation($c: ID!) { unassignAccount(input: { componentId: $c }) { componentId account { id } } }";
    let d = g.ok(q, json!({ "c": cid })).await;
    assert!(d["unassignAccount"]["account"].is_null());
    let q = "mutation($c: ID!, $a: ID!) { assignAccount(input: { componentId: $c, accountId: $a }) { componentId account { id } } }";
    let d = g.ok(q, json!({ "c": cid, "a": new_account })).await;
    assert_eq!(d["assignAccount"]["account"]["id"], new_account);
}

#[tokio::test]
async fn mutations_over_get_are_refused() {
    let g = Gateway::start().await;
    let url = format!(
        "{}?query=mutation%20%7BcreateAuthTicket%7Bticket%7D%7D",
        g.url
    );
    let res: Value = reqwest::Client::new()
        .get(&url)
        .header("X-Appmixer-Token", DEMO_USERS[0].appmixer_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(codes(&res), vec!["BAD_USER_INPUT"]);
    assert_eq!(g.calls(), 0);
    let url = format!("{}?query=%7Bviewer%7Bappmixer%7Bemail%7D%7D%7D", g.url);
    let res: Value = reqwest::Client::new()
        .get(&url)
        .header("X-Appmixer-Token", DEMO_USERS[0].appmixer_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        res["data"]["viewer"]["appmixer"]["email"],
        "alice@example.com"
    );
}

/// The routes each sandbox has served, both vendors together.
fn hits(g: &Gateway) -> std::collections::BTreeMap<String, u64> {
    let mut all = g.sandbox.appypie.hooks.counts();
    all.extend(g.sandbox.appmixer.hooks.counts());
    all
}

#[tokio::test]
async fn a_write_whose_result_cannot_be_read_is_still_reported_as_done() {
    use flowgate::sandbox::{Fault, FaultRule};
    let g = Gateway::start().await;
    g.sandbox
        .appmixer
        .hooks
        .add_fault(FaultRule::new("/flows/*", Fault::Status { status: 500 }).method("GET"));
    let q = "mutation { createFlow(input: { name: \"Kept\" }) { id flow { name } userErrors { code } } }";
    let res = g.query(Who::Both(0), q, json!({})).await;
    let payload = &res["data"]["createFlow"];
    assert!(payload["id"].is_string(), "the write happened: {res}");
    assert!(payload["flow"].is_null());
    assert_eq!(payload["userErrors"], json!([]));
    let error = &res["errors"][0];
    assert_eq!(error["path"], json!(["createFlow", "flow"]), "{res}");
    assert_eq!(error["extensions"]["readAfterWrite"], true);
    assert_eq!(error["extensions"]["code"], "UPSTREAM_ERROR");
    assert_eq!(hits(&g)["POST /flows"], 1, "sent once");
    g.sandbox.appmixer.hooks.clear_faults();
    let read = g
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Flow { name } } }",
            json!({ "id": payload["id"] }),
        )
        .await;
    assert_eq!(read["node"]["name"], "Kept");
}

#[tokio::test]
async fn input_the_caller_can_fix_comes_back_as_user_errors_and_writes_nothing() {
    let g = Gateway::start().await;
    let d = g
        .ok("{ flows(first: 1) { edges { node { id } } } }", json!({}))
        .await;
    let flow = edges(&d["flows"])[0]["id"].clone();
    let before = hits(&g);
    let q = "mutation($m: ID!) { createConnect(input: { popularMatchId: $m, triggerAccountId: $m, actionAccountId: $m }) { connect { id } userErrors { field code message } } }";
    let res = g.ok(q, json!({ "m": flow })).await;
    let errors = &res["createConnect"]["userErrors"];
    assert_eq!(
        errors[0]["field"],
        json!(["input", "popularMatchId"]),
        "{res}"
    );
    assert_eq!(errors[0]["code"], "INVALID");
    assert!(res["createConnect"]["connect"].is_null());
    let q = "mutation($id: ID!) { renameAutomation(input: { id: $id, name: \"  \" }) { userErrors { field code } } }";
    let res = g.ok(q, json!({ "id": flow })).await;
    assert_eq!(
        res["renameAutomation"]["userErrors"],
        json!([{ "field": ["input", "name"], "code": "INVALID" }])
    );
    assert_eq!(hits(&g), before, "nothing was sent upstream");
}

#[tokio::test]
async fn a_renamed_or_toggled_connect_is_read_fresh() {
    let g = Gateway::start().await;
    let d = g
        .ok(
            "{ connects(first: 1) { edges { node { id updatedAt } } } }",
            json!({}),
        )
        .await;
    let connect = edges(&d["connects"])[0].clone();
    let q = "mutation($id: ID!) { renameAutomation(input: { id: $id, name: \"Fresh\" }) { automation { name updatedAt } } }";
    let renamed =
        g.ok(q, json!({ "id": connect["id"] })).await["renameAutomation"]["automation"].clone();
    let listed = g
        .ok(
            "{ connects(first: 1) { edges { node { name updatedAt } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        renamed,
        edges(&listed["connects"])[0],
        "the payload is what a later read shows"
    );
    assert_ne!(
        renamed["updatedAt"], connect["updatedAt"],
        "not the stale row"
    );
}

/// An id whose vendor part a URL would not carry as it is names nothing, and nothing goes out:
/// `.` and `..` are steps in the path (`DELETE /flows/.` is `DELETE /flows`), and a tab or a
/// newline is dropped (a real flow's id with a tab added would delete that flow).
#[tokio::test]
async fn an_id_a_url_would_change_names_nothing_and_sends_nothing() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let g = Gateway::start().await;
    let first_flow = "{ flows(first: 1) { edges { node { nativeId } } } }";
    let listed = g.ok(first_flow, json!({})).await;
    let real = edges(&listed["flows"])[0]["nativeId"]
        .as_str()
        .unwrap()
        .to_string();
    let delete = "mutation($id: ID!) { deleteAutomation(input: { id: $id }) { deletedId userErrors { code } } }";
    let node = "query($id: ID!) { node(id: $id) { id } }";
    let natives = [
        "Flow:appmixer:.".to_string(),
        "Flow:appmixer:..".to_string(),
        "Connect:appypie:..".to_string(),
        format!("Flow:appmixer:{real}\t"),
        format!("Flow:appmixer:\n{real}"),
    ];
    for native in natives {
        let vars = json!({ "id": URL_SAFE_NO_PAD.encode(&native) });
        let deleted = g.costs(&[], g.ok(delete, vars.clone())).await;
        let refused = &deleted["deleteAutomation"];
        assert!(refused["deletedId"].is_null(), "{native:?}: {deleted}");
        assert_eq!(
            refused["userErrors"][0]["code"], "NOT_FOUND",
            "{native:?}: {deleted}"
        );
        // Flows and connects are looked up in their lists, which are no other route.
        let read = g.ok(node, vars).await;
        assert!(read["node"].is_null(), "{native:?}: {read}");
    }
    let still = g.ok(first_flow, json!({})).await;
    assert_eq!(edges(&still["flows"])[0]["nativeId"], real.as_str());
}
