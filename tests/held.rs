//! Vendor credentials held by the gateway (`auth.credentials = "held"`): the caller sends only
//! its JWT. Appmixer virtual users are created on first use and signed in once however many
//! requests wait; Appy Pie keys are exchanged once; replicas on one Redis share all of it; the
//! store holds nothing readable without its key; subjects never see each other's data.

mod common;

use common::redis::Redis;
use common::{codes, Gateway};
use flowgate::identity::held::HeldConfig;
use flowgate::identity::store::StoreConfig;
use flowgate::identity::{AuthConfig, Mode};
use flowgate::sandbox::{Sandbox, SandboxConfig, DEMO_USERS};
use flowgate::server::GatewayConfig;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

const SECRET: &str = "held-credentials-test-secret-0123456789";
const VIEWER: &str = "{ viewer { appmixer { username email } appypie { email } } }";
const ADMIN: &str = "automations:read automations:write credentials:admin";

fn store_dir() -> PathBuf {
    let n: u64 = rand_suffix();
    std::env::temp_dir().join(format!("flowgate-held-{}-{n}", std::process::id()))
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish()
}

/// Settings holding credentials in `store` (an embedded one in `dir`, or Redis at `url`).
fn held(dir: &std::path::Path, url: Option<String>, tenant_appypie: bool) -> AuthConfig {
    AuthConfig {
        mode: Mode::Jwt,
        dev_secret: Some(SECRET.into()),
        store: Some(StoreConfig {
            url,
            dir: dir.to_path_buf(),
            keys: vec![("k1".into(), [42; 32])],
            prefix: format!("held-{}", rand_suffix()),
        }),
        held: HeldConfig {
            virtual_users: true,
            tenant_appypie: tenant_appypie.then(|| {
                let alice = &DEMO_USERS[0];
                (alice.token_key.into(), alice.secret_key.into())
            }),
        },
        ..AuthConfig::default()
    }
}

/// A JWT of `sub` with `scope`, signed with the development secret.
fn jwt(sub: &str, scope: &str) -> String {
    let claims = json!({ "sub": sub, "scope": scope, "exp": 4_000_000_000u64 });
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
}

/// POSTs `query` as `sub` with nothing but its JWT.
async fn as_subject(url: &str, sub: &str, scope: &str, query: &str) -> Value {
    post_as(url, sub, scope, query, json!({})).await
}

/// POSTs `query` with `variables` as `sub` with nothing but its JWT.
async fn post_as(url: &str, sub: &str, scope: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(url)
        .bearer_auth(jwt(sub, scope))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_subject_gets_an_appmixer_virtual_user_on_first_use_and_keeps_it() {
    let dir = store_dir();
    let auth = held(&dir, None, true);
    let g = Gateway::start_with(move |c| c.auth = auth).await;
    let first = g
        .costs(
            &[
                ("POST /user", 1),
                ("GET /user", 1),
                ("POST /create-refresh-token", 1),
                ("GET /me", 1),
            ],
            as_subject(&g.url, "dana", "automations:read", VIEWER),
        )
        .await;
    assert!(first.get("errors").is_none(), "{first}");
    let username = first["data"]["viewer"]["appmixer"]["username"]
        .as_str()
        .unwrap();
    assert!(username.starts_with("fg-"), "{username}");
    assert_eq!(
        first["data"]["viewer"]["appypie"]["email"],
        DEMO_USERS[0].email
    );
    let again = g
        .costs(
            &[("GET /user", 1), ("GET /me", 1)],
            as_subject(&g.url, "dana", "automations:read", VIEWER),
        )
        .await;
    assert_eq!(again, first, "the same virtual user, no new sign-in");
    let other = as_subject(&g.url, "erin", "automations:read", VIEWER).await;
    assert_ne!(other["data"]["viewer"]["appmixer"]["username"], username);

    let raw = std::fs::read(dir.join("credentials.redb")).unwrap();
    for secret in [
        DEMO_USERS[0].secret_key,
        DEMO_USERS[0].appypie_token,
        username,
    ] {
        let found = raw.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "{secret} is readable in the store");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn fifty_requests_of_a_subject_whose_token_expired_sign_in_once() {
    let dir = store_dir();
    let auth = held(&dir, None, false);
    let g = Gateway::start_with(move |c| c.auth = auth).await;
    g.sandbox
        .appmixer
        .set_token_lifetime(Duration::from_secs(3));
    let first = as_subject(&g.url, "dana", "automations:read", VIEWER).await;
    assert!(
        first["data"]["viewer"]["appmixer"]["username"].is_string(),
        "{first}"
    );
    let bind = r#"mutation($s: String!, $k: String!, $p: String!) {
        bindCredentials(input: { subject: $s, appypieTokenKey: $k, appypieSecretKey: $p }) { held } }"#;
    let bob = &DEMO_USERS[1];
    let vars = json!({ "s": "dana", "k": bob.token_key, "p": bob.secret_key });
    let bound = post_as(&g.url, "root", ADMIN, bind, vars).await;
    assert_eq!(bound["data"]["bindCredentials"]["held"], true, "{bound}");
    // A token this close to its end counts as expired: every request would sign in again.

    let fifty = (0..50).map(|_| as_subject(&g.url, "dana", "automations:read", VIEWER));
    let before = g.hits();
    let answers = futures_util::future::join_all(fifty).await;
    let mut caused = g.hits();
    caused.retain(|route, n| {
        *n -= before.get(route).copied().unwrap_or(0);
        *n > 0 && !route.starts_with("GET ")
    });
    let once = [("POST /create-refresh-token", 1), ("POST /user/auth", 1)];
    let once = once.iter().map(|(r, n)| (r.to_string(), *n)).collect();
    assert_eq!(caused, once, "sign-ins and token exchanges, route by route");
    for answer in &answers {
        assert!(answer.get("errors").is_none(), "{answer}");
        assert_eq!(answer["data"]["viewer"]["appypie"]["email"], bob.email);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn admin_mutations_need_the_admin_scope_and_forget_me_removes_everything() {
    let dir = store_dir();
    let auth = held(&dir, None, true);
    let g = Gateway::start_with(move |c| c.auth = auth).await;
    let writer = "automations:read automations:write";
    let remove = r#"mutation { removeCredentials(input: { subject: "dana" }) { held } }"#;
    let refused = as_subject(&g.url, "mallory", writer, remove).await;
    assert_eq!(codes(&refused), ["FORBIDDEN"]);

    let first = as_subject(&g.url, "dana", writer, VIEWER).await;
    let username = first["data"]["viewer"]["appmixer"]["username"].clone();
    let forget = "mutation { forgetMe { held } }";
    let refused = as_subject(&g.url, "dana", "automations:read", forget).await;
    assert_eq!(
        codes(&refused),
        ["FORBIDDEN"],
        "a mutation: the write scope"
    );
    let forgot = as_subject(&g.url, "dana", writer, forget).await;
    assert_eq!(forgot["data"]["forgetMe"]["held"], true, "{forgot}");
    let after = g
        .costs(
            &[
                ("POST /user", 1),
                ("GET /user", 1),
                ("POST /create-refresh-token", 1),
                ("GET /me", 1),
            ],
            as_subject(&g.url, "dana", writer, VIEWER),
        )
        .await;
    assert_ne!(
        after["data"]["viewer"]["appmixer"]["username"], username,
        "a new virtual user"
    );
    let removed = as_subject(&g.url, "root", ADMIN, remove).await;
    assert_eq!(
        removed["data"]["removeCredentials"]["held"], true,
        "{removed}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn subjects_never_see_each_others_data() {
    let dir = store_dir();
    let auth = held(&dir, None, false);
    let g = Gateway::start_with(move |c| c.auth = auth).await;
    let bind = r#"mutation($s: String!, $u: String!, $p: String!, $k: String!, $x: String!) {
        bindCredentials(input: { subject: $s, appmixerUsername: $u, appmixerPassword: $p,
                                 appypieTokenKey: $k, appypieSecretKey: $x }) { subject } }"#;
    let subjects = ["alice", "bob", "chen"];
    for (subject, user) in subjects.iter().zip(DEMO_USERS.iter()) {
        let vars = json!({ "s": subject, "u": user.username, "p": user.password,
                           "k": user.token_key, "x": user.secret_key });
        let body = post_as(&g.url, "root", ADMIN, bind, vars).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let query = "{ viewer { appmixer { email } appypie { email } } \
                 automations(first: 5) { totalCount edges { node { name } } } }";
    let mut alone = Vec::new();
    for subject in subjects {
        alone.push(as_subject(&g.url, subject, "automations:read", query).await);
    }
    let mixed = (0..60).map(|i| {
        let subject = subjects[i % 3];
        let url = g.url.clone();
        async move {
            (
                i % 3,
                as_subject(&url, subject, "automations:read", query).await,
            )
        }
    });
    let mut wrong = 0;
    for (n, answer) in futures_util::future::join_all(mixed).await {
        assert_eq!(
            answer["data"]["viewer"]["appmixer"]["email"],
            DEMO_USERS[n].email
        );
        wrong += usize::from(answer != alone[n]);
    }
    assert_eq!(wrong, 0, "answers of another subject");
    let _ = std::fs::remove_dir_all(dir);
}

/// A replica over `sandbox` holding credentials in the Redis at `url`.
async fn replica(sandbox: &Sandbox, auth: AuthConfig) -> String {
    let mut config: GatewayConfig = common::sandboxed(sandbox);
    config.auth = auth;
    let app = flowgate::server::router(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn replicas_on_one_redis_share_a_subjects_credentials_sealed() {
    let Some(redis) = Redis::start() else { return };
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = store_dir();
    let auth = held(&dir, Some(redis.url()), true);
    let a = replica(&sandbox, auth.clone()).await;
    let b = replica(&sandbox, auth.clone()).await;
    let first = as_subject(&a, "dana", "automations:read", VIEWER).await;
    assert!(first.get("errors").is_none(), "{first}");
    let hits = |s: &Sandbox| {
        let mut all = s.appypie.hooks.counts();
        all.extend(s.appmixer.hooks.counts());
        all
    };
    let before = hits(&sandbox);
    let second = as_subject(&b, "dana", "automations:read", VIEWER).await;
    assert_eq!(
        second, first,
        "the other replica uses the same virtual user"
    );
    let after = hits(&sandbox);
    for route in [
        "POST /user",
        "POST /user/auth",
        "POST /create-refresh-token",
    ] {
        assert_eq!(
            after.get(route),
            before.get(route),
            "{route} again on the other replica"
        );
    }

    let mut conn = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    let username = first["data"]["viewer"]["appmixer"]["username"]
        .as_str()
        .unwrap();
    for key in keys {
        let value: Vec<u8> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        for secret in [
            DEMO_USERS[0].secret_key,
            DEMO_USERS[0].appypie_token,
            username,
            "dana",
        ] {
            assert!(!key.contains(secret), "{secret} in a key");
            let found = value.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{secret} readable in Redis");
        }
    }

    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query_async(&mut conn)
        .await
        .unwrap();
    let store =
        flowgate::identity::store::CredentialStore::open(auth.store.as_ref().unwrap()).unwrap();
    let refused = store.check_durable().await.unwrap_err();
    assert!(refused.contains("allkeys-lru"), "{refused}");
}

#[tokio::test]
async fn the_credentials_command_binds_exports_removes_and_imports() {
    use base64::Engine;
    let dir = store_dir();
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let settings = [
        "--auth-mode".to_string(),
        "jwt".into(),
        "--auth-dev-secret".into(),
        SECRET.into(),
        "--auth-credentials".into(),
        "held".into(),
        "--auth-store-dir".into(),
        dir.display().to_string(),
        "--auth-store-keys".into(),
        format!("k1:{key}"),
        "--appypie-url".into(),
        "http://127.0.0.1:9".into(),
        "--appmixer-url".into(),
        "http://127.0.0.1:9".into(),
    ];
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowgate"))
            .arg("credentials")
            .args(args)
            .args(&settings)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {text}");
        text
    };
    let bob = &DEMO_USERS[1];
    run(&[
        "bind",
        "--subject",
        "bob",
        "--appypie-token-key",
        bob.token_key,
        "--appypie-secret-key",
        bob.secret_key,
    ]);
    let backup = dir.join("backup.jsonl");
    let backup_arg = backup.display().to_string();
    assert!(run(&["export", "--file", &backup_arg]).contains("exported 1"));
    let exported = std::fs::read_to_string(&backup).unwrap();
    assert!(!exported.contains(bob.secret_key), "the export is sealed");
    assert!(run(&["remove", "--subject", "bob"]).contains("removed"));
    assert!(run(&["import", "--file", &backup_arg]).contains("imported 1"));

    let mut auth = held(&dir, None, false);
    auth.held.virtual_users = false;
    let g = Gateway::start_with(move |c| c.auth = auth).await;
    let answer = as_subject(
        &g.url,
        "bob",
        "automations:read",
        "{ viewer { appypie { email } } }",
    )
    .await;
    assert_eq!(
        answer["data"]["viewer"]["appypie"]["email"], bob.email,
        "{answer}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_token_the_vendor_refuses_is_replaced_on_the_next_request() {
    use flowgate::sandbox::{Fault, FaultRule};
    let dir = store_dir();
    let auth = held(&dir, None, false);
    let g = Gateway::start_with(move |c| c.auth = auth).await;
    let query = "{ viewer { appmixer { username } } }";
    let first = as_subject(&g.url, "dana", "automations:read", query).await;
    assert!(first.get("errors").is_none(), "{first}");
    let revoked = FaultRule::new("/user", Fault::Status { status: 401 })
        .method("GET")
        .times(1);
    g.sandbox.appmixer.hooks.add_fault(revoked);
    let refused = g
        .costs(
            &[("GET /user", 1)],
            as_subject(&g.url, "dana", "automations:read", query),
        )
        .await;
    assert_eq!(codes(&refused), ["UNAUTHENTICATED"], "{refused}");
    let again = g
        .costs(
            &[("POST /user/auth", 1), ("GET /user", 1)],
            as_subject(&g.url, "dana", "automations:read", query),
        )
        .await;
    assert_eq!(again, first, "signed in again as the same virtual user");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_appy_pie_token_the_vendor_refuses_is_exchanged_again() {
    use flowgate::sandbox::{Fault, FaultRule};
    let dir = store_dir();
    let mut auth = held(&dir, None, true);
    auth.held.virtual_users = false;
    let g = Gateway::start_with(move |c| c.auth = auth).await;
    let query = "{ viewer { appypie { email } } }";
    let first = as_subject(&g.url, "dana", "automations:read", query).await;
    assert_eq!(
        first["data"]["viewer"]["appypie"]["email"], DEMO_USERS[0].email,
        "{first}"
    );
    let refused = FaultRule::new("*/me", Fault::Status { status: 401 }).times(1);
    g.sandbox.appypie.hooks.add_fault(refused);
    let answer = as_subject(&g.url, "dana", "automations:read", query).await;
    assert_eq!(codes(&answer), ["UNAUTHENTICATED"], "{answer}");
    let again = g
        .costs(
            &[("POST /create-refresh-token", 1), ("GET /me", 1)],
            as_subject(&g.url, "dana", "automations:read", query),
        )
        .await;
    assert_eq!(again, first);
    let _ = std::fs::remove_dir_all(dir);
}
