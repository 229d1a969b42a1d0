//! Runs of both vendors: Appmixer log lines grouped into runs, a fair share of the batched
//! logs read for every flow, and pages that follow the vendors' own paging.

mod common;

use common::{edges, Gateway};
use flowgate::sandbox::DEMO_USERS;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Milliseconds after the newest fixture entry, so that these entries are the newest.
const LATER: i64 = 4_102_444_800_000;

fn log(correlation: &str, severity: &str, component: &str, msg: &str) -> Value {
    json!({ "correlationId": correlation, "severity": severity, "componentType": component, "msg": msg })
}

/// Alice's first `n` flows: (global id, native id).
async fn flows(g: &Gateway, n: usize) -> Vec<(Value, String)> {
    let d = g
        .ok(
            &format!("{{ flows(first: {n}) {{ edges {{ node {{ id nativeId }} }} }} }}"),
            json!({}),
        )
        .await;
    edges(&d["flows"])
        .iter()
        .map(|f| (f["id"].clone(), f["nativeId"].as_str().unwrap().to_string()))
        .collect()
}

fn add(g: &Gateway, flow: &str, at: i64, body: Value) {
    g.sandbox
        .appmixer
        .add_log(DEMO_USERS[0].appmixer_token, flow, LATER + at, body);
}

fn delta(before: &BTreeMap<String, u64>, after: BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .into_iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(&k).copied().unwrap_or(0);
            (d > 0).then_some((k, d))
        })
        .collect()
}

#[tokio::test]
async fn a_flows_log_lines_become_runs_that_fail_when_a_step_fails() {
    let g = Gateway::start().await;
    let (id, flow) = flows(&g, 1).await.remove(0);
    add(
        &g,
        &flow,
        1,
        log("run-a", "info", "appmixer.utils.http.GET", "sent"),
    );
    add(
        &g,
        &flow,
        2,
        log(
            "run-a",
            "error",
            "appmixer.slack.SendMessage",
            "401 from Slack",
        ),
    );
    add(
        &g,
        &flow,
        3,
        log("run-a", "info", "appmixer.utils.controls.OnEnd", "done"),
    );
    add(
        &g,
        &flow,
        4,
        log("run-b", "info", "appmixer.utils.http.GET", "sent"),
    );
    let q = "query($id: ID!) { node(id: $id) { ... on Automation { runs(first: 2) { pageInfo { hasNextPage } edges { node { nativeId status steps message componentTypes } } } lastRun { nativeId } lastError { nativeId message } } } }";
    let d = g.ok(q, json!({ "id": id })).await;
    let runs: Vec<Value> = edges(&d["node"]["runs"]);
    assert_eq!(
        runs,
        [
            json!({ "nativeId": "run-b", "status": "SUCCESS", "steps": 1, "message": "sent", "componentTypes": ["appmixer.utils.http.GET"] }),
            json!({ "nativeId": "run-a", "status": "FAILED", "steps": 3, "message": "401 from Slack",
                    "componentTypes": ["appmixer.utils.http.GET", "appmixer.slack.SendMessage", "appmixer.utils.controls.OnEnd"] }),
        ]
    );
    assert_eq!(d["node"]["lastRun"]["nativeId"], "run-b");
    assert_eq!(
        d["node"]["lastError"],
        json!({ "nativeId": "run-a", "message": "401 from Slack" })
    );
}

#[tokio::test]
async fn a_busy_flow_does_not_crowd_the_others_out_of_a_batched_read() {
    let g = Gateway::start().await;
    let both = flows(&g, 2).await;
    let (busy, quiet) = (&both[0].1, &both[1].1);
    for i in 0..120 {
        add(
            &g,
            busy,
            1000 + i,
            log(
                &format!("busy-{i}"),
                "info",
                "appmixer.utils.http.GET",
                "ok",
            ),
        );
    }
    add(
        &g,
        quiet,
        1,
        log("quiet-1", "error", "appmixer.utils.http.GET", "down"),
    );
    let alone = g.ok("query($id: ID!) { node(id: $id) { ... on Flow { runs(first: 3) { edges { node { nativeId } } } } } }", json!({ "id": both[1].0 })).await;

    let before = g.sandbox.appmixer.hooks.counts();
    let q = "{ flows(first: 2) { edges { node { nativeId runs(first: 3) { edges { node { nativeId } } } lastError { nativeId } } } } }";
    let d = g.ok(q, json!({})).await;
    let listed = edges(&d["flows"]);
    let quiet_runs = listed.iter().find(|f| f["nativeId"] == *quiet).unwrap();
    assert_eq!(
        quiet_runs["runs"], alone["node"]["runs"],
        "the quiet flow keeps its runs"
    );
    assert_eq!(quiet_runs["lastError"]["nativeId"], "quiet-1");
    let busy_runs = listed.iter().find(|f| f["nativeId"] == *busy).unwrap();
    assert_eq!(edges(&busy_runs["runs"])[0]["nativeId"], "busy-119");
    let calls = delta(&before, g.sandbox.appmixer.hooks.counts());
    assert_eq!(
        calls,
        BTreeMap::from([
            ("GET /flows".to_string(), 1),
            ("GET /flows/count".to_string(), 1),
            ("GET /logs".to_string(), 2)
        ]),
        "one batched read, and one more for the flow it starved"
    );
}

#[tokio::test]
async fn runs_page_past_the_batched_read_and_through_connect_history() {
    let g = Gateway::start().await;
    let (id, flow) = flows(&g, 1).await.remove(0);
    for i in 0..80 {
        add(
            &g,
            &flow,
            1000 + i,
            log(
                &format!("r-{i:02}"),
                "info",
                "appmixer.utils.http.GET",
                "ok",
            ),
        );
    }
    let q = "query($id: ID!, $after: String) { node(id: $id) { ... on Automation { runs(first: 30, after: $after) { pageInfo { hasNextPage endCursor } edges { node { nativeId } } } } } }";
    let all = walk(&g, q, &id).await;
    assert!(all.len() >= 80, "{}", all.len());
    let expected: Vec<String> = (0..80).rev().map(|i| format!("r-{i:02}")).collect();
    assert_eq!(all[..80], expected[..]);

    let connect = g.first_connect_id().await;
    g.test_connect(&connect, 3).await;
    let small = q.replace("first: 30", "first: 2");
    let paged = walk(&g, &small, &connect).await;
    let whole = g
        .ok(
            &q.replace("first: 30", "first: 100"),
            json!({ "id": connect }),
        )
        .await;
    let whole: Vec<String> = edges(&whole["node"]["runs"])
        .iter()
        .map(|r| r["nativeId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paged, whole);
    assert!(paged.len() >= 3);
}

/// Every run's id, page after page.
async fn walk(g: &Gateway, q: &str, id: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = g.ok(q, json!({ "id": id, "after": after })).await;
        let runs = &d["node"]["runs"];
        ids.extend(
            edges(runs)
                .iter()
                .map(|r| r["nativeId"].as_str().unwrap().to_string()),
        );
        if runs["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        after = runs["pageInfo"]["endCursor"].clone();
    }
}

/// `runs(filter, sort)` of a flow: each of the flow's runs in the window, whole.
async fn searched(g: &Gateway, id: &Value, args: &str) -> Vec<Value> {
    let q = format!("query($id: ID!) {{ node(id: $id) {{ ... on Automation {{ runs(first: 10, {args}) {{ edges {{ node {{ nativeId status steps message }} }} }} }} }} }}");
    let d = g.ok(&q, json!({ "id": id })).await;
    edges(&d["node"]["runs"])
}

fn names(runs: &[Value]) -> Vec<&str> {
    runs.iter()
        .map(|r| r["nativeId"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_flows_runs_are_filtered_by_outcome_time_and_text_and_come_whole() {
    let g = Gateway::start().await;
    let (id, flow) = flows(&g, 1).await.remove(0);
    let http = "appmixer.utils.http.GET";
    add(&g, &flow, 1, log("run-a", "info", http, "sent"));
    add(&g, &flow, 2, log("run-a", "error", http, "401 from Slack"));
    add(&g, &flow, 4, log("run-b", "info", http, "sent"));
    add(&g, &flow, 5, log("run-b", "info", http, "done"));
    add(
        &g,
        &flow,
        7,
        log("run-c", "info", http, "Hello \"World\": AND more"),
    );
    let since = "since: \"2100-01-01T00:00:00Z\"";

    let failed = searched(&g, &id, &format!("filter: {{ {since}, status: FAILED }}")).await;
    assert_eq!(
        failed,
        vec![
            json!({ "nativeId": "run-a", "status": "FAILED", "steps": 2, "message": "401 from Slack" })
        ]
    );
    let good = searched(&g, &id, &format!("filter: {{ {since}, status: SUCCESS }}")).await;
    assert_eq!(names(&good), ["run-c", "run-b"]);
    assert_eq!(good[1]["steps"], 2, "a run found by one step comes whole");

    let text = r#"search: "world\": and""#;
    let found = searched(&g, &id, &format!("filter: {{ {since}, {text} }}")).await;
    assert_eq!(
        names(&found),
        ["run-c"],
        "quotes and AND in the text are text"
    );
    let oldest = searched(
        &g,
        &id,
        &format!("filter: {{ {since} }}, sort: OLDEST_FIRST"),
    )
    .await;
    assert_eq!(names(&oldest), ["run-a", "run-b", "run-c"]);
    let window = "until: \"2100-01-01T01:00:00.004+01:00\"";
    let early = searched(&g, &id, &format!("filter: {{ {since}, {window} }}")).await;
    assert_eq!(names(&early), ["run-b", "run-a"], "an offset is an offset");

    let q = "query($id: ID!, $after: String) { node(id: $id) { ... on Automation { runs(first: 1, after: $after, filter: { since: \"2100-01-01T00:00:00Z\", status: SUCCESS }) { pageInfo { hasNextPage endCursor } edges { node { nativeId } } } } } }";
    assert_eq!(walk(&g, q, &id).await, ["run-c", "run-b"]);

    let filtered = format!("filter: {{ {since}, status: FAILED }}");
    let found_then_read_whole = [("GET /flows", 1), ("GET /logs", 2)];
    g.costs(&found_then_read_whole, searched(&g, &id, &filtered))
        .await;
}

#[tokio::test]
async fn a_connects_runs_are_filtered_and_sorted_in_the_gateway() {
    let g = Gateway::start().await;
    let connect = g.first_connect_id().await;
    g.test_connect(&connect, 3).await;
    let q = "query($id: ID!) { node(id: $id) { ... on Automation { runs(first: 100) { edges { node { nativeId status message startedAt } } } } } }";
    let d = g.ok(q, json!({ "id": connect })).await;
    let all: Vec<Value> = edges(&d["node"]["runs"]);
    assert!(all.len() >= 3);
    let ids = |runs: Vec<&Value>| -> Vec<String> {
        runs.iter()
            .map(|r| r["nativeId"].as_str().unwrap().to_string())
            .collect()
    };
    let asked = |args: &'static str| {
        let q = q.replace("first: 100", &format!("first: 100, {args}"));
        let (g, connect) = (&g, connect.clone());
        async move {
            let d = g.ok(&q, json!({ "id": connect })).await;
            let runs: Vec<Value> = edges(&d["node"]["runs"]);
            runs.iter()
                .map(|r| r["nativeId"].as_str().unwrap().to_string())
                .collect::<Vec<String>>()
        }
    };
    for status in ["SUCCESS", "FAILED"] {
        let expected = ids(all.iter().filter(|r| r["status"] == status).collect());
        let args = if status == "SUCCESS" {
            "filter: { status: SUCCESS }"
        } else {
            "filter: { status: FAILED }"
        };
        assert_eq!(asked(args).await, expected, "{status}");
    }
    let mut reversed = ids(all.iter().collect());
    reversed.reverse();
    assert_eq!(asked("sort: OLDEST_FIRST").await, reversed);
    let completed = ids(all
        .iter()
        .filter(|r| {
            r["message"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("completed")
        })
        .collect());
    assert_eq!(asked("filter: { search: \"COMPLETED\" }").await, completed);
    let newest = all[0]["startedAt"].as_str().unwrap();
    let recent = ids(all
        .iter()
        .filter(|r| r["startedAt"].as_str().unwrap() >= newest)
        .collect());
    let q_since = q.replace(
        "first: 100",
        &format!("first: 100, filter: {{ since: \"{newest}\" }}"),
    );
    let d = g.ok(&q_since, json!({ "id": connect })).await;
    assert_eq!(ids(edges(&d["node"]["runs"]).iter().collect()), recent);
}
