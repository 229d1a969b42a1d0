//! An identity provider for tests: its discovery document and JWKS served over HTTP on a
//! loopback port, keys generated here (RS256, ES256, EdDSA), tokens signed with them.

use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// A signing key and its public JWK.
#[derive(Clone)]
pub struct Key {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Value,
    /// The public key's bytes as an HMAC secret would take them (for confusion attacks).
    pub public_bytes: Vec<u8>,
}

impl Key {
    pub fn rsa(kid: &str) -> Key {
        use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
        use rsa::traits::PublicKeyParts;
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let public = private.to_public_key();
        let der = private.to_pkcs1_der().unwrap();
        Key {
            kid: kid.into(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: json!({
                "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            }),
            public_bytes: public.to_pkcs1_der().unwrap().as_bytes().to_vec(),
        }
    }

    pub fn ec(kid: &str) -> Key {
        let rng = ring::rand::SystemRandom::new();
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        Key {
            kid: kid.into(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "EC", "kid": kid, "crv": "P-256", "alg": "ES256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            }),
            public_bytes: point,
        }
    }

    pub fn ed25519(kid: &str) -> Key {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        Key {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "OKP", "kid": kid, "crv": "Ed25519", "alg": "EdDSA",
                "x": URL_SAFE_NO_PAD.encode(&public),
            }),
            public_bytes: public,
        }
    }

    /// A token of these claims signed with this key.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The identity provider: its keys (published or not) and how often they were fetched.
pub struct Idp {
    pub issuer: String,
    pub jwks_url: String,
    published: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicU64>,
    pub audience: String,
}

impl Idp {
    /// Serves the discovery document and the JWKS with `keys` published.
    pub async fn start(keys: &[&Key]) -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let published: Vec<Value> = keys.iter().map(|k| k.jwk.clone()).collect();
        let published = Arc::new(Mutex::new(published));
        let fetches = Arc::new(AtomicU64::new(0));
        let jwks_url = format!("{base}/jwks.json");
        let discovery = json!({ "issuer": base, "jwks_uri": jwks_url });
        let (keys, count) = (published.clone(), fetches.clone());
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(discovery) }),
            )
            .route(
                "/jwks.json",
                get(move || async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    let keys = keys.lock().unwrap().clone();
                    Json(json!({ "keys": keys }))
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Idp {
            issuer: base,
            jwks_url,
            published,
            fetches,
            audience: "flowgate".into(),
        }
    }

    /// Publishes `key` too (a rotation's first step).
    pub fn publish(&self, key: &Key) {
        self.published.lock().unwrap().push(key.jwk.clone());
    }

    /// Times the JWKS was fetched.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The claims of a valid token of `sub` with `scope`, valid for an hour.
    pub fn claims(&self, sub: &str, scope: &str) -> Value {
        json!({
            "iss": self.issuer, "aud": self.audience, "sub": sub, "scope": scope,
            "iat": now(), "exp": now() + 3600,
        })
    }

    /// The gateway's settings trusting this provider.
    pub fn auth(&self, mode: flowgate::identity::Mode) -> flowgate::identity::AuthConfig {
        flowgate::identity::AuthConfig {
            mode,
            issuer: Some(self.issuer.clone()),
            audiences: vec![self.audience.clone()],
            ..Default::default()
        }
    }
}
