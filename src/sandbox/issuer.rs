//! A demo identity provider: an OIDC discovery document, a JWKS of one Ed25519 key made at
//! start, and `POST /token` minting a JWT for a demo subject (`{"username": "alice"}`), so the
//! sandbox shows callers identified by the gateway. Not an IdP to deploy: it asks no password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The demo subjects and their scopes: Alice and Chen may write, Bob only reads.
pub const DEMO_SUBJECTS: [(&str, &str); 3] = [
    ("alice", "automations:read automations:write"),
    ("bob", "automations:read"),
    ("chen", "automations:read automations:write"),
];

/// How long a demo token lives, in seconds.
const LIFETIME: u64 = 12 * 3600;

pub struct Issuer {
    key: EncodingKey,
    jwk: Value,
    /// Its base URL (the tokens' `iss`), once it listens.
    base: OnceLock<String>,
}

impl Issuer {
    pub fn new() -> Arc<Issuer> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("the system has randomness");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key just made");
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        Arc::new(Issuer {
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "demo-1", "x": x,
            }),
            base: OnceLock::new(),
        })
    }

    pub fn set_base(&self, base: String) {
        let _ = self.base.set(base);
    }

    /// The issuer URL (`iss`).
    pub fn url(&self) -> String {
        self.base.get().cloned().unwrap_or_default()
    }

    /// A token of demo subject `name` with its scopes; `None` for anyone else.
    pub fn token(&self, name: &str) -> Option<String> {
        let (sub, scope) = DEMO_SUBJECTS.iter().find(|(sub, _)| *sub == name)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        let claims = json!({
            "iss": self.url(), "aud": "flowgate", "sub": sub, "scope": scope,
            "iat": now, "exp": now + LIFETIME,
        });
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("demo-1".into());
        jsonwebtoken::encode(&header, &claims, &self.key).ok()
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route(
                "/jwks.json",
                get(|State(i): State<Arc<Issuer>>| async move { Json(json!({ "keys": [i.jwk] })) }),
            )
            .route("/token", post(token))
            .with_state(self.clone())
    }
}

async fn discovery(State(issuer): State<Arc<Issuer>>) -> Json<Value> {
    let base = issuer.url();
    Json(json!({
        "issuer": base,
        "jwks_uri": format!("{base}/jwks.json"),
        "token_endpoint": format!("{base}/token"),
        "id_token_signing_alg_values_supported": ["EdDSA"],
    }))
}

async fn token(
    State(issuer): State<Arc<Issuer>>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let name = body["username"].as_str().unwrap_or_default();
    match issuer.token(name) {
        Some(token) => Ok(Json(json!({
            "access_token": token, "token_type": "Bearer", "expires_in": LIFETIME,
        }))),
        None => Err((
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant", "error_description": "alice, bob or chen" })),
        )),
    }
}
