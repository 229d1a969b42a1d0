//! Who is calling: a JWT from the company's identity provider, verified against its published
//! keys (JWKS, or an OIDC issuer's), or a static secret for development. A verified token is
//! kept, by its fingerprint, so it is not verified again on every request.

pub mod held;
mod keys;
pub mod store;

use crate::upstream::fingerprint;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keys::Keys;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

/// How callers are identified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No identity of ours: the vendor tokens a caller presents are trusted (as they come).
    Forward,
    /// Every request carries a valid JWT.
    Jwt,
    /// A JWT is verified when one comes; anonymous callers reach only what needs no identity.
    Optional,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "forward" => Some(Mode::Forward),
            "jwt" => Some(Mode::Jwt),
            "optional" => Some(Mode::Optional),
            _ => None,
        }
    }
}

/// Where the keys come from and what a token must say. (`Debug` shows no secret.)
#[derive(Clone)]
pub struct AuthConfig {
    pub mode: Mode,
    /// Key sets to trust (RS256, ES256, EdDSA keys, each with its `kid`).
    pub jwks_urls: Vec<Url>,
    /// The `iss` every token must carry; without `jwks_urls`, its discovery document says
    /// where its keys are.
    pub issuer: Option<String>,
    /// One of these must be in `aud` (none: `aud` is not checked).
    pub audiences: Vec<String>,
    /// An HS256 secret for development; tokens signed with it are accepted too.
    pub dev_secret: Option<String>,
    /// The scope every mutation needs.
    pub write_scope: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// The claim naming the subject (`sub`).
    pub subject_claim: String,
    /// The scope the credential admin mutations need.
    pub admin_scope: String,
    /// Vendor credentials held by the gateway (`auth.credentials = "held"`): where.
    pub store: Option<store::StoreConfig>,
    pub held: held::HeldConfig,
    /// How often the key sets are fetched again.
    pub jwks_refresh: Duration,
    /// Least time between two fetches caused by an unknown `kid`.
    pub jwks_min_refetch: Duration,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("mode", &self.mode)
            .field("issuer", &self.issuer)
            .field("held", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: Mode::Forward,
            jwks_urls: Vec::new(),
            issuer: None,
            audiences: Vec::new(),
            dev_secret: None,
            write_scope: "automations:write".into(),
            subject_claim: "sub".into(),
            admin_scope: "credentials:admin".into(),
            store: None,
            held: held::HeldConfig::default(),
            leeway: Duration::from_secs(30),
            jwks_refresh: Duration::from_secs(300),
            jwks_min_refetch: Duration::from_secs(10),
        }
    }
}

/// A verified caller.
#[derive(Debug, PartialEq, Eq)]
pub struct Subject {
    /// The token's `sub`.
    pub id: String,
    pub scopes: Vec<String>,
    /// Seconds since the epoch when the token stops being valid (`exp`).
    pub expires: u64,
    /// A fingerprint of who it is and what it may do.
    key: u128,
}

impl Subject {
    pub fn new(id: String, scopes: Vec<String>, expires: u64) -> Subject {
        let key = fingerprint(&[id.as_bytes(), scopes.join(" ").as_bytes()]);
        Subject {
            id,
            scopes,
            expires,
            key,
        }
    }

    /// Whether the subject holds every scope of one of the groups (OR of ANDs).
    pub fn satisfies<S: AsRef<str>>(&self, any_of: &[Vec<S>]) -> bool {
        any_of.iter().any(|all| {
            all.iter()
                .all(|s| self.scopes.iter().any(|mine| mine == s.as_ref()))
        })
    }

    /// How long the token stays valid from now.
    pub fn remaining(&self) -> Duration {
        Duration::from_secs(self.expires.saturating_sub(now()))
    }

    /// A fingerprint of who it is and what it may do.
    pub fn key(&self) -> u128 {
        self.key
    }
}

/// Why a token was refused; said in the log and, briefly, to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no bearer token")]
    Missing,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is not trusted")]
    Issuer,
    #[error("the token is not meant for this gateway (audience)")]
    Audience,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token's signing algorithm is not accepted")]
    Algorithm,
    #[error("the token's key (kid) is unknown")]
    UnknownKey,
    #[error("the identity provider's keys could not be fetched")]
    KeysUnavailable,
}

#[derive(Deserialize)]
struct Claims {
    exp: u64,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<Scp>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// `scp`, as a list or space-separated.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scp {
    List(Vec<String>),
    Text(String),
}

impl Claims {
    /// The subject named by claim `subject` (`sub` unless configured), with its scopes.
    fn into_subject(self, subject: &str) -> Option<Subject> {
        let id = self.rest.get(subject)?.as_str()?.to_string();
        let mut scopes: Vec<String> = self
            .scope
            .iter()
            .flat_map(|s| s.split_whitespace().map(str::to_string))
            .collect();
        match self.scp {
            Some(Scp::List(list)) => scopes.extend(list),
            Some(Scp::Text(text)) => scopes.extend(text.split_whitespace().map(str::to_string)),
            None => {}
        }
        scopes.sort();
        scopes.dedup();
        Some(Subject::new(id, scopes, self.exp))
    }
}

/// Verifies callers' tokens.
pub struct Verifier {
    config: AuthConfig,
    keys: Arc<Keys>,
    dev_key: Option<DecodingKey>,
    /// Verified tokens by fingerprint. A plain map under a read lock: each request reads it,
    /// and a cache that records its reads cost more than the lookup.
    verified: std::sync::RwLock<HashMap<u128, Arc<Subject>>>,
}

/// The longest token read: a JWT of an IdP is well under it; past it nothing is decoded.
const MAX_TOKEN: usize = 8 << 10;

/// Verified tokens kept; past it the expired are dropped, and if that is not enough, all.
const VERIFIED_KEPT: usize = 10_000;

impl Verifier {
    /// A verifier for `config`; starts refreshing the key sets on their schedule.
    pub fn new(config: AuthConfig) -> Arc<Verifier> {
        let keys = Arc::new(Keys::new(&config));
        keys::refresh_every(&keys, config.jwks_refresh);
        Arc::new(Verifier {
            dev_key: config
                .dev_secret
                .as_ref()
                .map(|s| DecodingKey::from_secret(s.as_bytes())),
            keys,
            verified: Default::default(),
            config,
        })
    }

    pub fn mode(&self) -> Mode {
        self.config.mode
    }

    /// The subject of `token`, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Arc<Subject>, Refusal> {
        if token.len() > MAX_TOKEN {
            return Err(Refusal::Malformed);
        }
        let key = fingerprint(&[b"jwt", token.as_bytes()]);
        let known = self.verified.read().ok().and_then(|v| v.get(&key).cloned());
        if let Some(subject) = known {
            return match now() <= subject.expires + self.config.leeway.as_secs() {
                true => Ok(subject),
                false => Err(Refusal::Expired),
            };
        }
        let subject = Arc::new(self.decode(token).await?);
        self.remember(key, subject.clone());
        Ok(subject)
    }

    fn remember(&self, key: u128, subject: Arc<Subject>) {
        let mut verified = self.verified.write().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= VERIFIED_KEPT {
            let now = now();
            verified.retain(|_, s| now <= s.expires + self.config.leeway.as_secs());
            if verified.len() >= VERIFIED_KEPT {
                verified.clear();
            }
        }
        verified.insert(key, subject);
    }

    async fn decode(&self, token: &str) -> Result<Subject, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Refusal::Algorithm,
            _ => Refusal::Malformed,
        })?;
        let alg = header.alg;
        let key = match alg {
            Algorithm::HS256 => self.dev_key.clone().ok_or(Refusal::Algorithm)?,
            Algorithm::HS384 | Algorithm::HS512 => return Err(Refusal::Algorithm),
            _ => {
                let kid = header.kid.as_deref().ok_or(Refusal::UnknownKey)?;
                self.keys.find(kid, alg).await?
            }
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation(alg))
            .map_err(|e| refusal(e.kind()))?
            .claims;
        claims
            .into_subject(&self.config.subject_claim)
            .ok_or(Refusal::Malformed)
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = self.config.leeway.as_secs();
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp"]);
        if let Some(issuer) = &self.config.issuer {
            v.set_issuer(&[issuer]);
        }
        if self.config.audiences.is_empty() {
            v.validate_aud = false;
        } else {
            v.set_audience(&self.config.audiences);
        }
        v
    }
}

fn refusal(kind: &ErrorKind) -> Refusal {
    match kind {
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::ImmatureSignature => Refusal::NotYetValid,
        ErrorKind::InvalidIssuer => Refusal::Issuer,
        ErrorKind::InvalidAudience => Refusal::Audience,
        ErrorKind::InvalidSignature => Refusal::Signature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Refusal::Algorithm,
        _ => Refusal::Malformed,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(scopes: &[&str]) -> Subject {
        let scopes = scopes.iter().map(|s| s.to_string()).collect();
        Subject::new("alice".into(), scopes, 0)
    }

    #[test]
    fn scopes_are_an_or_of_and_groups() {
        let reader = subject(&["automations:read"]);
        let writer = subject(&["automations:read", "automations:write"]);
        let need = [vec!["automations:read", "automations:write"], vec!["admin"]];
        assert!(!reader.satisfies(&need));
        assert!(writer.satisfies(&need));
        assert!(subject(&["admin"]).satisfies(&need));
        assert!(!writer.satisfies::<&str>(&[]));
    }

    #[test]
    fn scope_and_scp_claims_both_count() {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "sub": "bob", "exp": 1, "scope": "b a", "scp": ["c", "a"]
        }))
        .unwrap();
        assert_eq!(claims.into_subject("sub").unwrap().scopes, ["a", "b", "c"]);
    }
}
