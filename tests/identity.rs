//! Callers identified by a JWT: verified against a real JWKS on loopback, refused with 401 and
//! `UNAUTHENTICATED` when anything is wrong with it, and held to their scopes.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::idp::{now, Idp, Key};
use common::{codes, Gateway};
use flowgate::identity::{AuthConfig, Mode};
use flowgate::sandbox::DEMO_USERS;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const WHO: &str = "{ viewer { identity { subject scopes } } }";
const READ: &str = "automations:read";
const WRITE: &str = "automations:write";

async fn gateway(auth: AuthConfig) -> Gateway {
    Gateway::start_with(move |c| c.auth = auth).await
}

/// POSTs `query` with Alice's vendor tokens and `bearer`, asking for
/// `application/graphql-response+json`: the status, `WWW-Authenticate` and the body.
async fn post(g: &Gateway, bearer: Option<&str>, query: &str) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .post(&g.url)
        .header("accept", "application/graphql-response+json")
        .header("x-appypie-token", DEMO_USERS[0].appypie_token)
        .header("x-appmixer-token", DEMO_USERS[0].appmixer_token)
        .json(&json!({ "query": query }));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, challenge, response.json().await.unwrap())
}

#[tokio::test]
async fn tokens_signed_by_each_published_key_are_verified() {
    let keys = [Key::rsa("rsa-1"), Key::ec("ec-1"), Key::ed25519("ed-1")];
    let idp = Idp::start(&keys.iter().collect::<Vec<_>>()).await;
    let g = gateway(idp.auth(Mode::Jwt)).await;
    for key in &keys {
        let token = key.sign(&idp.claims("alice", "automations:read automations:write"));
        let (status, _, body) = post(&g, Some(&token), WHO).await;
        assert_eq!(status, 200, "{:?}: {body}", key.alg);
        let identity = &body["data"]["viewer"]["identity"];
        assert_eq!(identity["subject"], "alice");
        assert_eq!(identity["scopes"], json!([READ, WRITE]));
    }
}

/// A token with `alg: none` and no signature.
fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.")
}

/// A token signed with HS256 using the RSA key's public bytes as the secret, naming its kid.
fn confused(key: &Key, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    let secret = jsonwebtoken::EncodingKey::from_secret(&key.public_bytes);
    jsonwebtoken::encode(&header, claims, &secret).unwrap()
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401_and_nothing_goes_upstream() {
    let key = Key::rsa("rsa-1");
    let idp = Idp::start(&[&key]).await;
    let g = gateway(idp.auth(Mode::Jwt)).await;
    let good = idp.claims("alice", READ);
    let with = |change: Value| {
        let mut claims = good.clone();
        claims
            .as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        claims
    };
    let impostor = Key::rsa("rsa-1");
    let cases = [
        ("expired", key.sign(&with(json!({ "exp": now() - 3600 })))),
        (
            "not yet valid",
            key.sign(&with(json!({ "nbf": now() + 3600 }))),
        ),
        (
            "wrong issuer",
            key.sign(&with(json!({ "iss": "http://127.0.0.1:1" }))),
        ),
        (
            "wrong audience",
            key.sign(&with(json!({ "aud": "someone-else" }))),
        ),
        ("bad signature", impostor.sign(&good)),
        ("alg none", unsigned(&good)),
        ("HS256 with the RSA public key", confused(&key, &good)),
        ("garbage", "not.a.jwt".to_string()),
    ];
    for (case, token) in cases {
        let (status, challenge, body) = g
            .costs(&[], post(&g, Some(&token), "{ flows { totalCount } }"))
            .await;
        assert_eq!(status, 401, "{case}: {body}");
        assert_eq!(codes(&body), ["UNAUTHENTICATED"], "{case}");
        assert!(body.get("data").is_none(), "{case}");
        let challenge = challenge.unwrap_or_default();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{case}: {challenge}"
        );
        assert!(
            !body.to_string().contains(&token),
            "{case}: the token is echoed"
        );
    }
    let (status, challenge, body) = post(&g, None, WHO).await;
    assert_eq!(status, 401);
    assert_eq!(codes(&body), ["UNAUTHENTICATED"]);
    let challenge = challenge.unwrap_or_default();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains("no bearer token"), "{challenge}");
}

#[tokio::test]
async fn refused_over_application_json_is_still_unauthenticated() {
    let key = Key::ec("ec-1");
    let idp = Idp::start(&[&key]).await;
    let g = gateway(idp.auth(Mode::Jwt)).await;
    let response = reqwest::Client::new()
        .post(&g.url)
        .header("accept", "application/json")
        .json(&json!({ "query": WHO }))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("www-authenticate"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(codes(&body), ["UNAUTHENTICATED"]);
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_keys_once_then_is_refused() {
    let key = Key::ec("ec-1");
    let idp = Idp::start(&[&key]).await;
    let g = gateway(idp.auth(Mode::Jwt)).await;
    let (status, _, _) = post(&g, Some(&key.sign(&idp.claims("alice", READ))), WHO).await;
    assert_eq!(status, 200);
    let before = idp.fetches();
    let forged = Key::ec("forged-kid").sign(&idp.claims("alice", READ));
    for _ in 0..5 {
        let (status, _, body) = post(&g, Some(&forged), WHO).await;
        assert_eq!(status, 401);
        assert_eq!(codes(&body), ["UNAUTHENTICATED"]);
    }
    assert_eq!(
        idp.fetches(),
        before + 1,
        "one refetch for any number of unknown kids"
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_its_first_token_arrives() {
    let old = Key::ed25519("2026-11");
    let idp = Idp::start(&[&old]).await;
    let g = gateway(idp.auth(Mode::Jwt)).await;
    let (status, _, _) = post(&g, Some(&old.sign(&idp.claims("alice", READ))), WHO).await;
    assert_eq!(status, 200);
    let new = Key::rsa("2026-12");
    idp.publish(&new);
    let before = idp.fetches();
    let (status, _, body) = post(&g, Some(&new.sign(&idp.claims("bob", READ))), WHO).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["viewer"]["identity"]["subject"], "bob");
    assert_eq!(idp.fetches(), before + 1);
    let (status, _, _) = post(&g, Some(&old.sign(&idp.claims("alice", READ))), WHO).await;
    assert_eq!(status, 200, "the old key still verifies while published");
}

#[tokio::test]
async fn a_read_only_subject_reads_but_writes_nothing() {
    let key = Key::rsa("rsa-1");
    let idp = Idp::start(&[&key]).await;
    let g = gateway(idp.auth(Mode::Jwt)).await;
    let reader = key.sign(&idp.claims("bob", READ));
    let writer = key.sign(&idp.claims("alice", &format!("{READ} {WRITE}")));
    let (status, _, body) = post(
        &g,
        Some(&reader),
        "{ connects(first: 1) { edges { node { id } } } }",
    )
    .await;
    assert_eq!(status, 200);
    let connect = body["data"]["connects"]["edges"][0]["node"]["id"].clone();
    let writes = [
        format!(r#"mutation {{ testConnect(input: {{ id: {connect} }}) {{ success }} }}"#),
        "mutation { createAuthTicket { ticket } }".to_string(),
        r#"mutation { createFlow(input: { name: "x" }) { flow { id } } }"#.to_string(),
    ];
    for write in &writes {
        let (_, _, body) = g.costs(&[], post(&g, Some(&reader), write)).await;
        assert_eq!(codes(&body), ["FORBIDDEN"], "{write}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(WRITE), "{message}");
    }
    let (_, _, body) = g
        .costs(
            &[("POST /connect/{id}/test", 1)],
            post(&g, Some(&writer), &writes[0]),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn the_write_scope_is_a_setting() {
    let key = Key::ec("ec-1");
    let idp = Idp::start(&[&key]).await;
    let auth = AuthConfig {
        write_scope: "flows:admin".into(),
        ..idp.auth(Mode::Jwt)
    };
    let g = gateway(auth).await;
    let ticket = "mutation { createAuthTicket { ticket } }";
    let writer = key.sign(&idp.claims("alice", WRITE));
    let (_, _, body) = post(&g, Some(&writer), ticket).await;
    assert_eq!(codes(&body), ["FORBIDDEN"]);
    let admin = key.sign(&idp.claims("alice", "flows:admin"));
    let (_, _, body) = post(&g, Some(&admin), ticket).await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn optional_mode_lets_anonymous_callers_read_only_the_catalogue() {
    let key = Key::ec("ec-1");
    let idp = Idp::start(&[&key]).await;
    let g = gateway(idp.auth(Mode::Optional)).await;
    let query = "{ apps(first: 1) { totalCount } accounts(first: 1) { totalCount } }";
    let (status, _, body) = g.costs(&[("GET /apps", 1)], post(&g, None, query)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["apps"]["totalCount"].as_i64().unwrap() > 0);
    assert_eq!(body["data"]["accounts"], Value::Null);
    assert_eq!(codes(&body), ["UNAUTHENTICATED"]);
    assert_eq!(body["errors"][0]["path"], json!(["accounts"]));
    let (_, _, body) = post(&g, None, "mutation { createAuthTicket { ticket } }").await;
    assert_eq!(codes(&body), ["UNAUTHENTICATED"]);
    let (status, _, _) = post(&g, Some("not.a.jwt"), query).await;
    assert_eq!(
        status, 401,
        "a bad token is refused, not taken as anonymous"
    );
    let token = key.sign(&idp.claims("chen", READ));
    let (_, _, body) = post(&g, Some(&token), query).await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn a_verified_token_is_refused_once_it_expires() {
    let key = Key::ec("ec-1");
    let idp = Idp::start(&[&key]).await;
    let auth = AuthConfig {
        leeway: std::time::Duration::ZERO,
        ..idp.auth(Mode::Jwt)
    };
    let g = gateway(auth).await;
    let claims = json!({
        "iss": idp.issuer, "aud": idp.audience, "sub": "alice", "scope": READ,
        "exp": now() + 1,
    });
    let token = key.sign(&claims);
    let (status, _, _) = post(&g, Some(&token), WHO).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, _, body) = post(&g, Some(&token), WHO).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn sockets_take_the_token_in_connection_init_and_close_when_it_expires() {
    let key = Key::ed25519("ed-1");
    let idp = Idp::start(&[&key]).await;
    let auth = AuthConfig {
        leeway: std::time::Duration::ZERO,
        ..idp.auth(Mode::Jwt)
    };
    let g = gateway(auth).await;
    let (mut refused, _) = tokio_tungstenite::connect_async(common::graphql_ws(&g.url))
        .await
        .unwrap();
    let init = json!({ "type": "connection_init", "payload": {} });
    refused.send(Message::text(init.to_string())).await.unwrap();
    match refused.next().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4403),
        other => panic!("expected a 4403 close, got {other:?}"),
    }

    let claims = json!({
        "iss": idp.issuer, "aud": idp.audience, "sub": "alice", "scope": READ,
        "exp": now() + 2,
    });
    let (mut socket, _) = tokio_tungstenite::connect_async(common::graphql_ws(&g.url))
        .await
        .unwrap();
    let init = json!({ "type": "connection_init", "payload": {
        "Authorization": format!("Bearer {}", key.sign(&claims)),
        "x-appmixer-token": DEMO_USERS[0].appmixer_token,
    }});
    socket.send(Message::text(init.to_string())).await.unwrap();
    let ack: Value = match socket.next().await {
        Some(Ok(Message::Text(text))) => serde_json::from_str(&text).unwrap(),
        other => panic!("expected an ack, got {other:?}"),
    };
    assert_eq!(ack["type"], "connection_ack");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": WHO } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    let mut closed = None;
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Text(text)) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                if message["type"] == "next" {
                    let subject = &message["payload"]["data"]["viewer"]["identity"]["subject"];
                    assert_eq!(subject, "alice");
                }
            }
            Ok(Message::Close(frame)) => {
                closed = frame.map(|f| u16::from(f.code));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(
        closed,
        Some(4403),
        "the socket closes when its token expires"
    );
}

#[tokio::test]
async fn server_sent_events_need_the_token_too() {
    let key = Key::ec("ec-1");
    let idp = Idp::start(&[&key]).await;
    let g = gateway(idp.auth(Mode::Jwt)).await;
    let events = |bearer: Option<String>| {
        let mut request = reqwest::Client::new()
            .post(&g.url)
            .header("accept", "text/event-stream")
            .json(&json!({ "query": WHO }));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let refused = events(None).await.unwrap();
    assert_eq!(refused.status(), 401);
    let token = key.sign(&idp.claims("alice", READ));
    let body = events(Some(token)).await.unwrap().text().await.unwrap();
    assert!(body.contains(r#""subject":"alice""#), "{body}");
}

#[tokio::test]
async fn forward_mode_ignores_bearer_tokens() {
    let g = Gateway::start().await;
    let (status, _, body) = post(&g, Some("anything"), WHO).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["viewer"]["identity"], Value::Null);
}

#[tokio::test]
async fn the_sandbox_issues_demo_tokens_and_every_mutation_is_audited() {
    let served = common::Served::start(&["--auth-mode", "jwt", "--log-format", "json"], &[]).await;
    let http = reqwest::Client::new();
    let (alice, bob) = (served.demo_jwt("alice").await, served.demo_jwt("bob").await);
    let page = http
        .get(&served.root)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Authorization"),
        "GraphiQL opens with a demo JWT"
    );
    let write = |bearer: String| {
        http.post(&served.url)
            .bearer_auth(bearer)
            .header("x-appmixer-token", DEMO_USERS[0].appmixer_token)
            .json(&json!({ "query": "mutation Ticket { createAuthTicket { ticket } }" }))
            .send()
    };
    let body: Value = write(alice.clone()).await.unwrap().json().await.unwrap();
    assert!(
        body["data"]["createAuthTicket"]["ticket"].is_string(),
        "{body}"
    );
    let body: Value = write(bob.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(codes(&body), ["FORBIDDEN"]);
    let anonymous = http
        .post(&served.url)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": WHO }))
        .send();
    assert_eq!(anonymous.await.unwrap().status(), 401);

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let output = served.output();
    let audit: Vec<Value> = output
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "audit")
        .collect();
    let seen: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|l| {
            let field = |k: &str| l[k].as_str().unwrap_or_default();
            (field("subject"), field("field"), field("outcome"))
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("alice", "createAuthTicket", "ok"),
            ("bob", "createAuthTicket", "FORBIDDEN")
        ],
        "{output}"
    );
    assert!(audit.iter().all(|l| l["operation"] == "Ticket"));
    assert!(audit.iter().all(|l| l["request_id"].is_string()));
    assert_eq!(audit[0]["vendor"], "appmixer", "the vendor it called");
    for jwt in [&alice, &bob] {
        assert!(!output.contains(jwt.as_str()), "a JWT reached the log");
    }
    let audit = serde_json::to_string(&audit).unwrap();
    assert!(!audit.contains(DEMO_USERS[0].appmixer_token));
}

#[tokio::test]
async fn the_keys_are_fetched_again_on_their_schedule() {
    let key = Key::ec("ec-1");
    let idp = Idp::start(&[&key]).await;
    let auth = AuthConfig {
        jwks_refresh: std::time::Duration::from_secs(1),
        ..idp.auth(Mode::Jwt)
    };
    let g = gateway(auth).await;
    let (status, _, _) = post(&g, Some(&key.sign(&idp.claims("alice", READ))), WHO).await;
    assert_eq!(status, 200);
    let before = idp.fetches();
    for _ in 0..40 {
        if idp.fetches() > before {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no scheduled fetch of the keys");
}
