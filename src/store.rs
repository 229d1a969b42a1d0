//! The store replicas share: Redis, when one is configured. Every call is bounded by a short
//! timeout. When Redis is down, slow or answers garbage, each call says "unavailable" and the
//! caller falls back to its own memory; a warning is logged once per interval, calls pause for a
//! moment, and the store is used again as soon as Redis answers.
//!
//! Keys are `<prefix>:v1:<kind>:<hex>`, where the hex is an HMAC-SHA256 (under a secret the
//! replicas share and Redis never sees) of what identifies the entry: no token, no id of a
//! caller can be read from a key, and values are capped in size.

use hmac::{Hmac, Mac};
use redis::aio::ConnectionManager;
use sha2::Sha256;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to reach Redis and what to keep there.
#[derive(Clone, PartialEq)]
pub struct RedisConfig {
    pub url: String,
    /// The HMAC key of every key name; the same on every replica.
    pub secret: String,
    /// The longest any call waits.
    pub timeout: Duration,
    /// Connections (each multiplexed) the calls are spread over.
    pub pool_size: usize,
    /// Values larger than this are not stored.
    pub max_value_bytes: usize,
    pub prefix: String,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("timeout", &self.timeout)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

/// A handle on the shared store; cheap to clone.
#[derive(Clone)]
pub struct Shared(Arc<Inner>);

struct Inner {
    pool: Vec<ConnectionManager>,
    next: AtomicUsize,
    config: RedisConfig,
    up: AtomicBool,
    /// While set, calls are not tried (Redis failed a moment ago).
    paused_until: Mutex<Option<Instant>>,
    last_warning: Mutex<Option<Instant>>,
    /// When the latest call that went through started: an older call failing later says
    /// nothing new.
    last_ok: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("up", &self.is_up()).finish()
    }
}

/// Bytes of the seal in front of a sealed value.
const SEAL: usize = 16;

/// How long calls pause after a failure, and how often a failure is logged.
const PAUSE: Duration = Duration::from_millis(500);
const WARN_EVERY: Duration = Duration::from_secs(30);

/// Takes one token from a bucket refilled at ARGV[1] tokens a millisecond up to ARGV[2];
/// answers 0, or the milliseconds until a token is there. Redis's clock, so replicas agree.
const TAKE_TOKEN: &str = r"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return wait
";

impl Shared {
    /// A store over `config`; connects lazily, so a Redis that is down at start is no error.
    pub fn new(config: RedisConfig) -> Result<Shared, String> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| format!("redis.url: {}", e.category()))?;
        let settings = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout.max(Duration::from_millis(100))))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let pool = (0..config.pool_size.max(1))
            .map(|_| ConnectionManager::new_lazy_with_config(client.clone(), settings.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("redis: {}", e.category()))?;
        metrics::gauge!("flowgate_redis_up").set(1.0);
        Ok(Shared(Arc::new(Inner {
            pool,
            next: AtomicUsize::new(0),
            config,
            up: AtomicBool::new(true),
            paused_until: Mutex::new(None),
            last_warning: Mutex::new(None),
            last_ok: Mutex::new(None),
        })))
    }

    /// Whether the last call went through.
    pub fn is_up(&self) -> bool {
        self.0.up.load(Ordering::Relaxed)
    }

    /// The key of an entry of `kind` identified by `parts`.
    pub fn key(&self, kind: &str, parts: &[&[u8]]) -> String {
        let mut all = vec![kind.as_bytes()];
        all.extend_from_slice(parts);
        let digest = self.mac(&all);
        let hex: String = digest[..20].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}:v1:{kind}:{hex}", self.0.config.prefix)
    }

    /// The value under `key`: `Some(None)` when there is none, `None` when Redis is unavailable.
    pub async fn get(&self, key: &str) -> Option<Option<Vec<u8>>> {
        let value: Option<Vec<u8>> = self.call("get", redis::cmd("GET").arg(key)).await?;
        Some(value.filter(|v| v.len() <= self.0.config.max_value_bytes))
    }

    /// Stores `value` under `key` for `ttl`; values over the size cap are not stored.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        if value.len() > self.0.config.max_value_bytes || ttl.is_zero() {
            return;
        }
        let millis = ttl.as_millis().max(1) as u64;
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("PX").arg(millis);
        let _: Option<()> = self.call("set", &cmd).await;
    }

    /// A value stored with `set_sealed`, checked: one that was not written by a replica holding
    /// the secret counts as absent. `None` when Redis is unavailable.
    pub async fn get_sealed(&self, key: &str) -> Option<Option<Vec<u8>>> {
        let Some(value) = self.get(key).await? else {
            return Some(None);
        };
        let opened = (value.len() >= SEAL)
            .then(|| value.split_at(SEAL))
            .filter(|(seal, body)| *seal == &self.seal(key, body)[..])
            .map(|(_, body)| body.to_vec());
        if opened.is_none() {
            metrics::counter!("flowgate_redis_errors_total", "op" => "garbage").increment(1);
        }
        Some(opened)
    }

    /// Stores `value` with a seal (an HMAC of key and value) that `get_sealed` checks.
    pub async fn set_sealed(&self, key: &str, value: &[u8], ttl: Duration) {
        let mut sealed = self.seal(key, value).to_vec();
        sealed.extend_from_slice(value);
        self.set(key, &sealed, ttl).await;
    }

    fn seal(&self, key: &str, value: &[u8]) -> [u8; SEAL] {
        let digest = self.mac(&[b"seal", key.as_bytes(), value]);
        let mut seal = [0; SEAL];
        seal.copy_from_slice(&digest[..SEAL]);
        seal
    }

    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let secret = self.0.config.secret.as_bytes();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
        for part in parts {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// Takes a token from the bucket under `key` (`per_min` a minute, at most `burst`):
    /// `Some(None)` when taken, `Some(Some(wait))` when empty, `None` when Redis is unavailable.
    pub async fn take(&self, key: &str, per_min: u32, burst: u32) -> Option<Option<Duration>> {
        let script = redis::Script::new(TAKE_TOKEN);
        let mut invocation = script.key(key);
        invocation
            .arg(f64::from(per_min) / 60_000.0)
            .arg(burst.max(1));
        let mut conn = self.connection()?;
        let call = invocation.invoke_async::<u64>(&mut conn);
        let wait = self.finish("rate_limit", call).await?;
        Some((wait > 0).then(|| Duration::from_millis(wait)))
    }

    fn connection(&self) -> Option<ConnectionManager> {
        let paused = *self
            .0
            .paused_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if paused.is_some_and(|until| Instant::now() < until) {
            return None;
        }
        let n = self.0.next.fetch_add(1, Ordering::Relaxed) % self.0.pool.len();
        Some(self.0.pool[n].clone())
    }

    async fn call<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Option<T> {
        let mut conn = self.connection()?;
        self.finish(op, cmd.query_async::<T>(&mut conn)).await
    }

    /// Awaits a call within the timeout; a failure pauses the store and is counted.
    async fn finish<T>(
        &self,
        op: &'static str,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.0.config.timeout, call).await;
        match outcome {
            Ok(Ok(value)) => {
                *self.0.last_ok.lock().unwrap_or_else(|e| e.into_inner()) = Some(started);
                if !self.0.up.swap(true, Ordering::Relaxed) {
                    tracing::warn!("redis answers again; shared state is back in use");
                    metrics::gauge!("flowgate_redis_up").set(1.0);
                }
                Some(value)
            }
            Ok(Err(e)) => self.failed(op, e.category(), started),
            Err(_) => self.failed(op, "timeout", started),
        }
    }

    fn failed<T>(&self, op: &'static str, why: &str, started: Instant) -> Option<T> {
        metrics::counter!("flowgate_redis_errors_total", "op" => op).increment(1);
        let last_ok = *self.0.last_ok.lock().unwrap_or_else(|e| e.into_inner());
        if last_ok.is_some_and(|ok| ok > started) {
            return None;
        }
        metrics::gauge!("flowgate_redis_up").set(0.0);
        self.0.up.store(false, Ordering::Relaxed);
        *self
            .0
            .paused_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + PAUSE);
        let mut last = self
            .0
            .last_warning
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(
                op,
                error = why,
                "redis unavailable; serving from this replica's memory"
            );
        }
        None
    }
}

/// A token bucket per key in this process: the rate limit when no shared store answers.
#[derive(Debug)]
pub struct LocalBuckets {
    /// Tokens a second.
    rate: f64,
    burst: u32,
    buckets: moka::sync::Cache<u128, Arc<Mutex<(f64, Instant)>>>,
}

impl LocalBuckets {
    /// Buckets of `per_min` tokens a minute, at most `burst`.
    pub fn new(per_min: u32, burst: u32) -> LocalBuckets {
        let rate = f64::from(per_min.max(1)) / 60.0;
        let refill = Duration::from_secs_f64(f64::from(burst.max(1)) / rate);
        LocalBuckets {
            rate,
            burst: burst.max(1),
            buckets: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(refill + Duration::from_secs(1))
                .build(),
        }
    }

    /// Takes a token from `key`'s bucket, or says how long until one is there.
    pub fn take(&self, key: u128) -> Option<Duration> {
        let burst = f64::from(self.burst);
        let bucket = self
            .buckets
            .get_with(key, || Arc::new(Mutex::new((burst, Instant::now()))));
        let mut state = bucket.lock().unwrap_or_else(|e| e.into_inner());
        let rate = self.rate;
        let now = Instant::now();
        let tokens = (state.0 + now.duration_since(state.1).as_secs_f64() * rate).min(burst);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            return None;
        }
        *state = (tokens, now);
        Some(Duration::from_secs_f64((1.0 - tokens) / rate))
    }
}
