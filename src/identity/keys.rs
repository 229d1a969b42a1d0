//! The identity provider's signing keys: fetched from its JWKS URLs (or the one its OIDC
//! discovery document names), refreshed on a schedule, and fetched again when a token names
//! an unknown `kid`, at most once per `jwks_min_refetch`, so forged `kid`s cannot make the
//! gateway hammer the provider.

use super::{AuthConfig, Refusal};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use url::Url;

/// Largest key set or discovery document read.
const MAX_DOCUMENT: usize = 256 << 10;

pub struct Keys {
    jwks_urls: Vec<Url>,
    issuer: Option<String>,
    client: reqwest::Client,
    /// By `kid`: the key and the one algorithm it verifies.
    known: RwLock<Arc<HashMap<String, (DecodingKey, Algorithm)>>>,
    /// When an unknown `kid` last caused a fetch; held while fetching (one at a time).
    last_unknown: tokio::sync::Mutex<Option<Instant>>,
    min_refetch: Duration,
}

impl Keys {
    pub fn new(config: &AuthConfig) -> Keys {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Keys {
            jwks_urls: config.jwks_urls.clone(),
            issuer: config.issuer.clone(),
            client,
            known: Default::default(),
            last_unknown: Default::default(),
            min_refetch: config.jwks_min_refetch,
        }
    }

    fn lookup(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        known.get(kid).cloned()
    }

    /// The key `kid` names, if it verifies `alg`.
    pub async fn find(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, Refusal> {
        let found = match self.lookup(kid) {
            Some(found) => Some(found),
            None => self.fetch_for(kid).await?,
        };
        match found {
            Some((key, key_alg)) if key_alg == alg => Ok(key),
            Some(_) => Err(Refusal::Algorithm),
            None => Err(Refusal::UnknownKey),
        }
    }

    /// Fetches the key sets again for an unknown `kid`, unless one was fetched for that reason
    /// too recently; the key, if it is now known.
    async fn fetch_for(&self, kid: &str) -> Result<Option<(DecodingKey, Algorithm)>, Refusal> {
        let mut last = self.last_unknown.lock().await;
        if let Some(found) = self.lookup(kid) {
            return Ok(Some(found));
        }
        // Until a fetch has succeeded, every token is of an unknown kid: those fetches are
        // not counted against the bound.
        let loaded = self.known.read().map(|k| !k.is_empty()).unwrap_or(false);
        if loaded {
            if last.is_some_and(|t| t.elapsed() < self.min_refetch) {
                return Ok(None);
            }
            *last = Some(Instant::now());
        }
        if !self.refresh().await && !loaded {
            return Err(Refusal::KeysUnavailable);
        }
        Ok(self.lookup(kid))
    }

    /// Fetches every key set; false (keeping the keys known) if any fetch failed.
    pub async fn refresh(&self) -> bool {
        let mut urls = self.jwks_urls.clone();
        if urls.is_empty() {
            match self.discover().await {
                Some(url) => urls.push(url),
                None => return false,
            }
        }
        let mut keys = HashMap::new();
        for url in &urls {
            match self.get::<JwkSet>(url).await {
                Some(set) => keys.extend(set.keys.iter().filter_map(usable)),
                None => {
                    tracing::warn!(url = %url, "could not fetch the identity provider's keys");
                    return false;
                }
            }
        }
        *self.known.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        true
    }

    /// The `jwks_uri` of the issuer's OIDC discovery document.
    async fn discover(&self) -> Option<Url> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            jwks_uri: String,
        }
        let issuer = self.issuer.as_ref()?.trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        let found = self.get::<Discovery>(&url.parse().ok()?).await;
        if found.is_none() {
            tracing::warn!(issuer, "could not read the issuer's discovery document");
        }
        found?.jwks_uri.parse().ok()
    }

    /// A JSON document, read up to [`MAX_DOCUMENT`] bytes.
    async fn get<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Option<T> {
        let mut response = self.client.get(url.clone()).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.ok()? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return None;
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).ok()
    }
}

/// A key of the set we can verify with: its `kid`, the key and its one algorithm (the JWK's
/// `alg`, or the one its type implies). HMAC keys in a key set are never trusted.
fn usable(jwk: &Jwk) -> Option<(String, (DecodingKey, Algorithm))> {
    let kid = jwk.common.key_id.clone()?;
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        AlgorithmParameters::OctetKey(_) => return None,
    };
    let alg = match jwk.common.key_algorithm {
        Some(named) => named.to_string().parse().ok()?,
        None => implied,
    };
    if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, (key, alg)))
}

/// Fetches the key sets every `period`, for as long as the keys are in use.
pub fn refresh_every(keys: &Arc<Keys>, period: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let keys = Arc::downgrade(keys);
    runtime.spawn(async move {
        // The first fetch is the first token's; the schedule starts a period later.
        let period = period.max(Duration::from_secs(1));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            let Some(keys) = keys.upgrade() else { return };
            keys.refresh().await;
        }
    });
}
