//! One configuration for the whole gateway: defaults, then a TOML file (`--config`), then
//! `FLOWGATE_*` environment variables, then flags, each later one winning. Every setting is
//! listed once in [`SETTINGS`]; its flag, its variable, the example file and the README table
//! are all derived from that list, and its default comes from the code that uses it.

use crate::identity::held::HeldConfig;
use crate::identity::store::StoreConfig;
use crate::identity::{AuthConfig, Mode};
use crate::sandbox::{Sandbox, DEMO_USERS};
use crate::server::{
    ConnectionTimeouts, CorsConfig, GatewayConfig, Limits, PersistedConfig, SubscriptionConfig,
};
use crate::store::RedisConfig;
use crate::upstream::appmixer::AppmixerConfig;
use crate::upstream::appypie::AppyPieConfig;
use crate::upstream::{HttpConfig, Policy, RateLimit, SharingConfig};
use reqwest::header::HeaderName;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// The whole configuration, one struct per concern; the TOML file has one section each.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    pub server: Server,
    pub limits: QueryLimits,
    pub upstream: Upstream,
    pub appypie: AppyPie,
    pub appmixer: Appmixer,
    pub caches: Caches,
    pub persisted: Persisted,
    pub cors: Cors,
    pub subscriptions: Subscriptions,
    pub redis: Redis,
    pub auth: Auth,
    pub logs: Logs,
    pub telemetry: Telemetry,
    /// Wired to the in-process sandboxes: GraphiQL opens with a demo user's tokens.
    #[serde(skip)]
    pub demo: bool,
    /// The demo issuer's token for Alice, which GraphiQL opens with.
    #[serde(skip)]
    pub demo_bearer: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Server {
    pub listen: String,
    pub header_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub body_timeout_ms: u64,
    pub request_deadline_ms: u64,
    pub max_concurrent_requests: usize,
    pub grace_period_secs: u64,
    pub allow_trace: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct QueryLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub max_body_bytes: usize,
    pub introspection: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Upstream {
    pub connect_timeout_ms: u64,
    pub max_in_flight: usize,
}

/// What both vendors' sections hold: where the caller's token arrives and how calls are
/// timed, retried and cut off.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Vendor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub header: String,
    pub timeout_ms: u64,
    pub max_body_mib: usize,
    pub max_retries: u32,
    pub breaker_threshold: u32,
    pub breaker_open_secs: u64,
    pub rate_limit_per_min: u32,
    pub rate_limit_burst: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AppyPie {
    #[serde(flatten)]
    pub vendor: Vendor,
    pub auth_url: String,
    pub token_header: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Appmixer {
    #[serde(flatten)]
    pub vendor: Vendor,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Caches {
    pub dedupe: bool,
    pub coalesce: bool,
    pub coalesce_window_ms: u64,
    pub catalogue_ttl_secs: u64,
    pub catalogue_cache_mib: u64,
    pub document_cache_mib: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Persisted {
    pub apq: bool,
    pub apq_cache_mib: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_documents: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Cors {
    pub origins: Vec<String>,
    pub max_age_secs: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Subscriptions {
    pub poll_ms: u64,
    pub max_per_connection: usize,
    pub max_per_caller: usize,
    pub init_timeout_ms: u64,
    pub max_sockets: usize,
    pub max_sockets_per_client: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Redis {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint_secret: Option<String>,
    pub timeout_ms: u64,
    pub pool_size: usize,
    pub max_value_kib: usize,
    pub prefix: String,
}

impl Default for Redis {
    fn default() -> Self {
        Redis {
            url: None,
            fingerprint_secret: None,
            timeout_ms: 5,
            pool_size: 4,
            max_value_kib: 1024,
            prefix: "flowgate".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Auth {
    pub mode: String,
    pub jwks_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    pub audiences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev_secret: Option<String>,
    pub write_scope: String,
    pub leeway_secs: u64,
    pub jwks_refresh_secs: u64,
    pub subject_claim: String,
    pub credentials: String,
    pub store_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_url: Option<String>,
    pub store_keys: Vec<String>,
    pub virtual_users: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appypie_token_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appypie_secret_key: Option<String>,
    pub admin_scope: String,
}

impl Default for Auth {
    fn default() -> Self {
        let a = AuthConfig::default();
        Auth {
            mode: "forward".into(),
            jwks_urls: Vec::new(),
            issuer: None,
            audiences: Vec::new(),
            dev_secret: None,
            write_scope: a.write_scope,
            leeway_secs: a.leeway.as_secs(),
            jwks_refresh_secs: a.jwks_refresh.as_secs(),
            subject_claim: a.subject_claim,
            credentials: "forward".into(),
            store_dir: "flowgate-data".into(),
            store_url: None,
            store_keys: Vec::new(),
            virtual_users: true,
            appypie_token_key: None,
            appypie_secret_key: None,
            admin_scope: a.admin_scope,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Logs {
    pub format: String,
    pub level: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Telemetry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    pub otlp_headers: Vec<String>,
    pub service_name: String,
}

/// The kind of value a setting takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Number,
    Switch,
    Text,
    /// Text with no default: unset unless given.
    Optional,
    List,
}

/// One setting: `[section] key` in the file, a flag and a `FLOWGATE_*` variable.
pub struct Setting {
    pub section: &'static str,
    pub key: &'static str,
    pub kind: Kind,
    /// Never printed: `config print` shows it redacted.
    pub secret: bool,
    pub help: &'static str,
}

const fn s(section: &'static str, key: &'static str, kind: Kind, help: &'static str) -> Setting {
    Setting {
        section,
        key,
        kind,
        secret: false,
        help,
    }
}

use Kind::{List, Number, Optional, Switch, Text};

/// Every setting, in the order the example file lists them.
pub const SETTINGS: &[Setting] = &[
    s("server", "listen", Text, "Address to listen on."),
    s("server", "header_timeout_ms", Number, "A client must send its request headers (and a new connection its first bytes) within this many milliseconds."),
    s("server", "idle_timeout_ms", Number, "A keep-alive connection with no request in progress that sends nothing for this many milliseconds is closed."),
    s("server", "body_timeout_ms", Number, "A client must send its request body within this many milliseconds."),
    s("server", "request_deadline_ms", Number, "No response waits longer than this many milliseconds."),
    s("server", "max_concurrent_requests", Number, "GraphQL requests served at once; past it a request is shed with 503 and Retry-After, never queued."),
    s("server", "grace_period_secs", Number, "On SIGTERM or Ctrl-C, in-flight requests get this many seconds to finish."),
    s("server", "allow_trace", Switch, "Callers may ask for their request's upstream calls (x-flowgate-trace: 1, answered in extensions.upstreamCalls); on with --sandbox."),
    s("limits", "max_depth", Number, "Deepest query accepted."),
    s("limits", "max_complexity", Number, "Highest query complexity accepted (one point a field)."),
    s("limits", "max_aliases", Number, "Most aliases in one request."),
    s("limits", "max_root_fields", Number, "Most root fields in one operation."),
    s("limits", "max_body_bytes", Number, "Largest request body, in bytes."),
    s("limits", "introspection", Switch, "Schema introspection answered."),
    s("upstream", "connect_timeout_ms", Number, "Timeout of opening an upstream connection (both vendors), in milliseconds."),
    s("upstream", "max_in_flight", Number, "Upstream calls in flight at once, per vendor."),
    s("appypie", "url", Optional, "Base URL of the Appy Pie Connect API (endpoints 1-23); required unless --sandbox."),
    s("appypie", "auth_url", Text, "Base URL of the Appy Pie token endpoint (/create-refresh-token)."),
    s("appypie", "token_header", Text, "Header the Appy Pie token is sent upstream in (Authorization sends it as a Bearer token)."),
    s("appypie", "header", Text, "Incoming header carrying the caller's Appy Pie token."),
    s("appypie", "timeout_ms", Number, "Timeout of one Appy Pie call, body included, in milliseconds."),
    s("appypie", "max_body_mib", Number, "Largest Appy Pie response body read, in MiB; past it the call fails."),
    s("appypie", "max_retries", Number, "Retries of an idempotent Appy Pie read (writes are never retried)."),
    s("appypie", "breaker_threshold", Number, "Consecutive Appy Pie failures that open its circuit breaker."),
    s("appypie", "breaker_open_secs", Number, "Seconds an open Appy Pie breaker fails fast before probing."),
    s("appypie", "rate_limit_per_min", Number, "Appy Pie calls one credential may make a minute, across replicas with Redis; past it RATE_LIMITED with retryAfter, before any call; 0: no limit."),
    s("appypie", "rate_limit_burst", Number, "Appy Pie calls one credential may make at once before the rate applies; 0: the rate's."),
    s("appmixer", "url", Optional, "Base URL of the Appmixer API; required unless --sandbox."),
    s("appmixer", "header", Text, "Incoming header carrying the caller's Appmixer token."),
    s("appmixer", "timeout_ms", Number, "Timeout of one Appmixer call, body included, in milliseconds."),
    s("appmixer", "max_body_mib", Number, "Largest Appmixer response body read, in MiB; past it the call fails."),
    s("appmixer", "max_retries", Number, "Retries of an idempotent Appmixer read (writes are never retried)."),
    s("appmixer", "breaker_threshold", Number, "Consecutive Appmixer failures that open its circuit breaker."),
    s("appmixer", "breaker_open_secs", Number, "Seconds an open Appmixer breaker fails fast before probing."),
    s("appmixer", "rate_limit_per_min", Number, "Appmixer calls one credential may make a minute, across replicas with Redis; past it RATE_LIMITED with retryAfter, before any call; 0: no limit."),
    s("appmixer", "rate_limit_burst", Number, "Appmixer calls one credential may make at once before the rate applies; 0: the rate's."),
    s("caches", "dedupe", Switch, "Identical in-flight upstream reads of one credential share one call."),
    s("caches", "coalesce", Switch, "Identical concurrent queries of one caller share one execution."),
    s("caches", "coalesce_window_ms", Number, "Under load, while most queries find an identical one in flight and executions run long, milliseconds a shared execution waits for more to join before it starts; 0: never."),
    s("caches", "catalogue_ttl_secs", Number, "Seconds catalogue replies (apps, categories, triggers, actions, components) are cached per credential; 0 turns the cache off."),
    s("caches", "catalogue_cache_mib", Number, "Most MiB of reply bodies the catalogue cache holds, per vendor."),
    s("caches", "document_cache_mib", Number, "MiB of parsed GraphQL documents kept for reuse (weighed by what each holds); 0 parses every request."),
    s("persisted", "apq", Switch, "Automatic persisted queries."),
    s("persisted", "apq_cache_mib", Number, "Most MiB of documents the automatic persisted query store holds."),
    s("persisted", "trusted_documents", Optional, "A manifest of trusted documents (Apollo's or Relay's); with one, only those documents run."),
    s("cors", "origins", List, "Origins browsers may call from (https://app.example.com, http://localhost:* for any port, * for any); --sandbox allows local ones when none are given."),
    s("cors", "max_age_secs", Number, "Seconds a browser may keep a CORS preflight's answer."),
    s("subscriptions", "poll_ms", Number, "Milliseconds between two polls of an automation watched by subscriptions (at least 100)."),
    s("subscriptions", "max_per_connection", Number, "Subscriptions one WebSocket connection may hold at once."),
    s("subscriptions", "max_per_caller", Number, "Subscriptions one caller (token pair) may hold at once."),
    s("subscriptions", "init_timeout_ms", Number, "A WebSocket must send connection_init within this many milliseconds, or it is closed (4408)."),
    s("subscriptions", "max_sockets", Number, "WebSockets open at once; past it an upgrade is refused with 503 and Retry-After."),
    s("subscriptions", "max_sockets_per_client", Number, "WebSockets open at once from one client address (behind a proxy, the proxy's)."),
    Setting { secret: true, ..s("redis", "url", Optional, "Redis shared by the replicas (redis://host:6379/0): persisted queries, the catalogue cache's second tier, rate limits. Unset: each process keeps its own.") },
    Setting { secret: true, ..s("redis", "fingerprint_secret", Optional, "Key of the HMAC that names every Redis key (the same on every replica, at least 16 characters); required with redis.url.") },
    s("redis", "timeout_ms", Number, "Longest wait on one Redis call; past it (or on any Redis failure) the replica uses its own memory."),
    s("redis", "pool_size", Number, "Redis connections (each multiplexed) per replica."),
    s("redis", "max_value_kib", Number, "Largest value stored in Redis, in KiB; larger ones stay in the replica's memory."),
    s("redis", "prefix", Text, "First part of every Redis key (<prefix>:v1:<kind>:<hmac>)."),
    s("auth", "mode", Text, "How callers are identified: forward (the vendor tokens they send are trusted), jwt (every request carries a valid JWT; 401 otherwise) or optional (a JWT is verified when sent; anonymous callers reach only what needs no identity)."),
    s("auth", "jwks_urls", List, "JWKS URLs whose keys (RS256, ES256, EdDSA) sign callers' JWTs; unset: the issuer's, from its OIDC discovery document."),
    s("auth", "issuer", Optional, "The iss every JWT must carry (https://idp.example.com/); its /.well-known/openid-configuration names its keys when no JWKS URL is set."),
    s("auth", "audiences", List, "One of these must be in a JWT's aud; unset: aud is not checked."),
    Setting { secret: true, ..s("auth", "dev_secret", Optional, "For development only: an HS256 secret (at least 32 characters); JWTs signed with it are accepted too.") },
    s("auth", "write_scope", Text, "The scope every mutation needs from a verified caller (modes jwt and optional)."),
    s("auth", "leeway_secs", Number, "Clock skew allowed on a JWT's exp and nbf, in seconds."),
    s("auth", "jwks_refresh_secs", Number, "Seconds between two fetches of the key sets (an unknown kid also fetches them, at most once per 10 seconds)."),
    s("auth", "subject_claim", Text, "The JWT claim naming the caller (the subject held credentials belong to)."),
    s("auth", "credentials", Text, "Where vendor credentials come from: forward (the caller's X-Appmixer-Token and X-Appypie-Token) or held (kept by the gateway per subject; needs auth.mode jwt)."),
    s("auth", "store_dir", Text, "Directory of the embedded credential store (held credentials without auth.store_url)."),
    Setting { secret: true, ..s("auth", "store_url", Optional, "A Redis of its own for held credentials (redis://host:6379/1), shared by the replicas; it must not evict (maxmemory-policy noeviction) and should persist (AOF).") },
    Setting { secret: true, ..s("auth", "store_keys", List, "Keys sealing held credentials, as id:base64 of 32 bytes (openssl rand -base64 32); the first seals, all open, so a new key goes first.") },
    s("auth", "virtual_users", Switch, "Create an Appmixer virtual user (POST /user) for a subject with no Appmixer login bound."),
    Setting { secret: true, ..s("auth", "appypie_token_key", Optional, "The tenant's Appy Pie token key, for subjects with no keys of their own.") },
    Setting { secret: true, ..s("auth", "appypie_secret_key", Optional, "The tenant's Appy Pie secret key, with auth.appypie_token_key.") },
    s("auth", "admin_scope", Text, "The scope the credential admin mutations (bindCredentials, rotateCredentials, removeCredentials) need."),
    s("logs", "format", Text, "Log lines as text (for terminals) or json (for log collectors)."),
    s("logs", "level", Text, "Log filter (tracing's syntax: info gives a line a GraphQL request, debug one an upstream call); RUST_LOG is read too."),
    s("telemetry", "otlp_endpoint", Optional, "OTLP/HTTP endpoint spans are exported to (http://collector:4318); unset exports nothing."),
    Setting { secret: true, ..s("telemetry", "otlp_headers", List, "Headers sent with each export, as name=value (an API key, say).") },
    s("telemetry", "service_name", Text, "service.name of the exported spans."),
];

/// Sections whose flags carry their name: `[appmixer] url` is `--appmixer-url`, while
/// `[limits] max_depth` is `--max-depth`.
const PREFIXED: &[&str] = &[
    "appypie",
    "appmixer",
    "cors",
    "subscriptions",
    "logs",
    "redis",
    "auth",
];

impl Setting {
    /// `section.key`, as problems name it.
    pub fn path(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }

    fn stem(&self) -> String {
        let key = self.key.replace('_', "-");
        match self.section {
            "subscriptions" => format!("subscription-{key}"),
            "logs" => format!("log-{key}"),
            s if PREFIXED.contains(&s) => format!("{s}-{key}"),
            _ => key,
        }
    }

    /// The flag: `--max-depth`; a switch on by default is turned off with `--no-...`; a list
    /// whose flag is repeated is named in the singular (`--auth-audience`).
    pub fn flag(&self) -> String {
        match (self.section, self.key) {
            ("auth", "jwks_urls") => return "auth-jwks-url".into(),
            ("auth", "audiences") => return "auth-audience".into(),
            _ => {}
        }
        match self.kind {
            Switch if default_value(self) == Some(toml::Value::Boolean(true)) => {
                format!("no-{}", self.stem())
            }
            _ => self.stem(),
        }
    }

    /// The environment variable: `FLOWGATE_MAX_DEPTH`, taking the setting's value.
    pub fn env(&self) -> String {
        format!("FLOWGATE_{}", self.stem().replace('-', "_").to_uppercase())
    }

    /// The value `text` (from a flag or a variable) gives this setting.
    fn parse(&self, text: &str) -> Result<toml::Value, String> {
        let text = text.trim();
        match self.kind {
            Number => text
                .parse::<u32>()
                .map(|n| toml::Value::Integer(n.into()))
                .or_else(|_| {
                    text.parse::<i64>()
                        .ok()
                        .filter(|n| *n >= 0)
                        .map(toml::Value::Integer)
                        .ok_or(())
                })
                .map_err(|_| format!("expected a whole number, not {text:?}")),
            Switch => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
                "false" | "0" | "no" | "off" => Ok(toml::Value::Boolean(false)),
                _ => Err(format!("expected true or false, not {text:?}")),
            },
            Text | Optional => Ok(toml::Value::String(text.to_string())),
            List => Ok(toml::Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(|t| toml::Value::String(t.to_string()))
                    .collect(),
            )),
        }
    }

    /// Whether a value from the file has this setting's kind.
    fn check(&self, value: &toml::Value) -> Result<(), String> {
        let fits = match (self.kind, value) {
            (Number, toml::Value::Integer(n)) => *n >= 0,
            (Switch, toml::Value::Boolean(_)) => true,
            (Text | Optional, toml::Value::String(_)) => true,
            (List, toml::Value::Array(items)) => items.iter().all(toml::Value::is_str),
            _ => false,
        };
        let wanted = match self.kind {
            Number => "a whole number",
            Switch => "true or false",
            Text | Optional => "a string",
            List => "a list of strings",
        };
        fits.then_some(())
            .ok_or_else(|| format!("expected {wanted}, not {value}"))
    }
}

/// The defaults as a TOML table, made once.
fn defaults() -> &'static toml::Table {
    static DEFAULTS: std::sync::OnceLock<toml::Table> = std::sync::OnceLock::new();
    DEFAULTS.get_or_init(|| toml::Table::try_from(Config::default()).unwrap_or_default())
}

fn default_value(setting: &Setting) -> Option<toml::Value> {
    defaults().get(setting.section)?.get(setting.key).cloned()
}

/// Every problem with a configuration, each naming its setting.
#[derive(Debug, Default, PartialEq)]
pub struct Problems(pub Vec<String>);

impl Problems {
    fn add(&mut self, path: impl fmt::Display, problem: impl fmt::Display) {
        self.0.push(format!("{path}: {problem}"));
    }

    fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl Default for Vendor {
    fn default() -> Self {
        Vendor::new(&Policy::default(), String::new())
    }
}

impl Vendor {
    fn new(policy: &Policy, header: String) -> Vendor {
        Vendor {
            url: None,
            header,
            timeout_ms: ms(policy.timeout),
            max_body_mib: policy.max_body_bytes >> 20,
            max_retries: policy.max_retries,
            breaker_threshold: policy.breaker_threshold,
            breaker_open_secs: policy.breaker_open_for.as_secs(),
            rate_limit_per_min: policy.rate_limit.map_or(0, |r| r.per_min),
            rate_limit_burst: policy.rate_limit.map_or(0, |r| r.burst),
        }
    }

    fn policy(&self) -> Policy {
        Policy {
            timeout: Duration::from_millis(self.timeout_ms),
            max_body_bytes: self.max_body_mib << 20,
            max_retries: self.max_retries,
            breaker_threshold: self.breaker_threshold,
            breaker_open_for: Duration::from_secs(self.breaker_open_secs),
            rate_limit: (self.rate_limit_per_min > 0).then_some(RateLimit {
                per_min: self.rate_limit_per_min,
                burst: match self.rate_limit_burst {
                    0 => self.rate_limit_per_min,
                    burst => burst,
                },
            }),
            ..Policy::default()
        }
    }
}

impl Default for Server {
    fn default() -> Self {
        let limits = Limits::default();
        Server {
            listen: "127.0.0.1:8080".into(),
            header_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            body_timeout_ms: ms(limits.body_timeout),
            request_deadline_ms: ms(limits.deadline),
            max_concurrent_requests: limits.max_concurrent_requests,
            grace_period_secs: 10,
            allow_trace: GatewayConfig::default().allow_trace,
        }
    }
}

impl Default for QueryLimits {
    fn default() -> Self {
        let l = Limits::default();
        QueryLimits {
            max_depth: l.max_depth,
            max_complexity: l.max_complexity,
            max_aliases: l.max_aliases,
            max_root_fields: l.max_root_fields,
            max_body_bytes: l.max_body_bytes,
            introspection: l.introspection,
        }
    }
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream {
            connect_timeout_ms: ms(HttpConfig::default().connect_timeout),
            max_in_flight: GatewayConfig::default().max_in_flight,
        }
    }
}

impl Default for AppyPie {
    fn default() -> Self {
        let g = GatewayConfig::default();
        AppyPie {
            vendor: Vendor::new(&g.appypie_policy, g.headers.appypie),
            auth_url: g.appypie.auth_base_url.to_string(),
            token_header: g.appypie.token_header.to_string(),
        }
    }
}

impl Default for Appmixer {
    fn default() -> Self {
        let g = GatewayConfig::default();
        Appmixer {
            vendor: Vendor::new(&g.appmixer_policy, g.headers.appmixer),
        }
    }
}

impl Default for Caches {
    fn default() -> Self {
        let g = GatewayConfig::default();
        Caches {
            dedupe: g.sharing.dedupe,
            coalesce: g.coalesce,
            coalesce_window_ms: ms(g.coalesce_window),
            catalogue_ttl_secs: g.sharing.catalogue_ttl.as_secs(),
            catalogue_cache_mib: g.sharing.catalogue_max_bytes >> 20,
            document_cache_mib: g.document_cache_mib,
        }
    }
}

impl Default for Persisted {
    fn default() -> Self {
        let p = PersistedConfig::default();
        Persisted {
            apq: p.apq,
            apq_cache_mib: p.apq_cache_mib,
            trusted_documents: None,
        }
    }
}

impl Default for Cors {
    fn default() -> Self {
        let c = CorsConfig::default();
        Cors {
            origins: c.origins,
            max_age_secs: c.max_age.as_secs(),
        }
    }
}

impl Default for Subscriptions {
    fn default() -> Self {
        let s = SubscriptionConfig::default();
        Subscriptions {
            poll_ms: ms(s.poll_interval),
            max_per_connection: s.max_per_connection,
            max_per_caller: s.max_per_caller,
            init_timeout_ms: ms(s.init_timeout),
            max_sockets: s.max_sockets,
            max_sockets_per_client: s.max_sockets_per_client,
        }
    }
}

impl Default for Logs {
    fn default() -> Self {
        Logs {
            format: "text".into(),
            level: "warn".into(),
        }
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            otlp_endpoint: None,
            otlp_headers: Vec::new(),
            service_name: "flowgate".into(),
        }
    }
}

/// Where the values on top of the defaults come from.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// The TOML file, if any.
    pub file: Option<PathBuf>,
    /// Environment variables (all of them; only `FLOWGATE_*` and `RUST_LOG` are read).
    pub env: Vec<(String, String)>,
    /// Flags given, as (setting's path, text).
    pub flags: Vec<(String, String)>,
}

impl Config {
    /// Defaults, then the file, then the environment, then the flags; what could not be
    /// applied is listed, each with its setting and where the value came from.
    pub fn load(sources: &Sources) -> (Config, Problems) {
        let mut table = defaults().clone();
        let mut problems = Problems::default();
        if let Some(path) = &sources.file {
            apply_file(&mut table, path, &mut problems);
        }
        apply_env(&mut table, &sources.env, &mut problems);
        for (path, text) in &sources.flags {
            if let Some(setting) = SETTINGS.iter().find(|s| s.path() == *path) {
                let flag = format!("--{}", setting.flag());
                put(
                    &mut table,
                    setting,
                    setting.parse(text),
                    flag,
                    &mut problems,
                );
            }
        }
        match Config::deserialize(toml::Value::Table(table)) {
            Ok(config) => (config, problems),
            Err(e) => {
                problems.add("configuration", e.message());
                (Config::default(), problems)
            }
        }
    }
}

fn put(
    table: &mut toml::Table,
    setting: &Setting,
    value: Result<toml::Value, String>,
    origin: String,
    problems: &mut Problems,
) {
    match value {
        Ok(value) => {
            let section = table
                .entry(setting.section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(section) = section.as_table_mut() {
                section.insert(setting.key.to_string(), value);
            }
        }
        Err(e) => problems.add(format!("{} ({origin})", setting.path()), e),
    }
}

fn apply_file(table: &mut toml::Table, path: &Path, problems: &mut Problems) {
    let name = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return problems.add(name, format!("cannot be read: {e}")),
    };
    let file: toml::Table = match text.parse() {
        Ok(file) => file,
        Err(e) => return problems.add(name, format!("is not TOML: {}", e.message())),
    };
    for (section, keys) in file {
        let Some(keys) = keys.as_table() else {
            problems.add(&section, "is not a section ([name] with keys under it)");
            continue;
        };
        if !SETTINGS.iter().any(|s| s.section == section) {
            problems.add(&section, "unknown section");
            continue;
        }
        for (key, value) in keys {
            let found = SETTINGS
                .iter()
                .find(|s| s.section == section && s.key == key);
            match found {
                Some(setting) => {
                    let checked = setting.check(value).map(|()| value.clone());
                    put(table, setting, checked, name.to_string(), problems);
                }
                None => problems.add(format!("{section}.{key}"), "unknown key"),
            }
        }
    }
}

fn apply_env(table: &mut toml::Table, env: &[(String, String)], problems: &mut Problems) {
    let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    for setting in SETTINGS {
        let name = setting.env();
        let rust_log = (setting.path() == "logs.level").then(|| lookup("RUST_LOG"));
        let Some(text) = lookup(&name).or(rust_log.flatten()) else {
            continue;
        };
        put(table, setting, setting.parse(text), name, problems);
    }
}

/// A configuration checked and turned into what the parts of the gateway take.
#[derive(Clone, Debug)]
pub struct Settings {
    pub gateway: GatewayConfig,
    pub listen: SocketAddr,
    pub connection_timeouts: ConnectionTimeouts,
    pub grace: Duration,
    pub log_json: bool,
    pub log_filter: String,
    pub telemetry: Option<Export>,
}

/// Where and how spans are exported.
#[derive(Clone, Debug)]
pub struct Export {
    pub endpoint: Url,
    pub headers: Vec<(String, String)>,
    pub service_name: String,
}

/// Collects problems while turning checked text into values.
struct Check(Problems);

impl Check {
    fn url(&mut self, path: &str, text: &str) -> Option<Url> {
        match Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(_) => self.fail(path, format!("{text:?} is not an http(s) URL")),
            Err(e) => self.fail(path, format!("{text:?} is not a URL ({e})")),
        }
    }

    fn required_url(&mut self, path: &str, text: &Option<String>, demo: bool) -> Option<Url> {
        match text {
            Some(text) => self.url(path, text),
            None if demo => Url::parse("http://127.0.0.1/").ok(),
            None => {
                let setting = SETTINGS.iter().find(|s| s.path() == path);
                let how =
                    setting.map_or(String::new(), |s| format!("--{} or {}", s.flag(), s.env()));
                self.fail(
                    path,
                    format!("required: the upstream's base URL ({how}), or run with --sandbox"),
                )
            }
        }
    }

    fn header(&mut self, path: &str, text: &str) -> Option<HeaderName> {
        match HeaderName::from_bytes(text.as_bytes()) {
            Ok(h) => Some(h),
            Err(_) => self.fail(path, format!("{text:?} is not a header name")),
        }
    }

    fn at_least<T: PartialOrd + fmt::Display + Copy>(&mut self, path: &str, value: T, min: T) -> T {
        if value < min {
            self.0
                .add(path, format!("must be at least {min}, not {value}"));
        }
        value
    }

    fn fail<T>(&mut self, path: &str, problem: impl fmt::Display) -> Option<T> {
        self.0.add(path, problem);
        None
    }
}

impl Config {
    /// The defaults wired to running sandboxes: the one way tests and benches wire them.
    pub fn sandbox(sandbox: &Sandbox) -> Config {
        Config::default().with_sandbox(sandbox)
    }

    /// This configuration with the sandboxes as its upstreams.
    pub fn with_sandbox(mut self, sandbox: &Sandbox) -> Config {
        self.appypie.vendor.url = Some(sandbox.appypie_base_url());
        self.appypie.auth_url = sandbox.appypie_auth_url();
        self.appmixer.vendor.url = Some(sandbox.appmixer_base_url());
        let a = &mut self.auth;
        let keyless = a.jwks_urls.is_empty() && a.issuer.is_none() && a.dev_secret.is_none();
        if self.demo && keyless {
            a.issuer = Some(sandbox.issuer.url());
        }
        if self.demo {
            self.demo_bearer = sandbox.issuer.token("alice");
        }
        self
    }

    /// What `serve --sandbox` adds: tracing allowed, local origins allowed when none are set,
    /// GraphiQL opening with a demo user's tokens, and no upstream URL required.
    pub fn demo(mut self) -> Config {
        self.server.allow_trace = true;
        if self.cors.origins.is_empty() {
            self.cors.origins = CorsConfig::local();
        }
        self.demo = true;
        self
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn print(&self) -> String {
        let table = toml::Table::try_from(self).unwrap_or_default();
        let mut out = String::new();
        for (i, setting) in SETTINGS.iter().enumerate() {
            if i == 0 || SETTINGS[i - 1].section != setting.section {
                out.push_str(&format!(
                    "{}[{}]\n",
                    if i == 0 { "" } else { "\n" },
                    setting.section
                ));
            }
            match table.get(setting.section).and_then(|t| t.get(setting.key)) {
                Some(value) => {
                    out.push_str(&format!("{} = {}\n", setting.key, redact(setting, value)))
                }
                None => out.push_str(&format!("# {} is not set\n", setting.key)),
            }
        }
        out
    }

    /// The annotated example file: every setting with its help and its default.
    pub fn example() -> String {
        let mut out = String::from(
            "# flowgate's settings, each with its default. Pass a file like this with\n\
             # `flowgate serve --config flowgate.toml`; a FLOWGATE_* variable beats the file and a\n\
             # flag beats both (`flowgate config print` shows the outcome). Generated by\n\
             # `flowgate config example`; a test keeps it in sync with the code.\n",
        );
        for (i, setting) in SETTINGS.iter().enumerate() {
            if i == 0 || SETTINGS[i - 1].section != setting.section {
                out.push_str(&format!("\n[{}]\n", setting.section));
            }
            let about = format!("{} (--{}, {})", setting.help, setting.flag(), setting.env());
            out.push('\n');
            out.push_str(&comment(&about));
            match default_value(setting) {
                Some(value) => out.push_str(&format!("{} = {}\n", setting.key, value)),
                None => out.push_str(&format!("# {} = \"\"\n", setting.key)),
            }
        }
        out
    }

    /// The README's table of settings.
    pub fn markdown() -> String {
        let mut out = String::from(
            "| setting | flag | variable | default | what it does |\n|---|---|---|---|---|\n",
        );
        for setting in SETTINGS {
            let default =
                default_value(setting).map_or("(unset)".to_string(), |v| format!("`{v}`"));
            out.push_str(&format!(
                "| `{}` | `--{}` | `{}` | {} | {} |\n",
                setting.path(),
                setting.flag(),
                setting.env(),
                default,
                setting.help.replace('|', "\\|")
            ));
        }
        out
    }

    /// Checks everything and says every problem, or gives the settings to start with.
    pub fn build(&self) -> Result<Settings, Problems> {
        let mut c = Check(Problems::default());
        let listen = self.server.listen.parse::<SocketAddr>().map_err(|_| {
            let text = &self.server.listen;
            c.0.add(
                "server.listen",
                format!("{text:?} is not an address (127.0.0.1:8080)"),
            )
        });
        let gateway = self.gateway(&mut c);
        let telemetry = self.export(&mut c);
        let log_json = match self.logs.format.as_str() {
            "text" => false,
            "json" => true,
            other => c
                .fail("logs.format", format!("{other:?} is neither text nor json"))
                .unwrap_or(false),
        };
        if let Err(e) = self.logs.level.parse::<tracing_subscriber::EnvFilter>() {
            c.0.add(
                "logs.level",
                format!("{:?} is not a log filter ({e})", self.logs.level),
            );
        }
        for (path, value) in [
            ("server.header_timeout_ms", self.server.header_timeout_ms),
            ("server.idle_timeout_ms", self.server.idle_timeout_ms),
            ("server.body_timeout_ms", self.server.body_timeout_ms),
            (
                "server.request_deadline_ms",
                self.server.request_deadline_ms,
            ),
            (
                "upstream.connect_timeout_ms",
                self.upstream.connect_timeout_ms,
            ),
            ("appypie.timeout_ms", self.appypie.vendor.timeout_ms),
            ("appmixer.timeout_ms", self.appmixer.vendor.timeout_ms),
        ] {
            c.at_least(path, value, 1);
        }
        c.at_least("subscriptions.poll_ms", self.subscriptions.poll_ms, 100);
        c.at_least(
            "subscriptions.init_timeout_ms",
            self.subscriptions.init_timeout_ms,
            1,
        );
        let redis = self.redis_config(&mut c);
        let auth = self.auth_config(&mut c);
        let (Ok(listen), Some(mut gateway), Some(auth)) = (listen, gateway, auth) else {
            return Err(c.0);
        };
        for header in [&gateway.headers.appmixer, &gateway.headers.appypie] {
            if auth.mode != Mode::Forward && header == "authorization" {
                c.fail::<()>(
                    "auth.mode",
                    "the JWT comes in authorization: no vendor header may",
                );
            }
        }
        gateway.redis = redis;
        gateway.auth = auth;
        c.0.into_result(Settings {
            gateway,
            listen,
            connection_timeouts: ConnectionTimeouts {
                header: Duration::from_millis(self.server.header_timeout_ms),
                idle: Duration::from_millis(self.server.idle_timeout_ms),
            },
            grace: Duration::from_secs(self.server.grace_period_secs),
            log_json,
            log_filter: self.logs.level.clone(),
            telemetry,
        })
    }

    fn gateway(&self, c: &mut Check) -> Option<GatewayConfig> {
        let (pie, mixer) = (&self.appypie, &self.appmixer.vendor);
        let pie_url = c.required_url("appypie.url", &pie.vendor.url, self.demo);
        let auth_url = c.url("appypie.auth_url", &pie.auth_url);
        let token_header = c.header("appypie.token_header", &pie.token_header);
        let mixer_url = c.required_url("appmixer.url", &mixer.url, self.demo);
        let pie_header = c.header("appypie.header", &pie.vendor.header);
        let mixer_header = c.header("appmixer.header", &mixer.header);
        if pie_header.is_some() && pie_header == mixer_header {
            c.fail::<()>("appmixer.header", "must differ from appypie.header");
        }
        let cors = CorsConfig {
            origins: self.cors.origins.clone(),
            max_age: Duration::from_secs(self.cors.max_age_secs),
        };
        for problem in cors.problems() {
            c.0.add("cors.origins", problem);
        }
        let l = &self.limits;
        let limits = Limits {
            max_depth: c.at_least("limits.max_depth", l.max_depth, 1),
            max_complexity: c.at_least("limits.max_complexity", l.max_complexity, 1),
            max_aliases: l.max_aliases,
            max_root_fields: c.at_least("limits.max_root_fields", l.max_root_fields, 1),
            max_body_bytes: c.at_least("limits.max_body_bytes", l.max_body_bytes, 256),
            introspection: l.introspection,
            deadline: Duration::from_millis(self.server.request_deadline_ms),
            body_timeout: Duration::from_millis(self.server.body_timeout_ms),
            max_concurrent_requests: c.at_least(
                "server.max_concurrent_requests",
                self.server.max_concurrent_requests,
                1,
            ),
        };
        let max_in_flight = c.at_least("upstream.max_in_flight", self.upstream.max_in_flight, 1);
        let headers = crate::schema::CredentialHeaders {
            appypie: pie_header?.to_string(),
            appmixer: mixer_header?.to_string(),
        };
        let demo_user = &DEMO_USERS[0];
        let mut graphiql_headers = match self.demo {
            true => vec![
                (
                    headers.appmixer.clone(),
                    demo_user.appmixer_token.to_string(),
                ),
                (headers.appypie.clone(), demo_user.appypie_token.to_string()),
            ],
            false => Vec::new(),
        };
        if let Some(token) = &self.demo_bearer {
            graphiql_headers.push(("Authorization".into(), format!("Bearer {token}")));
        }
        Some(GatewayConfig {
            appypie: AppyPieConfig {
                base_url: pie_url?,
                auth_base_url: auth_url?,
                token_header: token_header?,
            },
            appmixer: AppmixerConfig {
                base_url: mixer_url?,
            },
            http: HttpConfig {
                connect_timeout: Duration::from_millis(self.upstream.connect_timeout_ms),
                ..HttpConfig::default()
            },
            headers,
            max_in_flight,
            appypie_policy: pie.vendor.policy(),
            appmixer_policy: mixer.policy(),
            graphiql_headers,
            limits,
            sharing: SharingConfig {
                dedupe: self.caches.dedupe,
                catalogue_ttl: Duration::from_secs(self.caches.catalogue_ttl_secs),
                catalogue_max_bytes: self.caches.catalogue_cache_mib << 20,
                shared: None,
            },
            coalesce: self.caches.coalesce,
            coalesce_window: Duration::from_millis(self.caches.coalesce_window_ms),
            document_cache_mib: self.caches.document_cache_mib,
            persisted: PersistedConfig {
                apq: self.persisted.apq,
                apq_cache_mib: self.persisted.apq_cache_mib,
                trusted_documents: self.persisted.trusted_documents.as_ref().map(PathBuf::from),
            },
            cors,
            allow_trace: self.server.allow_trace,
            subscriptions: SubscriptionConfig {
                poll_interval: Duration::from_millis(self.subscriptions.poll_ms),
                max_per_connection: self.subscriptions.max_per_connection,
                max_per_caller: self.subscriptions.max_per_caller,
                init_timeout: Duration::from_millis(self.subscriptions.init_timeout_ms),
                max_sockets: self.subscriptions.max_sockets,
                max_sockets_per_client: self.subscriptions.max_sockets_per_client,
            },
            redis: None,
            auth: AuthConfig::default(),
        })
    }

    fn auth_config(&self, c: &mut Check) -> Option<AuthConfig> {
        let a = &self.auth;
        let mode = Mode::parse(&a.mode).or_else(|| {
            let problem = format!("{:?} is not forward, jwt or optional", a.mode);
            c.fail("auth.mode", problem)
        })?;
        let jwks_urls: Vec<Url> = a
            .jwks_urls
            .iter()
            .filter_map(|u| c.url("auth.jwks_urls", u))
            .collect();
        let keyless = jwks_urls.is_empty() && a.issuer.is_none() && a.dev_secret.is_none();
        if mode != Mode::Forward && keyless && !self.demo {
            let problem = "needs auth.jwks_urls, auth.issuer or auth.dev_secret to verify JWTs";
            c.fail::<()>("auth.mode", problem);
        }
        if a.dev_secret.as_ref().is_some_and(|s| s.len() < 32) {
            c.fail::<()>("auth.dev_secret", "must be at least 32 characters");
        }
        if let Some(issuer) = &a.issuer {
            c.url("auth.issuer", issuer);
        }
        let store = self.store_config(c, mode);
        let tenant_appypie = match (&a.appypie_token_key, &a.appypie_secret_key) {
            (Some(key), Some(secret)) => Some((key.clone(), secret.clone())),
            (None, None) => None,
            _ => c.fail(
                "auth.appypie_token_key",
                "needs auth.appypie_secret_key with it",
            ),
        };
        Some(AuthConfig {
            subject_claim: a.subject_claim.clone(),
            admin_scope: a.admin_scope.clone(),
            store: store?,
            held: HeldConfig {
                virtual_users: a.virtual_users,
                tenant_appypie,
            },
            mode,
            jwks_urls,
            issuer: a.issuer.clone(),
            audiences: a.audiences.clone(),
            dev_secret: a.dev_secret.clone(),
            write_scope: a.write_scope.clone(),
            leeway: Duration::from_secs(a.leeway_secs),
            jwks_refresh: Duration::from_secs(c.at_least(
                "auth.jwks_refresh_secs",
                a.jwks_refresh_secs,
                1,
            )),
            ..AuthConfig::default()
        })
    }

    /// The held-credential store: `Some(None)` when vendor credentials are forwarded.
    fn store_config(&self, c: &mut Check, mode: Mode) -> Option<Option<StoreConfig>> {
        let a = &self.auth;
        match a.credentials.as_str() {
            "forward" => return Some(None),
            "held" if mode == Mode::Jwt => {}
            "held" => return c.fail("auth.credentials", "held needs auth.mode jwt"),
            other => {
                let problem = format!("{other:?} is neither forward nor held");
                return c.fail("auth.credentials", problem);
            }
        }
        if let Some(url) = &a.store_url {
            if !url.starts_with("redis://") && !url.starts_with("unix://") {
                c.fail::<()>("auth.store_url", "must start with redis:// or unix://");
            }
        }
        let mut keys = Vec::new();
        for text in &a.store_keys {
            let key = text.split_once(':').and_then(|(id, key)| {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(key.trim())
                    .ok()?;
                let key: [u8; 32] = bytes.try_into().ok()?;
                (!id.is_empty() && id.len() < 64).then(|| (id.to_string(), key))
            });
            match key {
                Some(key) => keys.push(key),
                None => {
                    c.0.add("auth.store_keys", "each key is id:base64 of 32 bytes")
                }
            }
        }
        if a.store_keys.is_empty() {
            c.fail::<()>(
                "auth.store_keys",
                "held credentials need a key to seal them",
            );
        }
        Some(Some(StoreConfig {
            url: a.store_url.clone(),
            dir: PathBuf::from(&a.store_dir),
            keys,
            prefix: self.redis.prefix.clone(),
        }))
    }

    fn redis_config(&self, c: &mut Check) -> Option<RedisConfig> {
        let r = &self.redis;
        c.at_least("redis.timeout_ms", r.timeout_ms, 1);
        let url = r.url.as_ref()?;
        if !url.starts_with("redis://") && !url.starts_with("unix://") {
            c.fail::<()>("redis.url", "must start with redis:// or unix://");
        }
        let secret = match &r.fingerprint_secret {
            Some(secret) if secret.len() >= 16 => Some(secret.clone()),
            Some(_) => c.fail("redis.fingerprint_secret", "must be at least 16 characters"),
            None => c.fail(
                "redis.fingerprint_secret",
                "required with redis.url (the same on every replica)",
            ),
        };
        Some(RedisConfig {
            url: url.clone(),
            secret: secret?,
            timeout: Duration::from_millis(r.timeout_ms),
            pool_size: c.at_least("redis.pool_size", r.pool_size, 1),
            max_value_bytes: r.max_value_kib << 10,
            prefix: r.prefix.clone(),
        })
    }

    fn export(&self, c: &mut Check) -> Option<Export> {
        let t = &self.telemetry;
        let endpoint = c.url("telemetry.otlp_endpoint", t.otlp_endpoint.as_ref()?)?;
        let mut headers = Vec::new();
        for pair in &t.otlp_headers {
            match pair.split_once('=') {
                Some((name, value))
                    if c.header("telemetry.otlp_headers", name.trim()).is_some() =>
                {
                    headers.push((name.trim().to_string(), value.trim().to_string()))
                }
                Some(_) => {}
                None => {
                    c.0.add("telemetry.otlp_headers", "each entry is name=value")
                }
            }
        }
        Some(Export {
            endpoint,
            headers,
            service_name: t.service_name.clone(),
        })
    }
}

/// `text` as `#` lines of at most about 96 characters.
fn comment(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + word.len() > 95 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// A value as `config print` shows it: secrets and URL passwords hidden.
fn redact(setting: &Setting, value: &toml::Value) -> toml::Value {
    let hidden = toml::Value::String("<redacted>".into());
    match value {
        toml::Value::Array(items) if setting.secret && !items.is_empty() => {
            toml::Value::Array(items.iter().map(|_| hidden.clone()).collect())
        }
        toml::Value::String(text) if setting.secret && !text.is_empty() => hidden,
        toml::Value::String(text) => match Url::parse(text) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("redacted"));
                toml::Value::String(url.to_string())
            }
            _ => value.clone(),
        },
        _ => value.clone(),
    }
}

/// `--config` and a flag for every setting, for the commands that take a configuration.
#[derive(Clone, Debug, Default)]
pub struct ConfigArgs {
    pub file: Option<PathBuf>,
    /// Flags given, as (setting's path, text).
    pub flags: Vec<(String, String)>,
}

impl ConfigArgs {
    /// The configuration these flags, the environment and the file give, and what is wrong
    /// with them.
    pub fn load(&self) -> (Config, Problems) {
        Config::load(&Sources {
            file: self.file.clone(),
            env: std::env::vars().collect(),
            flags: self.flags.clone(),
        })
    }

    /// The settings to start with (`demo`: as `serve --sandbox`), or every problem at once.
    pub fn settings(&self, demo: bool) -> Result<(Config, Settings), Problems> {
        let (config, mut problems) = self.load();
        let config = if demo { config.demo() } else { config };
        match config.build() {
            Ok(settings) => problems.into_result((config, settings)),
            Err(more) => {
                problems.0.extend(more.0);
                Err(problems)
            }
        }
    }
}

impl clap::FromArgMatches for ConfigArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut args = ConfigArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        if let Some(file) = matches.get_one::<PathBuf>("config") {
            self.file = Some(file.clone());
        }
        for setting in SETTINGS {
            let id = setting.path();
            let text = match setting.kind {
                Switch if matches.get_flag(&id) => {
                    Some((!setting.flag().starts_with("no-")).to_string())
                }
                Switch => None,
                _ => matches
                    .get_many::<String>(&id)
                    .map(|v| v.cloned().collect::<Vec<_>>().join(",")),
            };
            if let Some(text) = text {
                self.flags.push((id, text));
            }
        }
        Ok(())
    }
}

impl clap::Args for ConfigArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        use clap::{Arg, ArgAction};
        let file = Arg::new("config")
            .long("config")
            .env("FLOWGATE_CONFIG")
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .help(
                "A TOML file of settings (see flowgate.example.toml); variables and flags beat it.",
            );
        let mut cmd = cmd.arg(file);
        for setting in SETTINGS {
            let mut arg = Arg::new(setting.path()).long(setting.flag()).help(format!(
                "{} [{}]",
                setting.help,
                setting.path()
            ));
            arg = match setting.kind {
                Switch => arg.action(ArgAction::SetTrue),
                List => arg.action(ArgAction::Append).value_name("VALUE"),
                _ => arg.value_name("VALUE"),
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}
