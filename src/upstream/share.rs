//! Upstream reads shared between requests: identical GETs in flight at once share one call, and
//! catalogue replies are cached for a while. Both are keyed by a keyed hash of the method, the
//! URL and the credential headers, so the token itself is never part of a key, and two callers
//! with different credentials never share anything.

use super::error::{ErrorKind, Provider, UpstreamError};
use super::http::Reply;
use crate::inflight::Driven;
use reqwest::header::CACHE_CONTROL;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
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
    /// The store replicas share (catalogue replies, rate limits), if any.
    pub shared: Option<crate::store::Shared>,
}

impl Default for SharingConfig {
    fn default() -> Self {
        SharingConfig {
            dedupe: true,
            catalogue_ttl: Duration::from_secs(60),
            catalogue_max_bytes: 64 << 20,
            shared: None,
        }
    }
}

/// A 128-bit keyed hash: the key is random per process, so a fingerprint says nothing about
/// the secret it was made from.
pub fn fingerprint(parts: &[&[u8]]) -> u128 {
    let mut joined = Joined::with_capacity(parts.iter().map(|p| p.len()).sum(), parts.len());
    for part in parts {
        joined.push(part);
    }
    joined.fingerprint()
}

/// Parts to fingerprint, joined in one buffer, each after its length so that no two lists of
/// parts join alike. The hashers then take the buffer in one write: a write per part cost more
/// than hashing its bytes.
pub struct Joined(Vec<u8>);

impl Joined {
    /// Room for `parts` parts of `bytes` bytes in all.
    pub fn with_capacity(bytes: usize, parts: usize) -> Joined {
        Joined(Vec::with_capacity(bytes + 4 * parts))
    }

    pub fn push(&mut self, part: &[u8]) {
        self.0.extend_from_slice(&(part.len() as u32).to_le_bytes());
        self.0.extend_from_slice(part);
    }

    pub fn fingerprint(&self) -> u128 {
        static KEYS: OnceLock<(std::hash::RandomState, std::hash::RandomState)> = OnceLock::new();
        let (a, b) = KEYS.get_or_init(Default::default);
        let half = |state: &std::hash::RandomState| {
            let mut h = state.build_hasher();
            h.write(&self.0);
            h.finish()
        };
        (u128::from(half(a)) << 64) | u128::from(half(b))
    }
}

/// What identifies a GET: its method, URL and every credential (sensitive) header it carries.
pub fn request_parts(request: &super::http::Request) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = vec![request.method.as_str().as_bytes()];
    parts.push(&request.url);
    parts.extend(credential_parts(&request.headers));
    parts
}

/// The credential (sensitive) headers of a request, names and values; empty without any.
pub fn credential_parts(headers: &reqwest::header::HeaderMap) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for (name, value) in headers {
        if value.is_sensitive() {
            parts.push(name.as_str().as_bytes());
            parts.push(value.as_bytes());
        }
    }
    parts
}

/// A catalogue reply as the shared store keeps it: status, expiry (Unix milliseconds), body.
pub fn encode_reply(reply: &Reply, ttl: Duration) -> Vec<u8> {
    let expires = std::time::SystemTime::now() + ttl;
    let millis = expires
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut out = Vec::with_capacity(10 + reply.body.len());
    out.extend_from_slice(&reply.status.as_u16().to_be_bytes());
    out.extend_from_slice(&millis.to_be_bytes());
    out.extend_from_slice(&reply.body);
    out
}

/// A reply `encode_reply` made and the time it has left, unless it is malformed or expired.
pub fn decode_reply(bytes: &[u8]) -> Option<(Reply, Duration)> {
    let (status, rest) = bytes.split_first_chunk::<2>()?;
    let (expires, body) = rest.split_first_chunk::<8>()?;
    let status = reqwest::StatusCode::from_u16(u16::from_be_bytes(*status)).ok()?;
    let expires = std::time::UNIX_EPOCH + Duration::from_millis(u64::from_be_bytes(*expires));
    let left = expires.duration_since(std::time::SystemTime::now()).ok()?;
    let reply = Reply {
        status,
        headers: reqwest::header::HeaderMap::new(),
        body: bytes::Bytes::copy_from_slice(body),
        decoded: Default::default(),
    };
    status.is_success().then_some((reply, left))
}

type Outcome = Result<Reply, UpstreamError>;

/// Identical upstream reads in flight, shared by key.
#[derive(Debug, Default)]
pub struct SharedReads(Driven<Outcome>);

impl SharedReads {
    /// The outcome of the read under `key`, joining one in flight or starting the call `start`
    /// makes; and whether it joined. A new read runs in its callers' tasks, which saves a task
    /// and a switch to it; but while a single request runs, as a task of its own, so that every
    /// core can work on that request's fan-out.
    pub async fn join<F>(
        &self,
        key: u128,
        provider: Provider,
        start: impl FnOnce() -> F,
    ) -> (Outcome, bool)
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        let spawn = super::context::alone();
        let (outcome, joined) = self.0.join(key, spawn, start).await;
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

    /// Keeps a successful reply for the shorter of our TTL and the upstream's `max-age`, and
    /// says for how long; nothing when the upstream says `no-store`.
    pub fn put(&self, key: u128, reply: &Reply) -> Option<Duration> {
        if !reply.status.is_success() {
            return None;
        }
        let ttl = allowed_ttl(reply, self.ttl)?;
        self.put_for(key, reply, ttl);
        Some(ttl)
    }

    /// Keeps a reply for `ttl`, at most our TTL.
    pub fn put_for(&self, key: u128, reply: &Reply, ttl: Duration) {
        let cached = Cached {
            reply: reply.clone(),
            ttl: ttl.min(self.ttl),
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
            decoded: Default::default(),
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
        let joined = fingerprint(&[b"GET", b"/apps", b"/token-a"]);
        assert_ne!(joined, fingerprint(&[b"GET", b"/apps/", b"token-a"]));
    }
}
