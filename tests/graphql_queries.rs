//! Every query field against the sandbox, checking the data.

mod common;

use common::{codes, edges, Gateway, Who};
use serde_json::{json, Value};

#[tokio::test]
async fn viewer_per_vendor() {
    let g = Gateway::start().await;
    let d = g
        .ok(
            "{ viewer { appmixer { email username plan scope } appypie { email name } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["viewer"]["appmixer"]["email"], "alice@example.com");
    assert_eq!(d["viewer"]["appmixer"]["scope"], json!(["user"]));
    assert_eq!(d["viewer"]["appypie"]["name"], "Alice Moreau");
}

#[tokio::test]
async fn apps_search_category_paging_and_relations() {
    let g = Gateway::start().await;
    let d = g.ok("{ apps(first: 100) { totalCount } appypie: apps(provider: APPYPIE) { totalCount } mixer: apps(provider: APPMIXER) { totalCount } }", json!({})).await;
    assert_eq!(d["apps"]["totalCount"], 90);
    assert_eq!(d["appypie"]["totalCount"], 60);
    assert_eq!(d["mixer"]["totalCount"], 30);

    let q = "query($s: String) { apps(search: $s) { edges { node { id provider nativeId name icon description authType seoLink
        category { id name apps(first: 100) { edges { node { name } } } } triggers { id name kind fields { key kind required } app { name } } actions { name } accounts { name } triggerCount actionCount } } } }";
    let d = g.ok(q, json!({ "s": "gmail" })).await;
    let apps = edges(&d["apps"]);
    assert_eq!(apps.len(), 2, "Gmail on both vendors");
    let pie = apps.iter().find(|a| a["provider"] == "APPYPIE").unwrap();
    assert!(pie["description"].as_str().unwrap().contains("Gmail"));
    assert_eq!(pie["seoLink"], "gmail");
    assert!(edges(&pie["category"]["apps"])
        .iter()
        .any(|a| a["name"] == "Gmail"));
    assert!(pie["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["app"]["name"] == "Gmail"));
    for app in &apps {
        assert_eq!(
            app["triggerCount"],
            app["triggers"].as_array().unwrap().len()
        );
        assert_eq!(app["actionCount"], app["actions"].as_array().unwrap().len());
    }
    let mixer = apps.iter().find(|a| a["provider"] == "APPMIXER").unwrap();
    assert_eq!(mixer["nativeId"], "appmixer.google.gmail");
    assert!(mixer["authType"].is_null());
    assert!(
        !mixer["triggers"].as_array().unwrap().is_empty()
            && !mixer["actions"].as_array().unwrap().is_empty()
    );
    assert!(
        !mixer["accounts"].as_array().unwrap().is_empty(),
        "Alice has a Google account"
    );

    let category = pie["category"]["id"].as_str().unwrap();
    let d = g.ok("query($c: ID) { apps(categoryId: $c, first: 100) { edges { node { category { id } } } } }", json!({ "c": category })).await;
    assert!(edges(&d["apps"])
        .iter()
        .all(|a| a["category"]["id"] == category));

    let p1 = g
        .ok(
            "{ apps(first: 5) { pageInfo { hasNextPage endCursor } edges { node { id } } } }",
            json!({}),
        )
        .await;
    let cursor = p1["apps"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let p2 = g.ok("query($a: String) { apps(first: 5, after: $a) { pageInfo { hasPreviousPage } edges { node { id } } } }", json!({ "a": cursor })).await;
    assert_eq!(p2["apps"]["pageInfo"]["hasPreviousPage"], true);
    let all = g
        .ok("{ apps(first: 10) { edges { node { id } } } }", json!({}))
        .await;
    let ids: Vec<Value> = edges(&all["apps"])
        .into_iter()
        .map(|n| n["id"].clone())
        .collect();
    let paged: Vec<Value> = edges(&p1["apps"])
        .into_iter()
        .chain(edges(&p2["apps"]))
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(ids, paged);
}

#[tokio::test]
async fn categories_of_both_vendors() {
    let g = Gateway::start().await;
    let d = g
        .ok(
            "{ categories(first: 100) { totalCount edges { node { provider name slug } } } }",
            json!({}),
        )
        .await;
    let cats = edges(&d["categories"]);
    assert_eq!(
        cats.iter().filter(|c| c["provider"] == "APPYPIE").count(),
        8
    );
    assert!(cats
        .iter()
        .any(|c| c["provider"] == "APPMIXER" && c["name"] == "crm"));
}

#[tokio::test]
async fn accounts_and_what_uses_them() {
    let g = Gateway::start().await;
    let d = g.ok("{ accounts(first: 100) { edges { node { id provider name service status apps { name } automations(first: 100) { nodes { __typename name } } } } } }", json!({})).await;
    let accounts = edges(&d["accounts"]);
    let mixer: Vec<_> = accounts
        .iter()
        .filter(|a| a["provider"] == "APPMIXER")
        .collect();
    assert_eq!(mixer.len(), 25);
    assert!(mixer
        .iter()
        .all(|a| a["service"].as_str().unwrap().starts_with("appmixer:")
            && !a["apps"].as_array().unwrap().is_empty()));
    let pie: Vec<_> = accounts
        .iter()
        .filter(|a| a["provider"] == "APPYPIE")
        .collect();
    assert!(!pie.is_empty());
    assert!(pie.iter().all(|a| a["automations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["__typename"] == "Connect")));
    assert!(
        pie.iter()
            .all(|a| !a["automations"]["nodes"].as_array().unwrap().is_empty()),
        "listed because a connect uses it"
    );

    let app = pie[0]["apps"][0]["name"].as_str().unwrap();
    let d = g
        .ok(
            "query($s: String) { apps(search: $s, provider: APPYPIE) { edges { node { id } } } }",
            json!({ "s": app }),
        )
        .await;
    let app_id = edges(&d["apps"])[0]["id"].clone();
    let d = g
        .ok(
            "query($a: ID) { accounts(filter: { appId: $a }) { edges { node { id } } } }",
            json!({ "a": app_id }),
        )
        .await;
    assert!(edges(&d["accounts"])
        .iter()
        .any(|a| a["id"] == pie[0]["id"]));

    let name = mixer[0]["name"].as_str().unwrap().to_uppercase();
    let q = "query($s: String) { expired: accounts(filter: { status: EXPIRED }, first: 100) { edges { node { status } } }
        named: accounts(filter: { search: $s }, first: 100) { edges { node { name } } } }";
    let d = g.ok(q, json!({ "s": name })).await;
    let expired = edges(&d["expired"]);
    let all_expired = accounts.iter().filter(|a| a["status"] == "EXPIRED").count();
    assert_eq!(expired.len(), all_expired);
    assert!(expired.iter().all(|a| a["status"] == "EXPIRED"));
    let named = edges(&d["named"]);
    assert!(named.iter().any(|a| a["name"] == mixer[0]["name"]));
    assert!(named.len() < accounts.len());
}

#[tokio::test]
async fn automations_mix_both_vendors() {
    let g = Gateway::start().await;
    let d = g.ok("{ automations(first: 100) { totalCount edges { node { __typename id provider name status updatedAt } } } }", json!({})).await;
    assert_eq!(d["automations"]["totalCount"], 80);
    let list = edges(&d["automations"]);
    assert_eq!(list.len(), 80);
    assert!(list
        .windows(2)
        .all(|w| w[0]["updatedAt"].as_str() >= w[1]["updatedAt"].as_str()));
    assert_eq!(
        list.iter().filter(|a| a["__typename"] == "Flow").count(),
        40
    );
    let d = g
        .ok(
            "{ automations(filter: { status: RUNNING }, first: 100) { edges { node { status } } } }",
            json!({}),
        )
        .await;
    assert!(edges(&d["automations"])
        .iter()
        .all(|a| a["status"] == "RUNNING"));
}

#[tokio::test]
async fn flows_filter_pattern_sort_and_details() {
    let g = Gateway::start().await;
    let d = g
        .ok(
            "{ flows(first: 100) { totalCount edges { node { id name status } } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["flows"]["totalCount"], 40);
    let d = g
        .ok(
            "{ flows(filter: { status: RUNNING }, first: 3) { totalCount edges { node { status } } } all: flows(filter: { status: RUNNING }, first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(edges(&d["flows"]).iter().all(|f| f["status"] == "RUNNING"));
    assert_eq!(
        d["flows"]["totalCount"],
        edges(&d["all"]).len(),
        "a filtered total counts every match"
    );
    let d = g.ok("{ flows(sort: UPDATED_DESC, first: 3) { pageInfo { hasNextPage } edges { cursor node { updatedAt } } } }", json!({})).await;
    assert_eq!(d["flows"]["pageInfo"]["hasNextPage"], true);
    let f = edges(&d["flows"]);
    assert!(f[0]["updatedAt"].as_str() >= f[1]["updatedAt"].as_str());

    let q = "{ flows(first: 1, filter: { status: RUNNING }) { edges { node { id nativeId createdAt startedAt customFields descriptor thumbnail sharedWith { email permissions }
        components { id componentType label app { name } trigger { name } action { name } }
        apps { name } accounts { service } runs(first: 3) { edges { node { status startedAt componentTypes } } } stopStatus { state detail stepsTotal } } } } }";
    let d = g.ok(q, json!({})).await;
    let flow = &edges(&d["flows"])[0];
    let components = flow["components"].as_array().unwrap();
    assert!(components.len() >= 2);
    assert!(components.iter().any(|c| c["trigger"]["name"].is_string()));
    assert!(components.iter().all(|c| c["app"]["name"].is_string()));
    assert!(flow["descriptor"].is_object() && flow["customFields"]["category"].is_string());
    assert_eq!(flow["stopStatus"]["state"], "IN_PROGRESS");
    assert_eq!(flow["stopStatus"]["detail"], "running");
    assert!(flow["thumbnail"]
        .as_str()
        .unwrap()
        .starts_with("data:image/svg+xml"));
    assert!(flow["sharedWith"].is_array());
    assert_eq!(flow["stopStatus"]["stepsTotal"], components.len());
    let needs_auth = components.iter().any(|c| {
        !c["componentType"]
            .as_str()
            .unwrap()
            .starts_with("appmixer.utils.")
    });
    assert_eq!(!flow["accounts"].as_array().unwrap().is_empty(), needs_auth);

    let pattern = flow["nativeId"].as_str().unwrap()[..8].to_string();
    let d = g
        .ok(
            "query($p: String) { flows(filter: { search: $p }) { edges { node { id } } } }",
            json!({ "p": pattern }),
        )
        .await;
    assert_eq!(edges(&d["flows"])[0]["id"], flow["id"]);

    let category = flow["customFields"]["category"].clone();
    let q = "query($c: String!) { flows(filter: { customFields: [{ path: \"category\", value: $c }] }, first: 100) {
        totalCount edges { node { customFields } } } }";
    let d = g.ok(q, json!({ "c": category })).await;
    let matching = edges(&d["flows"]);
    assert!(!matching.is_empty() && (matching.len() as u64) < 40);
    assert!(matching
        .iter()
        .all(|f| f["customFields"]["category"] == category));
    let bad =
        "{ flows(filter: { customFields: [{ path: \"a:b\", value: \"x\" }] }) { totalCount } }";
    let before = g.hits();
    let res = g.query(Who::Both(0), bad, json!({})).await;
    assert_eq!(
        res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{res}"
    );
    assert_eq!(g.hits(), before, "a bad filter costs no upstream call");
}

#[tokio::test]
async fn connects_popular_matches_and_details() {
    let g = Gateway::start().await;
    let d = g.ok("{ connects(first: 100) { totalCount } on: connects(enabled: true, first: 100) { edges { node { status } } } }", json!({})).await;
    assert_eq!(d["connects"]["totalCount"], 40);
    assert!(edges(&d["on"]).iter().all(|c| c["status"] == "RUNNING"));

    let q = "{ popularMatches(first: 100) { totalCount edges { node { id nativeId title description triggerApp { id name } trigger { name app { name } } actionApp { name } action { name } } } } }";
    let d = g.ok(q, json!({})).await;
    assert_eq!(d["popularMatches"]["totalCount"], 30);
    let pm = &edges(&d["popularMatches"])[0];
    assert_eq!(pm["trigger"]["app"]["name"], pm["triggerApp"]["name"]);
    assert!(pm["description"].as_str().unwrap().starts_with("When "));
    let d = g.ok("query($a: ID) { popularMatches(appId: $a, first: 100) { edges { node { triggerApp { id } actionApp { id } } } } }", json!({ "a": pm["triggerApp"]["id"] })).await;
    assert!(edges(&d["popularMatches"])
        .iter()
        .all(|m| m["triggerApp"]["id"] == pm["triggerApp"]["id"]
            || m["actionApp"]["id"] == pm["triggerApp"]["id"]));

    let q = "{ connects(first: 40) { edges { node { id triggerOptions actionOptions runs(first: 2) { edges { node { status isTest startedAt message } } }
        trigger { fields { key kind dynamic } } } } } }";
    let d = g.ok(q, json!({})).await;
    let with_select = edges(&d["connects"])
        .into_iter()
        .find(|c| {
            c["trigger"]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["kind"] == "SELECT")
        })
        .expect("some trigger has a select field");
    let key = with_select["trigger"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "SELECT")
        .unwrap()["key"]
        .clone();
    let d = g.ok("query($id: ID!, $k: String!) { node(id: $id) { ... on Connect { dropdownOptions(side: TRIGGER, fieldKey: $k) { label value } } } }", json!({ "id": with_select["id"], "k": key })).await;
    assert_eq!(d["node"]["dropdownOptions"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn node_and_nodes_resolve_every_kind() {
    let g = Gateway::start().await;
    let q = "{ connects(first: 1) { edges { node { id trigger { id } action { id } triggerApp { id category { id } } triggerAccount { id } popularMatch { id } } } }
        flows(first: 1, filter: { status: RUNNING }) { edges { node { id components { id trigger { id } action { id } } } } }
        accounts(filter: { provider: APPMIXER }, first: 1) { edges { node { id } } } viewer { appmixer { id } appypie { id } } }";
    let d = g.ok(q, json!({})).await;
    let c = &edges(&d["connects"])[0];
    let f = &edges(&d["flows"])[0];
    let mixer_trigger = f["components"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|x| x["trigger"]["id"].as_str())
        .unwrap();
    let mixer_action = f["components"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|x| x["action"]["id"].as_str())
        .unwrap();
    let mut ids = vec![
        c["id"].clone(),
        c["trigger"]["id"].clone(),
        c["action"]["id"].clone(),
        c["triggerApp"]["id"].clone(),
        c["triggerApp"]["category"]["id"].clone(),
        c["triggerAccount"]["id"].clone(),
        f["id"].clone(),
        json!(mixer_trigger),
        json!(mixer_action),
        edges(&d["accounts"])[0]["id"].clone(),
        f["components"][0]["id"].clone(),
        d["viewer"]["appmixer"]["id"].clone(),
        d["viewer"]["appypie"]["id"].clone(),
    ];
    if c["popularMatch"]["id"].is_string() {
        ids.push(c["popularMatch"]["id"].clone());
    }
    let d = g
        .ok(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": ids }),
        )
        .await;
    let found = d["nodes"].as_array().unwrap();
    for (id, node) in ids.iter().zip(found) {
        assert_eq!(&node["id"], id, "{node}");
    }
    let kinds: Vec<&str> = found
        .iter()
        .map(|n| n["__typename"].as_str().unwrap())
        .collect();
    assert_eq!(
        &kinds[..13],
        [
            "Connect",
            "Trigger",
            "Action",
            "App",
            "Category",
            "Account",
            "Flow",
            "Trigger",
            "Action",
            "Account",
            "FlowComponent",
            "AppmixerUser",
            "AppyPieProfile"
        ]
    );

    let res = g
        .query(
            Who::Both(1),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert!(
        res["data"]["node"].is_null(),
        "Bob cannot see Alice's connect"
    );
    let res = g
        .query(
            Who::Both(0),
            "{ node(id: \"bm90LWFuLWlk\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(codes(&res), vec!["BAD_USER_INPUT"]);
    let res = g
        .query(Who::Both(0), "{ node(id: \"%%%\") { id } }", json!({}))
        .await;
    assert_eq!(codes(&res), vec!["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn component_names_and_usable_accounts() {
    let g = Gateway::start().await;
    let d = g.ok("{ appmixerComponentNames }", json!({})).await;
    assert!(d["appmixerComponentNames"].as_array().unwrap().len() > 100);
    let q = "{ flows(first: 40) { edges { node { components { id componentType trigger { usableAccounts { assigned } } action { usableAccounts { assigned } } } } } } }";
    let d = g.ok(q, json!({})).await;
    let component = common::service_component(&d["flows"]);
    let q = "query($id: ID) { flows(first: 40) { edges { node { components { id action { usableAccounts(componentId: $id) { assigned tokenValid account { service } } }
        trigger { usableAccounts(componentId: $id) { assigned account { service } } } } } } } }";
    let d = g.ok(q, json!({ "id": component["id"] })).await;
    let c = edges(&d["flows"])
        .into_iter()
        .flat_map(|f| f["components"].as_array().unwrap().clone())
        .find(|c| c["id"] == component["id"])
        .unwrap();
    let side = if c["trigger"].is_null() {
        &c["action"]
    } else {
        &c["trigger"]
    };
    let accounts = side["usableAccounts"].as_array().unwrap();
    assert_eq!(accounts.iter().filter(|a| a["assigned"] == true).count(), 1);
}

#[tokio::test]
async fn times_are_date_times_and_closed_sets_are_enums() {
    let g = Gateway::start().await;
    let q = "{ connects(first: 3) { edges { node { createdAt updatedAt lastRun { startedAt } } } }
        flows(first: 3) { edges { node { createdAt updatedAt } } }
        accounts(first: 100) { edges { node { provider status } } }
        apps(provider: APPYPIE, first: 5) { edges { node { authType } } } }";
    let d = g.ok(q, json!({})).await;
    let rfc3339 = |v: &Value| {
        let t = v.as_str().unwrap_or_default();
        t.len() >= 20
            && t.as_bytes()[10] == b'T'
            && (t.ends_with('Z') || t[t.len() - 6..].starts_with(['+', '-']))
    };
    for c in edges(&d["connects"])
        .iter()
        .chain(edges(&d["flows"]).iter())
    {
        assert!(rfc3339(&c["createdAt"]) && rfc3339(&c["updatedAt"]), "{c}");
    }
    for a in &edges(&d["accounts"]) {
        let expected: &[&str] = if a["provider"] == "APPYPIE" {
            &["ACTIVE", "EXPIRED"]
        } else {
            &["UNCHECKED"]
        };
        assert!(expected.contains(&a["status"].as_str().unwrap()), "{a}");
    }
    for app in edges(&d["apps"]) {
        assert!(
            ["O_AUTH_V2", "API_KEY", "BASIC_AUTH"].contains(&app["authType"].as_str().unwrap()),
            "{app}"
        );
    }
}

/// The native ids of a page of `automations`, and its end cursor.
async fn automations_page(g: &Gateway, args: &str, after: Value) -> (Vec<String>, Value) {
    let q = format!("query($after: String) {{ automations({args}, after: $after) {{ pageInfo {{ endCursor }} edges {{ node {{ nativeId }} }} }} }}");
    let d = g.ok(&q, json!({ "after": after })).await;
    let ids = edges(&d["automations"])
        .iter()
        .map(|a| a["nativeId"].as_str().unwrap().to_string())
        .collect();
    (ids, d["automations"]["pageInfo"]["endCursor"].clone())
}

#[tokio::test]
async fn automations_filter_sort_and_keep_their_cursors_valid() {
    let g = Gateway::start().await;
    let q = "{ automations(sort: NAME_ASC, first: 100) { totalCount edges { node { __typename nativeId name status
        apps { id } accounts { id } } } } }";
    let d = g.ok(q, json!({})).await;
    let all = edges(&d["automations"]);
    let names: Vec<String> = all
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(
        names.windows(2).all(|w| w[0] <= w[1]),
        "NAME_ASC sorts by name"
    );

    let connect = all.iter().find(|a| a["__typename"] == "Connect").unwrap();
    let (app, account) = (
        connect["apps"][0]["id"].clone(),
        connect["accounts"][0]["id"].clone(),
    );
    let word = connect["name"]
        .as_str()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_uppercase();
    let filtered = "query($f: AutomationFilter) { automations(filter: $f, first: 100) { totalCount edges { node { __typename name status apps { id } accounts { id } } } } }";
    for filter in [
        json!({ "appId": app }),
        json!({ "accountId": account }),
        json!({ "search": word }),
        json!({ "provider": "APPYPIE", "status": "RUNNING" }),
    ] {
        let d = g.ok(filtered, json!({ "f": filter })).await;
        let found = edges(&d["automations"]);
        let expected = all.iter().filter(|a| {
            filter
                .get("appId")
                .is_none_or(|id| a["apps"].as_array().unwrap().iter().any(|x| x["id"] == *id))
                && filter.get("accountId").is_none_or(|id| {
                    a["accounts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["id"] == *id)
                })
                && filter.get("search").is_none_or(|w| {
                    a["name"]
                        .as_str()
                        .unwrap()
                        .to_uppercase()
                        .contains(w.as_str().unwrap())
                })
                && filter
                    .get("provider")
                    .is_none_or(|_| a["__typename"] == "Connect")
                && filter.get("status").is_none_or(|s| a["status"] == *s)
        });
        assert_eq!(found.len(), expected.count(), "{filter}");
        assert!(!found.is_empty(), "{filter}");
    }

    // A cursor names a place in the order: removing what came before it moves nothing after it.
    let (first, cursor) = automations_page(&g, "sort: NAME_ASC, first: 5", Value::Null).await;
    let (expected, _) = automations_page(&g, "sort: NAME_ASC, first: 5", cursor.clone()).await;
    let gone = all
        .iter()
        .find(|a| a["nativeId"] == first[1].as_str())
        .unwrap();
    let id = g
        .ok(
            "{ automations(sort: NAME_ASC, first: 2) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let id = edges(&id["automations"])[1]["id"].clone();
    assert_eq!(gone["nativeId"].as_str(), Some(first[1].as_str()));
    g.ok(
        "mutation($id: ID!) { deleteAutomation(input: { id: $id }) { deletedId } }",
        json!({ "id": id }),
    )
    .await;
    let (after_delete, _) = automations_page(&g, "sort: NAME_ASC, first: 5", cursor.clone()).await;
    assert_eq!(after_delete, expected, "the next page is the same page");
    let other =
        "query($after: String) { automations(sort: UPDATED_DESC, after: $after) { totalCount } }";
    let res = g
        .query(Who::Both(0), other, json!({ "after": cursor }))
        .await;
    assert_eq!(
        codes(&res),
        vec!["BAD_USER_INPUT"],
        "a cursor of another order"
    );
}

#[tokio::test]
async fn appmixer_triggers_and_actions_have_their_manifest_fields() {
    let g = Gateway::start().await;
    let q = "{ apps(provider: APPMIXER, search: \"gmail\") { edges { node { actions { fields { key label kind required dynamic port } }
        triggers { usableAccounts { assigned tokenValid } } } } } }";
    let d = g.ok(q, json!({})).await;
    let gmail = &edges(&d["apps"])[0];
    for action in gmail["actions"].as_array().unwrap() {
        assert_eq!(
            action["fields"],
            json!([{ "key": "text", "label": "Text", "kind": "STRING", "required": true, "dynamic": false, "port": "in" }])
        );
    }
    let accounts = gmail["triggers"][0]["usableAccounts"].as_array().unwrap();
    assert!(!accounts.is_empty());
    assert!(
        accounts
            .iter()
            .all(|a| a["assigned"].is_null() && a["tokenValid"].is_null()),
        "unknown is null, not a guess"
    );
}

/// The lean resolution of pages and listed objects (plain fields answered in place, edges put
/// together without an object each) against the usual one (inline fragments make every page,
/// edge and object take it): the same answer, field for field.
#[tokio::test]
async fn listed_objects_answer_the_same_whichever_way_they_are_resolved() {
    let g = Gateway::start().await;
    let automation = "__typename id provider nativeId name status createdAt updatedAt";
    let account =
        "__typename id provider nativeId name label: name displayName status service createdAt";
    let query = |usual: bool| {
        let on = |ty: &str, fields: String| match usual {
            true => format!("... on {ty} {{ {fields} }}"),
            false => fields,
        };
        let page = |ty: &str, node: String| {
            let edge = on(
                &format!("{ty}Edge"),
                format!("__typename cursor node {{ {node} }}"),
            );
            on(
                &format!("{ty}Connection"),
                format!("__typename totalCount pageInfo {{ hasNextPage endCursor }} edges {{ {edge} }} all: nodes {{ {node} }}"),
            )
        };
        let nested = page("Automation", on("Automation", automation.into()));
        let accounts = page(
            "Account",
            on(
                "Account",
                format!("{account} automations(first: 100) {{ {nested} }}"),
            ),
        );
        format!(
            "{{ accounts(first: 100) {{ {accounts} }} flows(first: 100) {{ {} }} connects(first: 100) {{ {} }} automations(first: 100) {{ {} }} }}",
            page("Flow", on("Flow", automation.into())),
            page("Connect", on("Connect", automation.into())),
            page("Automation", on("Automation", automation.into())),
        )
    };
    let lean = g.ok(&query(false), json!({})).await;
    let usual = g.ok(&query(true), json!({})).await;
    assert_eq!(lean, usual);
    let accounts = edges(&lean["accounts"]);
    let providers: Vec<&Value> = accounts.iter().map(|a| &a["provider"]).collect();
    assert!(providers.contains(&&json!("APPMIXER")) && providers.contains(&&json!("APPYPIE")));
    let used = accounts
        .iter()
        .find(|a| !a["automations"]["all"].as_array().unwrap().is_empty())
        .expect("an account some automation uses");
    assert_eq!(used["label"], used["name"]);
    assert_eq!(used["automations"]["__typename"], "AutomationConnection");
    assert_eq!(lean["accounts"]["edges"][0]["__typename"], "AccountEdge");
    assert!(edges(&lean["automations"])
        .iter()
        .any(|a| a["__typename"] == "Connect"));
}
