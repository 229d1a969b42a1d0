//! Subscriptions over WebSocket (`graphql-transport-ws`) and server-sent events: an
//! automation's state and its new runs, polled and shared per automation and caller.

mod common;

use common::Gateway;
use flowgate::sandbox::DEMO_USERS;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `graphql-transport-ws` connection, acknowledged.
async fn connect(g: &Gateway, init: Value) -> Socket {
    let mut socket = open(g).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": init }),
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    socket
}

/// A `graphql-transport-ws` socket, before `connection_init`.
async fn open(g: &Gateway) -> Socket {
    let request = common::graphql_ws(&g.url);
    let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
}

/// How the server closed the socket: code and reason (every other message skipped).
async fn closed(socket: &mut Socket) -> (u16, String) {
    let wait = async {
        while let Some(message) = socket.next().await {
            if let Ok(Message::Close(frame)) = message {
                let frame = frame.expect("a close frame with a code");
                return (u16::from(frame.code), frame.reason.to_string());
            }
        }
        panic!("the socket ended without a close frame");
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("closed in time")
}

fn alice() -> Value {
    json!({
        "x-appmixer-token": DEMO_USERS[0].appmixer_token,
        "X-Appypie-Token": DEMO_USERS[0].appypie_token,
    })
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next protocol message (pings answered on the way).
async fn receive(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        if value["type"] == "ping" {
            send(socket, json!({ "type": "pong" })).await;
            continue;
        }
        return value;
    }
}

async fn subscribe(socket: &mut Socket, id: &str, query: &str) {
    let payload = json!({ "query": query });
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": payload }),
    )
    .await;
}

async fn first_flow(g: &Gateway) -> (String, String) {
    let d = g
        .ok(
            "{ flows(first: 1) { edges { node { id status } } } }",
            json!({}),
        )
        .await;
    let node = &d["flows"]["edges"][0]["node"];
    (
        node["id"].as_str().unwrap().into(),
        node["status"].as_str().unwrap().into(),
    )
}

async fn fast() -> Gateway {
    Gateway::start_with(|c| c.subscriptions.poll_interval = Duration::from_millis(20)).await
}

#[tokio::test]
async fn a_flow_state_arrives_now_and_on_each_change() {
    let g = fast().await;
    let (id, state) = first_flow(&g).await;
    let mut socket = connect(&g, alice()).await;
    let query = format!(r#"subscription {{ automationState(id: "{id}") {{ id status }} }}"#);
    subscribe(&mut socket, "s1", &query).await;
    let now = receive(&mut socket).await;
    assert_eq!(now["type"], "next", "{now}");
    assert_eq!(now["id"], "s1");
    assert_eq!(
        now["payload"]["data"]["automationState"]["status"],
        state.as_str()
    );

    let (toggle, then) = if state == "RUNNING" {
        ("disableAutomation", "STOPPED")
    } else {
        ("enableAutomation", "RUNNING")
    };
    let mutation = format!(
        "mutation($id: ID!) {{ {toggle}(input: {{ id: $id }}) {{ automation {{ status }} }} }}"
    );
    g.ok(&mutation, json!({ "id": id })).await;
    let changed = receive(&mut socket).await;
    assert_eq!(
        changed["payload"]["data"]["automationState"]["status"], then,
        "{changed}"
    );
    assert_eq!(
        changed["payload"]["data"]["automationState"]["id"],
        id.as_str()
    );

    send(&mut socket, json!({ "id": "s1", "type": "complete" })).await;
}

#[tokio::test]
async fn a_connect_test_run_arrives_as_a_new_run() {
    let g = fast().await;
    let id = g.first_connect_id().await;
    let mut socket = connect(&g, alice()).await;
    let query = format!(r#"subscription {{ automationRuns(id: {id}) {{ id status isTest }} }}"#);
    subscribe(&mut socket, "runs", &query).await;
    // The state subscription shares the poller and tells when the baseline is taken.
    let state = format!(r#"subscription {{ automationState(id: {id}) {{ status }} }}"#);
    subscribe(&mut socket, "state", &state).await;
    assert_eq!(receive(&mut socket).await["id"], "state");
    let mutation = "mutation($id: ID!) { testConnect(input: { id: $id }) { __typename } }";
    g.ok(mutation, json!({ "id": id })).await;
    let run = receive(&mut socket).await;
    assert_eq!(run["id"], "runs", "{run}");
    assert_eq!(
        run["payload"]["data"]["automationRuns"]["isTest"], true,
        "{run}"
    );
}

#[tokio::test]
async fn credentials_may_come_from_the_upgrade_headers_and_bad_ones_fail_alone() {
    let g = fast().await;
    let id = g.first_connect_id().await;
    let mut request = common::graphql_ws(&g.url);
    let headers = request.headers_mut();
    headers.insert(
        "x-appypie-token",
        DEMO_USERS[1].appypie_token.parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    // Bob's token, Alice's connect: the vendor says it does not exist for him.
    let query = format!(r#"subscription {{ automationState(id: {id}) {{ status }} }}"#);
    subscribe(&mut socket, "a", &query).await;
    let refused = receive(&mut socket).await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    assert_eq!(receive(&mut socket).await["type"], "complete");
    subscribe(
        &mut socket,
        "b",
        "subscription { automationState(id: \"nope\") { status } }",
    )
    .await;
    let bad = receive(&mut socket).await;
    assert_eq!(
        bad["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{bad}"
    );
    assert_eq!(receive(&mut socket).await["type"], "complete");
    let (flow, _) = first_flow(&g).await;
    let query = format!(r#"subscription {{ automationState(id: "{flow}") {{ status }} }}"#);
    subscribe(&mut socket, "c", &query).await;
    let missing = receive(&mut socket).await;
    assert_eq!(
        missing["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{missing}"
    );
    assert_eq!(receive(&mut socket).await["type"], "complete");
    // Queries run over the socket too, with the same checks as over HTTP.
    subscribe(&mut socket, "q", "{ viewer { appypie { email } } }").await;
    let answer = receive(&mut socket).await;
    assert_eq!(
        answer["payload"]["data"]["viewer"]["appypie"]["email"],
        DEMO_USERS[1].email
    );
}

#[tokio::test]
async fn pollers_are_shared_per_caller_and_stop_with_their_last_subscriber() {
    let g =
        Gateway::start_with(|c| c.subscriptions.poll_interval = Duration::from_secs(3600)).await;
    let id = g.first_connect_id().await;
    let hooks = &g.sandbox.appypie.hooks;
    hooks.reset();
    let polls = || hooks.count("GET /connect/{id}/history");
    let query = format!(r#"subscription {{ automationState(id: {id}) {{ status }} }}"#);

    let mut first = connect(&g, alice()).await;
    subscribe(&mut first, "1", &query).await;
    assert_eq!(receive(&mut first).await["type"], "next");
    let mut second = connect(&g, alice()).await;
    subscribe(&mut second, "1", &query).await;
    assert_eq!(receive(&mut second).await["type"], "next");
    assert_eq!(polls(), 1, "Alice's two subscribers share one poller");

    let bob = json!({ "x-appypie-token": DEMO_USERS[1].appypie_token });
    let mut other = connect(&g, bob).await;
    subscribe(&mut other, "1", &query).await;
    let refused = receive(&mut other).await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "Bob never sees Alice's poller: {refused}"
    );
    assert_eq!(polls(), 2, "another caller gets a poller of its own");

    first.close(None).await.unwrap();
    second.close(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = connect(&g, alice()).await;
    subscribe(&mut again, "1", &query).await;
    assert_eq!(receive(&mut again).await["type"], "next");
    assert_eq!(
        polls(),
        3,
        "the poller stopped with its last subscriber; a new one starts"
    );
}

#[tokio::test]
async fn subscriptions_are_limited_per_connection_and_per_caller() {
    let g = Gateway::start_with(|c| {
        c.subscriptions.max_per_connection = 2;
        c.subscriptions.max_per_caller = 3;
    })
    .await;
    let id = g.first_connect_id().await;
    let query = format!(r#"subscription {{ automationState(id: {id}) {{ status }} }}"#);
    let mut socket = connect(&g, alice()).await;
    for n in ["1", "2", "3"] {
        subscribe(&mut socket, n, &query).await;
    }
    let mut codes = Vec::new();
    for _ in 0..3 {
        let m = receive(&mut socket).await;
        codes.push(m["payload"]["errors"][0]["extensions"]["code"].clone());
    }
    assert_eq!(codes.iter().filter(|c| c.is_null()).count(), 2, "{codes:?}");
    assert!(codes.contains(&json!("QUERY_LIMIT_EXCEEDED")), "{codes:?}");

    let mut more = connect(&g, alice()).await;
    subscribe(&mut more, "1", &query).await;
    assert_eq!(receive(&mut more).await["type"], "next");
    subscribe(&mut more, "2", &query).await;
    let refused = receive(&mut more).await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "QUERY_LIMIT_EXCEEDED",
        "{refused}"
    );
}

/// The events of an SSE response, until `complete` or `n` events.
async fn sse_events(mut res: reqwest::Response, n: usize) -> Vec<(String, Value)> {
    let mut text = String::new();
    let mut events = Vec::new();
    while events.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(20), res.chunk())
            .await
            .expect("an event in time")
            .unwrap();
        let Some(chunk) = chunk else { break };
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim().into();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim());
                }
            }
            if event.is_empty() {
                continue;
            }
            let done = event == "complete";
            events.push((event, serde_json::from_str(&data).unwrap_or(Value::Null)));
            if done {
                return events;
            }
        }
    }
    events
}

#[tokio::test]
async fn server_sent_events_carry_a_flow_start_as_a_new_run() {
    let g = fast().await;
    let d = g
        .ok(
            r#"{ flows(first: 50) { edges { node { id status } } } }"#,
            json!({}),
        )
        .await;
    let stopped = common::edges(&d["flows"])
        .into_iter()
        .find(|f| f["status"] == "STOPPED")
        .expect("a stopped flow");
    let id = stopped["id"].as_str().unwrap();
    let http = reqwest::Client::new();
    let sse = |query: String| {
        http.post(&g.url)
            .header("accept", "text/event-stream")
            .header("x-appmixer-token", DEMO_USERS[0].appmixer_token)
            .json(&json!({ "query": query }))
            .send()
    };
    let state = sse(format!(
        r#"subscription {{ automationState(id: "{id}") {{ status }} }}"#
    ))
    .await
    .unwrap();
    assert_eq!(state.headers()["content-type"], "text/event-stream");
    let runs = sse(format!(
        r#"subscription {{ automationRuns(id: "{id}") {{ message status }} }}"#
    ))
    .await
    .unwrap();
    let first = sse_events(state, 1).await;
    assert_eq!(first[0].1["data"]["automationState"]["status"], "STOPPED");
    // Both streams share the poller, so the runs baseline is taken too.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mutation =
        "mutation($id: ID!) { enableAutomation(input: { id: $id }) { automation { status } } }";
    g.ok(mutation, json!({ "id": id })).await;
    let events = sse_events(runs, 1).await;
    assert_eq!(events[0].0, "next");
    assert_eq!(
        events[0].1["data"]["automationRuns"]["message"], "Flow started",
        "{events:?}"
    );

    let query = http
        .post(&g.url)
        .header("accept", "text/event-stream")
        .header("x-appmixer-token", DEMO_USERS[0].appmixer_token)
        .json(&json!({ "query": "{ viewer { appmixer { email } } }" }))
        .send()
        .await
        .unwrap();
    let events = sse_events(query, 3).await;
    assert_eq!(events.len(), 2, "one answer, then complete: {events:?}");
    assert_eq!(
        events[0].1["data"]["viewer"]["appmixer"]["email"],
        DEMO_USERS[0].email
    );
    assert_eq!(events[1].0, "complete");
}

#[tokio::test]
async fn a_subscription_over_plain_http_is_refused() {
    let g = Gateway::start().await;
    let res = g
        .query(
            common::Who::Both(0),
            "subscription { automationState(id: \"x\") { status } }",
            json!({}),
        )
        .await;
    assert_eq!(common::codes(&res), ["BAD_USER_INPUT"]);
    assert_eq!(g.calls(), 0);
}

#[tokio::test]
async fn trusted_documents_and_size_limits_hold_on_the_socket_and_over_sse() {
    let dir = std::env::temp_dir().join(format!("flowgate-ws-trusted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("relay.json");
    std::fs::write(
        &manifest,
        json!({ "v": "{ viewer { appypie { email } } }" }).to_string(),
    )
    .unwrap();
    let g = Gateway::start_with(|c| {
        c.persisted.trusted_documents = Some(manifest);
        c.limits.max_body_bytes = 4096;
    })
    .await;
    let mut socket = connect(&g, alice()).await;
    subscribe(&mut socket, "1", "{ viewer { appmixer { email } } }").await;
    // Refused before it runs: the protocol's `error`, and no `complete` after it.
    let refused = receive(&mut socket).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "DOCUMENT_NOT_TRUSTED",
        "{refused}"
    );
    let payload = json!({ "query": "{ viewer { appypie { email } } }" });
    send(
        &mut socket,
        json!({ "id": "2", "type": "subscribe", "payload": payload }),
    )
    .await;
    let answer = receive(&mut socket).await;
    assert_eq!(
        answer["payload"]["data"]["viewer"]["appypie"]["email"], DEMO_USERS[0].email,
        "{answer}"
    );

    let sse = reqwest::Client::new()
        .post(&g.url)
        .header("accept", "text/event-stream")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 403);
    let body: Value = sse.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "DOCUMENT_NOT_TRUSTED"
    );

    let huge = "x".repeat(10_000);
    let _ = socket.send(Message::text(huge)).await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = socket.next().await {
            if let Message::Close(_) = m {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "an oversized message closes the socket");
}

#[tokio::test]
async fn protocol_violations_close_with_the_codes_of_graphql_transport_ws() {
    let g =
        Gateway::start_with(|c| c.subscriptions.init_timeout = Duration::from_millis(300)).await;
    let subscribe_now =
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __typename }" } });

    let mut early = open(&g).await;
    send(&mut early, subscribe_now.clone()).await;
    assert_eq!(closed(&mut early).await, (4401, "Unauthorized".into()));

    let mut silent = open(&g).await;
    let timeout = (4408, "Connection initialisation timeout".into());
    assert_eq!(closed(&mut silent).await, timeout);

    let mut twice = connect(&g, alice()).await;
    send(&mut twice, json!({ "type": "connection_init" })).await;
    assert_eq!(closed(&mut twice).await.0, 4429);

    let (id, _) = first_flow(&g).await;
    let watch = format!(r#"subscription {{ automationState(id: "{id}") {{ status }} }}"#);
    let mut reused = connect(&g, alice()).await;
    let long_id = "x".repeat(300);
    subscribe(&mut reused, &long_id, &watch).await;
    assert_eq!(receive(&mut reused).await["type"], "next");
    subscribe(&mut reused, &long_id, &watch).await;
    let (code, reason) = closed(&mut reused).await;
    assert_eq!(code, 4409);
    assert!(
        reason.starts_with("Subscriber for xxx") && reason.len() <= 123,
        "{reason}"
    );

    for garbage in [
        json!({ "type": "subscribe_all", "payload": "x".repeat(500) }),
        json!({ "id": "1", "type": "subscribe" }),
        json!("not an object"),
    ] {
        let mut socket = connect(&g, alice()).await;
        send(&mut socket, garbage).await;
        let (code, reason) = closed(&mut socket).await;
        assert_eq!(code, 4400);
        assert!(reason.len() <= 123);
    }

    // A completed id may be used again, and `ping` is answered at any time.
    let mut socket = connect(&g, alice()).await;
    send(&mut socket, json!({ "type": "ping" })).await;
    let pong = socket.next().await.unwrap().unwrap();
    assert_eq!(pong.into_text().unwrap().as_str(), r#"{"type":"pong"}"#);
    subscribe(&mut socket, "a", &watch).await;
    assert_eq!(receive(&mut socket).await["type"], "next");
    send(&mut socket, json!({ "id": "a", "type": "complete" })).await;
    subscribe(&mut socket, "a", &watch).await;
    assert_eq!(receive(&mut socket).await["type"], "next");
}

#[tokio::test]
async fn sockets_are_capped_and_clients_without_the_subprotocol_refused() {
    let g = Gateway::start_with(|c| c.subscriptions.max_sockets = 2).await;
    let first = open(&g).await;
    let _second = open(&g).await;
    let third = common::graphql_ws(&g.url);
    let mut request = third.clone();
    request.headers_mut().remove("sec-websocket-protocol");
    let refused = tokio_tungstenite::connect_async(third.clone()).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("a third socket was accepted");
    };
    assert_eq!(response.status(), 503);
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok((socket, _)) = tokio_tungstenite::connect_async(third.clone()).await {
            reopened = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reopened.is_some(), "a closed socket gives its place back");
    drop(reopened);
    let legacy = tokio_tungstenite::connect_async(request).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = legacy else {
        panic!("a socket without the subprotocol was accepted");
    };
    assert_eq!(response.status(), 400);
}
