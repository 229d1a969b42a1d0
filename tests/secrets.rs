//! No secret in the logs: `flowgate serve --sandbox` runs as it ships, logging at trace level
//! (its tracing subscriber, `log` records of the HTTP client included) into a file, over every
//! operation that carries a secret and every failure path; then the file and the answers' error
//! messages are searched for each secret.

mod common;

use common::Served;
use flowgate::sandbox::DEMO_USERS;
use serde_json::{json, Value};

/// The origin of the sandbox (its admin routes) for `vendor` (`Appy Pie` or `Appmixer`), as the binary printed it.
fn sandbox_url(log: &str, vendor: &str) -> String {
    let at = log
        .find(&format!("{vendor} sandbox: "))
        .expect("sandbox printed");
    let rest = &log[at + vendor.len() + 10..];
    let url = url::Url::parse(rest.split_whitespace().next().unwrap()).unwrap();
    url.origin().ascii_serialization()
}

async fn post(url: &str, headers: &[(&str, &str)], query: &str, variables: Value) -> Value {
    let mut req = reqwest::Client::new()
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().json().await.unwrap()
}

async fn fault(base: &str, path: &str, fault: Value) {
    let rule = json!({ "path": path, "fault": fault, "times": 3 });
    let res = reqwest::Client::new()
        .post(format!("{base}/__sandbox/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "fault refused: {}", res.status());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_the_logs_or_an_error_message() {
    let flags = [
        "--appmixer-timeout-ms",
        "300",
        "--appmixer-max-retries",
        "2",
    ];
    let g = Served::start(&flags, &[("RUST_LOG", "trace")]).await;
    let printed = g.output();
    let pie_base = sandbox_url(&printed, "Appy Pie");
    let mixer_base = sandbox_url(&printed, "Appmixer");
    let alice = &DEMO_USERS[0];
    let both = [
        ("x-appmixer-token", alice.appmixer_token),
        ("x-appypie-token", alice.appypie_token),
    ];
    let third_party = "ghp_third-party-token-that-must-not-leak";
    let wrong_password = "wrong-password-that-must-not-leak";
    let wrong_secret = "wrong-secret-key-that-must-not-leak";
    let bad_token = "bad-token-that-must-not-leak";
    let mut errors = Vec::new();
    let mut run = |res: Value| errors.push(res["errors"].to_string());

    let everything = "{ viewer { appmixer { email } appypie { email } } flows(first: 3) { edges { node { name runs { edges { node { status } } } } } } connects(first: 3) { edges { node { name trigger { name } } } } accounts(first: 100) { edges { node { name } } } }";
    for user in &DEMO_USERS {
        let headers = [
            ("x-appmixer-token", user.appmixer_token),
            ("x-appypie-token", user.appypie_token),
        ];
        run(post(&g.url, &headers, everything, json!({})).await);
    }
    let sign_in = "mutation($u: String!, $p: String!) { appmixerSignIn(input: { username: $u, password: $p }) { token } }";
    let signed = post(
        &g.url,
        &[],
        sign_in,
        json!({ "u": alice.username, "p": alice.password }),
    )
    .await;
    assert!(
        signed["data"]["appmixerSignIn"]["token"].is_string(),
        "{signed}"
    );
    run(post(
        &g.url,
        &[],
        sign_in,
        json!({ "u": alice.username, "p": wrong_password }),
    )
    .await);
    let key = "mutation($k: String!, $s: String!) { createAppyPieAccessToken(input: { tokenKey: $k, secretKey: $s }) { accessToken } }";
    let created = post(
        &g.url,
        &[],
        key,
        json!({ "k": alice.token_key, "s": alice.secret_key }),
    )
    .await;
    assert!(
        created["data"]["createAppyPieAccessToken"]["accessToken"].is_string(),
        "{created}"
    );
    run(post(
        &g.url,
        &[],
        key,
        json!({ "k": alice.token_key, "s": wrong_secret }),
    )
    .await);
    let account = "mutation($t: JSON!) { createAppmixerAccount(input: { service: \"appmixer:github\", token: $t, name: \"octocat\" }) { account { id } } }";
    run(post(
        &g.url,
        &both,
        account,
        json!({ "t": { "accessToken": third_party } }),
    )
    .await);
    run(post(
        &g.url,
        &[("x-appmixer-token", bad_token)],
        everything,
        json!({}),
    )
    .await);

    // Failure paths: retried 5xx, 429, timeouts, malformed and cut bodies, dropped connections.
    fault(
        &mixer_base,
        "/flows",
        json!({ "kind": "status", "status": 503 }),
    )
    .await;
    fault(
        &pie_base,
        "*/connect/list",
        json!({ "kind": "rate_limit", "retry_after": 1 }),
    )
    .await;
    run(post(&g.url, &both, everything, json!({})).await);
    fault(
        &mixer_base,
        "/user",
        json!({ "kind": "latency", "ms": 1000 }),
    )
    .await;
    fault(&pie_base, "*/me", json!({ "kind": "malformed_json" })).await;
    run(post(&g.url, &both, everything, json!({})).await);
    fault(
        &mixer_base,
        "/accounts",
        json!({ "kind": "truncated_body" }),
    )
    .await;
    fault(
        &pie_base,
        "*/connect/list",
        json!({ "kind": "drop_connection" }),
    )
    .await;
    run(post(&g.url, &both, everything, json!({})).await);
    run(post(
        &g.url,
        &both,
        account,
        json!({ "t": { "accessToken": third_party } }),
    )
    .await);

    // The same over a WebSocket (tokens in `connection_init`) and over SSE (tokens in headers).
    over_a_socket(&g.url, alice.appmixer_token, alice.appypie_token).await;
    let sse = reqwest::Client::new()
        .post(&g.url)
        .header("accept", "text/event-stream")
        .header("x-appmixer-token", alice.appmixer_token)
        .header("x-appypie-token", alice.appypie_token)
        .json(&json!({ "query": everything }))
        .send()
        .await
        .unwrap();
    assert!(sse.text().await.unwrap().contains("event: complete"));

    let logs = g.output();
    assert!(logs.contains("graphql request"), "the run was logged");
    assert!(
        logs.contains("retrying upstream read"),
        "retries were logged"
    );
    assert!(
        logs.contains("reqwest") || logs.contains("hyper"),
        "the HTTP client's own log records were captured"
    );
    let mut secrets: Vec<&str> = DEMO_USERS
        .iter()
        .flat_map(|u| [u.appmixer_token, u.appypie_token, u.password, u.secret_key])
        .collect();
    secrets.extend([third_party, wrong_password, wrong_secret, bad_token]);
    // The banner of `--sandbox` lists the demo tenants' public demo tokens, by design.
    let logged: String = logs
        .lines()
        .filter(|l| !(l.starts_with("  ") && l.contains("@example.com")))
        .collect::<Vec<_>>()
        .join("\n");
    for secret in secrets {
        assert!(
            !logged.contains(secret),
            "a secret is in the logs: {secret}"
        );
        for e in &errors {
            assert!(!e.contains(secret), "a secret is in an error message: {e}");
        }
    }
}

/// A query run over `graphql-transport-ws` with both tokens in `connection_init`.
async fn over_a_socket(url: &str, appmixer: &str, appypie: &str) {
    use futures_util::{SinkExt, StreamExt};
    let request = common::graphql_ws(url);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = json!({ "type": "connection_init", "payload": { "x-appmixer-token": appmixer, "x-appypie-token": appypie } });
    let query = "{ viewer { appmixer { email } appypie { email } } }";
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    for message in [init, subscribe] {
        socket.send(message.to_string().into()).await.unwrap();
    }
    let mut seen = Vec::new();
    while let Some(Ok(message)) = socket.next().await {
        let text = message.into_text().unwrap().to_string();
        let done = text.contains("\"complete\"");
        seen.push(text);
        if done {
            break;
        }
    }
    assert!(
        seen.iter().any(|m| m.contains("alice@example.com")),
        "{seen:?}"
    );
}
