//! Random and mutated queries and bodies: every answer is well-formed GraphQL JSON whose errors
//! carry codes from the closed list, and the gateway keeps serving.

mod common;

use common::Gateway;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

const SEEDS: [&str; 4] = [
    "{ viewer { appmixer { email } appypie { email } } }",
    "{ connects(first: 3) { edges { node { name trigger { name } triggerApp { name } } } } }",
    "query($id: ID!) { node(id: $id) { id ... on Flow { name runs { edges { node { status } } } } } }",
    "mutation { renameAutomation(input: { id: \"RmxvdzphcHBtaXhlcjp4\", name: \"n\" }) { automation { name } } }",
];

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        0..SEEDS.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
    )
        .prop_map(|(seed, edits)| {
            let mut q: Vec<u8> = SEEDS[seed].as_bytes().to_vec();
            for (at, byte, op) in edits {
                let i = at.index(q.len() + 1);
                match op {
                    0 if i < q.len() => {
                        q.remove(i);
                    }
                    1 => q.insert(i.min(q.len()), byte),
                    _ if i < q.len() => q[i] = byte,
                    _ => {}
                }
            }
            let query = String::from_utf8_lossy(&q).into_owned();
            serde_json::to_vec(
                &json!({ "query": query, "variables": { "id": "RmxvdzphcHBtaXhlcjp4" } }),
            )
            .unwrap()
        })
}

/// Fields a generated selection picks from: real ones, with and without arguments, and wrong ones.
const FIELDS: [&str; 12] = [
    "id",
    "name",
    "email",
    "totalCount",
    "viewer",
    "appmixer",
    "appypie",
    "connects(first: 2)",
    "flows(first: $n)",
    "edges",
    "node(id: $id)",
    "apps(search: \"\u{1F3C3}\u{0301}\")",
];

/// A selection set of generated fields: aliases, directives, inline fragments and spreads of
/// the fragment `F`, nested a few levels.
fn selection() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(&FIELDS[..]).prop_map(str::to_string);
    leaf.prop_recursive(4, 24, 4, |inner| {
        (
            prop::sample::select(&FIELDS[..]),
            prop::option::of("[a-z\u{00e9}\u{4e2d}]{1,6}"),
            0..5u8,
            prop::collection::vec(inner, 1..4),
        )
            .prop_map(|(field, alias, kind, children)| {
                let body = children.join(" ");
                let alias = alias.map(|a| format!("{a}: ")).unwrap_or_default();
                match kind {
                    0 => format!("{alias}{field} {{ {body} }}"),
                    1 => format!("{alias}{field} @include(if: $on) {{ {body} }}"),
                    2 => format!("... on Query {{ {body} }}"),
                    3 => format!("{field} {{ ...F {body} }}"),
                    _ => format!("{alias}{field} @skip(if: true) {{ {body} }}"),
                }
            })
    })
}

/// Whole requests generated from GraphQL's grammar: operations with variables, aliases,
/// fragments, directives and unicode, and variables of every JSON type.
fn generated() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(selection(), 1..4),
        selection(),
        any::<bool>(),
        prop_oneof![Just(json!(2)), Just(json!("x")), Just(json!(null)), Just(json!([1])), any::<i64>().prop_map(|n| json!(n))],
        "\\PC{0,12}",
    )
        .prop_map(|(roots, fragment, on, n, id)| {
            let query = format!(
                "query Q($n: Int, $on: Boolean!, $id: ID!) {{ {} }} fragment F on Query {{ {fragment} }}",
                roots.join(" ")
            );
            let body = json!({
                "query": query,
                "operationName": "Q",
                "variables": { "n": n, "on": on, "id": id },
            });
            serde_json::to_vec(&body).unwrap()
        })
}

/// Requests built to exhaust: values nested thousands deep (in arguments, variable defaults,
/// `nodes(ids:)` and variables), huge documents, floods of directives, selections nested through
/// fragment chains. Each is distinct, so none is answered from a cache.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let opener = prop::sample::select(vec!["[", "{a: ", "{a: [", "("]);
    (opener, 1..3000usize, 0..6u8, "[a-z]{1,8}", 1..4000usize).prop_map(
        |(open, depth, kind, name, n)| {
            let close: String = open
                .chars()
                .rev()
                .filter_map(|c| match c {
                    '[' => Some(']'),
                    '{' => Some('}'),
                    '(' => Some(')'),
                    _ => None,
                })
                .collect();
            let nested = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            let (query, variables) = match kind {
                0 => (
                    format!("query {name} {{ __typename(a: {nested}) }}"),
                    json!({}),
                ),
                1 => (
                    format!("query {name}($v: In = {nested}) {{ __typename }}"),
                    json!({}),
                ),
                2 => (
                    format!("{{ {name}: nodes(ids: {nested}) {{ id }} }}"),
                    json!({}),
                ),
                3 => (
                    format!("{{ {name}: __typename {} }}", "@skip(if: false) ".repeat(n)),
                    json!({}),
                ),
                4 => {
                    let chain: String = (0..n.min(2000))
                        .map(|i| {
                            format!("fragment F{i} on Query {{ {name} {{ ...F{} }} }} ", i + 1)
                        })
                        .collect();
                    (format!("{{ ...F0 }} {chain}"), json!({}))
                }
                _ => {
                    let deep: Value = serde_json::from_str(&format!(
                        "{}{}",
                        "[".repeat(depth.min(120)),
                        "]".repeat(depth.min(120))
                    ))
                    .unwrap();
                    let huge = format!("query {name} {{ {} }}", "__typename ".repeat(n));
                    (huge, json!({ "v": deep }))
                }
            };
            serde_json::to_vec(&json!({ "query": query, "variables": variables })).unwrap()
        },
    )
}

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        hostile(),
        prop::collection::vec(any::<u8>(), 0..120),
        "\\PC{0,60}".prop_map(|q| serde_json::to_vec(&json!({ "query": q })).unwrap()),
        mutated(),
        mutated(),
        generated(),
        generated(),
    ]
}

/// Cases per run: `FLOWGATE_FUZZ_CASES`, or a few hundred (the CI run).
fn cases() -> u32 {
    std::env::var("FLOWGATE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

fn well_formed(status: u16, body: &Value) -> Result<(), String> {
    if ![200, 400, 413].contains(&status) {
        return Err(format!("status {status}"));
    }
    if body.get("data").is_none() && body.get("errors").is_none() {
        return Err(format!("neither data nor errors: {body}"));
    }
    for err in body["errors"].as_array().into_iter().flatten() {
        let code = err["extensions"]["code"].as_str().unwrap_or("");
        let known = flowgate::error::Code::parse(code).is_some();
        if !known || err["message"].as_str().is_none_or(str::is_empty) {
            return Err(format!("error outside the closed list: {err}"));
        }
    }
    Ok(())
}

#[test]
fn random_and_mutated_requests_get_well_formed_answers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let g = rt.block_on(Gateway::start());
    let http = reqwest::Client::new();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&bodies(), |body| {
            let (status, text) = rt.block_on(async {
                let res = http
                    .post(&g.url)
                    .header("content-type", "application/json")
                    .header("X-Appmixer-Token", "appmixer-demo-alice")
                    .header("X-Appypie-Token", "appypie-demo-alice")
                    .body(body)
                    .send()
                    .await
                    .expect("the gateway is still up");
                (res.status().as_u16(), res.text().await.unwrap())
            });
            let parsed: Value = serde_json::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {text}")))?;
            well_formed(status, &parsed).map_err(TestCaseError::fail)
        })
        .unwrap();
    let alive = rt.block_on(async {
        reqwest::get(g.url.replace("/graphql", "/healthz"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(alive, 200);
}

#[test]
fn the_global_id_decoder_takes_any_string() {
    let mut runner = TestRunner::new(Config {
        cases: cases() * 4,
        failure_persistence: None,
        ..Config::default()
    });
    let ids = prop_oneof![
        "\\PC{0,40}".boxed(),
        "[A-Za-z0-9_-]{0,40}".boxed(),
        prop::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
            })
            .boxed(),
    ];
    runner
        .run(&ids, |id| {
            let _ = flowgate::schema::GlobalId::decode(&id);
            Ok(())
        })
        .unwrap();
}
