//! Upstream reads shared between requests: identical GETs in flight at once share one call, and
//! catalogue replies are cached for a while. Both are keyed by a keyed hash of the method, the
//! URL and the credential headers, so the token itself is never part of a key, and two callers
//! with different credentials never share anything.

use super::error::{ErrorKind, Provider, UpstreamError};
use super::http::Reply;
use crate::inflight::InFlight;
use reqwest::header::CACHE_CONTROL;
use std::future::Future;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How upstream reads are shared between requests.
#[derive(Clone, Debug)]
pub struct SharingConfig {
    /// Identical GETs in flight at once (same vendor, URL and credential) share one call.
    pub dedupe: bool,
    /// How long catalogue replies are kept; zero turns the cache off.
    pub catalogue_ttl: Duration,
    /// Most bytes of reply bodies the catalogue cache holds, per vendor.
    pub catalogue_max_bytes: u64,
}

impl Default for SharingConfig {
    fn default() -> Self {
        SharingConfig {
            dedupe: true,
            catalogue_ttl: Duration::from_secs(60),
            catalogue_max_bytes: 64 << 20,
        }
    }
}

/// A 128-bit keyed hash: the key is random per process, so a fingerprint says nothing about
/// the secret it was made from.
pub fn fingerprint(parts: &[&[u8]]) -> u128 {
    static KEYS: OnceLock<(std::hash::RandomState, std::hash::RandomState)> = OnceLock::new();
    let (a, b) = KEYS.get_or_init(Default::default);
    let half = |state: &std::hash::RandomState| {
        let mut h = state.build_hasher();
        for part in parts {
            part.hash(&mut h);
        }
        h.finish()
    };
    (u128::from(half(a)) << 64) | u128::from(half(b))
}

/// The key of a GET: its URL and every credential (sensitive) header it carries.
pub fn request_key(request: &reqwest::Request) -> u128 {
    let mut parts: Vec<&[u8]> = vec![request.method().as_str().as_bytes()];
    parts.push(request.url().as_str().as_bytes());
    for (name, value) in request.headers() {
        if value.is_sensitive() {
            parts.push(name.as_str().as_bytes());
            parts.push(value.as_bytes());
        }
    }
    fingerprint(&parts)
}

type Outcome = Result<Reply, UpstreamError>;

/// Identical upstream reads in flight, shared by key.
#[derive(Debug, Default)]
pub struct SharedReads(InFlight<Outcome>);

impl SharedReads {
    /// The outcome of the read under `key`, joining one in flight or starting `call`; and
    /// whether it joined.
    pub async fn join<F>(&self, key: u128, provider: Provider, call: F) -> (Outcome, bool)
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        let (outcome, joined) = self.0.join(key, call).await;
        let outcome = outcome.unwrap_or_else(|| {
            Err(UpstreamError::new(
                provider,
                ErrorKind::Disconnected,
                "shared call",
            ))
        });
        (outcome, joined)
    }
}

#[derive(Clone)]
struct Cached {
    reply: Reply,
    ttl: Duration,
}

struct PerEntry;

impl moka::Expiry<u128, Cached> for PerEntry {
    fn expire_after_create(&self, _: &u128, value: &Cached, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Catalogue replies, by key, each for its own time to live.
pub struct Catalogue {
    ttl: Duration,
    entries: moka::sync::Cache<u128, Cached>,
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogue").field("ttl", &self.ttl).finish()
    }
}

impl Catalogue {
    /// A cache keeping replies `ttl` at most, `max_bytes` of bodies in all; `None` when off.
    pub fn new(ttl: Duration, max_bytes: u64) -> Option<Catalogue> {
        (!ttl.is_zero()).then(|| Catalogue {
            ttl,
            entries: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, v: &Cached| {
                    u32::try_from(v.reply.body.len() + 256).unwrap_or(u32::MAX)
                })
                .expire_after(PerEntry)
                .build(),
        })
    }

    pub fn get(&self, key: u128) -> Option<Reply> {
        self.entries.get(&key).map(|c| c.reply)
    }

    /// Keeps a successful reply for the shorter of our TTL and the upstream's `max-age`;
    /// nothing when the upstream says `no-store`.
    pub fn put(&self, key: u128, reply: &Reply) {
        if !reply.status.is_success() {
            return;
        }
        let Some(ttl) = allowed_ttl(reply, self.ttl) else {
            return;
        };
        let cached = Cached {
            reply: reply.clone(),
            ttl,
        };
        self.entries.insert(key, cached);
    }
}

/// How long `reply` may be kept, at most `ttl`, by its `Cache-Control`.
fn allowed_ttl(reply: &Reply, ttl: Duration) -> Option<Duration> {
    let Some(value) = reply.headers.get(CACHE_CONTROL) else {
        return Some(ttl);
    };
    let value = value.to_str().unwrap_or("no-store").to_ascii_lowercase();
    let mut allowed = ttl;
    for directive in value.split(',').map(str::trim) {
        if directive == "no-store" || directive == "no-cache" {
            return None;
        }
        if let Some(secs) = directive.strip_prefix("max-age=") {
            let secs: u64 = secs.trim_matches('"').parse().unwrap_or(0);
            allowed = allowed.min(Duration::from_secs(secs));
        }
    }
    (!allowed.is_zero()).then_some(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use reqwest::header::{HeaderMap, HeaderValue};
    use reqwest::StatusCode;

    fn reply(cache_control: Option<&'static str>) -> Reply {
        let mut headers = HeaderMap::new();
        if let Some(v) = cache_control {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static(v));
        }
        Reply {
            status: StatusCode::OK,
            headers,
            body: Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn cache_control_bounds_the_ttl() {
        let ttl = Duration::from_secs(60);
        assert_eq!(allowed_ttl(&reply(None), ttl), Some(ttl));
        assert_eq!(
            allowed_ttl(&reply(Some("public, max-age=5")), ttl),
            Some(Duration::from_secs(5))
        );
        assert_eq!(allowed_ttl(&reply(Some("max-age=600")), ttl), Some(ttl));
        assert_eq!(allowed_ttl(&reply(Some("no-store")), ttl), None);
        assert_eq!(allowed_ttl(&reply(Some("max-age=0")), ttl), None);
    }

    #[test]
    fn fingerprints_differ_by_every_part() {
        let a = fingerprint(&[b"GET", b"/apps", b"token-a"]);
        assert_eq!(a, fingerprint(&[b"GET", b"/apps", b"token-a"]));
        assert_ne!(a, fingerprint(&[b"GET", b"/apps", b"token-b"]));
        assert_ne!(a, fingerprint(&[b"GET", b"/apps/", b"token-a"]));
    }
}
