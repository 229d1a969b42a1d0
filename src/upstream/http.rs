//! The HTTP core both clients share: one pooled hyper client, timeouts, and the mapping of
//! transport failures and error statuses to [`UpstreamError`].

use super::context::{RequestContext, UpstreamCall};
use super::error::{ErrorKind, Provider, UpstreamError};
use super::policy::{Breaker, Policy, RetryBudget};
use super::share::{self, Catalogue, SharedReads, SharingConfig};
use crate::metered::{Handles, Timed};
use crate::store::{LocalBuckets, Shared};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use hyper::http::uri::Authority;
use metrics::{Counter, Gauge};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CACHE_CONTROL, HOST, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::sync::Semaphore;
use tracing::Instrument;
use url::Url;

/// What `url` percent-encodes in a path segment of an http(s) URL.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'#')
    .add(b'?')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%')
    .add(b'\\');

/// `base` with `segments` appended as percent-encoded path segments and `query` as form pairs,
/// written as `url` would write it, without parsing it again.
fn url_text(base: &Url, segments: &[&str], query: &[(&str, String)]) -> String {
    // What `url` treats specially (segments `send` refuses, a base with a query of its own,
    // other schemes) goes through `url` itself.
    let http = matches!(base.scheme(), "http" | "https");
    let plain = segments.iter().all(|s| names_one(s));
    if !http || base.query().is_some() || base.fragment().is_some() || !plain {
        return url_with(base, segments, query).into();
    }
    let path_start = base.as_str().len() - base.path().len();
    let mut text = String::with_capacity(base.as_str().len() + 96);
    text.push_str(base.as_str());
    if text.len() > path_start + 1 && text.ends_with('/') {
        text.pop();
    }
    for segment in segments {
        if text.len() > path_start + 1 || text.len() == path_start {
            text.push('/');
        }
        text.extend(percent_encoding::utf8_percent_encode(segment, SEGMENT));
    }
    if !query.is_empty() {
        text.push('?');
        let start = text.len();
        let mut pairs = form_urlencoded::Serializer::for_suffix(text, start);
        pairs.extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        text = pairs.finish();
    }
    text
}

/// Whether a path segment names what it says. A URL would read `.` and `..` as steps in the
/// path and drop tabs and newlines, so such a segment (an id no vendor gives) would send the
/// call to another route or another object.
fn names_one(segment: &str) -> bool {
    !matches!(segment, "." | "..") && !segment.contains(['\t', '\n', '\r'])
}

/// `base` with `segments` and `query`, through `url`.
fn url_with(base: &Url, segments: &[&str], query: &[(&str, String)]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    if !query.is_empty() {
        let pairs = query.iter().map(|(k, v)| (*k, v.as_str()));
        url.query_pairs_mut().extend_pairs(pairs);
    }
    url
}

/// An upstream call as it goes out: sent as a hyper request, copied for a retry.
#[derive(Clone, Debug)]
pub struct Request {
    pub(super) method: Method,
    /// The URL as written, which the shared store also names a reply by.
    pub(super) url: Bytes,
    /// The URL as hyper takes it (sharing `url`'s bytes); `None` if it cannot be one.
    uri: Option<hyper::Uri>,
    pub(super) headers: HeaderMap,
    body: Option<Bytes>,
}

impl Request {
    fn new(method: Method, url: String, headers: HeaderMap, body: Option<Bytes>) -> Request {
        let url = Bytes::from(url);
        let uri = hyper::Uri::from_maybe_shared(url.clone()).ok();
        Request {
            method,
            url,
            uri,
            headers,
            body,
        }
    }

    /// As hyper sends it; `None` if the URL is no URI.
    fn into_hyper(self) -> Option<hyper::Request<reqwest::Body>> {
        let body = self
            .body
            .map_or_else(reqwest::Body::default, reqwest::Body::from);
        let mut request = hyper::Request::new(body);
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri?;
        *request.headers_mut() = self.headers;
        Some(request)
    }
}

/// A credential as a header value, marked sensitive (kept out of logs); `None` if it cannot be one.
pub fn credential_header(raw: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(raw).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// An upstream call as its parts: a read that joins an identical one in flight is never built
/// into a request.
pub struct Outgoing<'a> {
    pub method: Method,
    pub base: &'a Url,
    pub segments: &'a [&'a str],
    pub query: &'a [(&'a str, String)],
    /// The (sensitive) credential header, if the call carries one.
    pub credential: Option<(HeaderName, HeaderValue)>,
    pub body: Option<&'a Value>,
}

impl Outgoing<'_> {
    /// The request these parts make.
    pub fn build(self) -> Request {
        let url = url_text(self.base, self.segments, self.query);
        HttpCore::request(self.method, url, self.credential, self.body)
    }

    /// The in-flight key of a read: its method, URL parts and credential, each part on its own
    /// so that no two different reads share one.
    fn key(&self) -> u128 {
        let counts = [self.segments.len() as u32, self.query.len() as u32].map(u32::to_le_bytes);
        let mut parts = share::Joined::with_capacity(256, 8 + self.segments.len());
        parts.push(self.method.as_str().as_bytes());
        parts.push(self.base.as_str().as_bytes());
        parts.push(&counts[0]);
        parts.push(&counts[1]);
        for segment in self.segments {
            parts.push(segment.as_bytes());
        }
        for (name, value) in self.query {
            parts.push(name.as_bytes());
            parts.push(value.as_bytes());
        }
        if let Some((name, value)) = &self.credential {
            parts.push(name.as_str().as_bytes());
            parts.push(value.as_bytes());
        }
        parts.fingerprint()
    }
}

/// Settings of the shared HTTP client.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    pub pool_idle_per_host: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(3),
            pool_idle_per_host: 256,
        }
    }
}

/// What kind of upstream call: writes are sent once and never shared; reads may be retried
/// and shared with concurrent identical reads; catalogue reads may also be cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Write,
    Read,
    Catalogue,
}

impl Call {
    /// A read for GET, a write for anything else.
    pub fn of(method: &Method) -> Call {
        if method == Method::GET {
            Call::Read
        } else {
            Call::Write
        }
    }
}

/// A complete upstream response.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The body once decoded, shared by every copy of this reply (the callers that joined one
    /// read in flight, the hits of one cached catalogue reply).
    pub decoded: Decoded,
}

/// A reply's body as one type, decoded once.
#[derive(Clone, Default)]
pub struct Decoded(Arc<std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>>);

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Decoded"
        } else {
            "NotDecoded"
        })
    }
}

/// One pooled HTTP client, shared by both vendors' clients: hyper's pooled client, without
/// reqwest's layers (which cost every call a URL parse and a few copies of its client);
/// requests are made from an `Outgoing` only when they go out.
#[derive(Clone, Debug)]
pub struct HttpCore {
    transport: Arc<Transport>,
    vendor: Option<Arc<VendorGuard>>,
}

type Transport = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<super::tcp::Tcp>,
    reqwest::Body,
>;

const USER_AGENT: &str = concat!("flowgate/", env!("CARGO_PKG_VERSION"));

/// Plain HTTP or TLS (webpki roots), HTTP/1.1 or HTTP/2 as the upstream offers, pooled.
fn transport(config: &HttpConfig) -> Transport {
    use hyper_util::client::legacy::{connect::HttpConnector, Client};
    use hyper_util::rt::{TokioExecutor, TokioTimer};
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(config.connect_timeout));
    http.set_nodelay(true);
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(super::tcp::Tcp(http));
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(config.pool_idle_per_host)
        .build(https)
}

/// One vendor's share of the core: its concurrency cap, policy, breaker and retry budget.
#[derive(Debug)]
struct VendorGuard {
    in_flight: Semaphore,
    policy: Policy,
    breaker: Breaker,
    budget: RetryBudget,
    dedupe: bool,
    in_flight_calls: SharedReads,
    catalogue: Option<Catalogue>,
    /// The store replicas share, if any.
    shared: Option<Shared>,
    /// Per-credential buckets, when calls are rate limited and no shared store answers.
    buckets: Option<LocalBuckets>,
    /// How the last call went: 0 none yet, 1 healthy, 2 failed.
    last_call: std::sync::atomic::AtomicU8,
    /// The `Host` header of the vendor's usual authority, made at its first call.
    host: std::sync::OnceLock<(Authority, Option<HeaderValue>)>,
}

impl VendorGuard {
    /// The `Host` header a call to `uri` carries: made once for the vendor's usual authority.
    fn host_of(&self, uri: &hyper::Uri) -> Option<HeaderValue> {
        let authority = uri.authority()?;
        let (usual, value) = self
            .host
            .get_or_init(|| (authority.clone(), host_value(authority)));
        if usual == authority {
            value.clone()
        } else {
            host_value(authority)
        }
    }
}

/// `host[:port]` as a header value (the authority without any user info).
fn host_value(authority: &Authority) -> Option<HeaderValue> {
    let host = match authority.port_u16() {
        Some(port) => format!("{}:{port}", authority.host()),
        None => authority.host().to_string(),
    };
    HeaderValue::from_str(&host).ok()
}

/// A vendor's state for `/readyz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VendorHealth {
    pub breaker_open: bool,
    /// `ok`, `failed`, or none before the first call.
    pub last_call: Option<&'static str>,
}

impl HttpCore {
    pub fn new(config: &HttpConfig) -> Self {
        HttpCore {
            transport: Arc::new(transport(config)),
            vendor: None,
        }
    }

    /// The same connection pool for one vendor: at most `max_in_flight` calls at once,
    /// `policy`'s timeout, retries and circuit breaker, and reads shared as `sharing` says.
    pub fn for_vendor(
        &self,
        max_in_flight: usize,
        policy: Policy,
        sharing: &SharingConfig,
    ) -> HttpCore {
        let guard = VendorGuard {
            dedupe: sharing.dedupe,
            in_flight_calls: SharedReads::default(),
            catalogue: Catalogue::new(sharing.catalogue_ttl, sharing.catalogue_max_bytes),
            in_flight: Semaphore::new(max_in_flight.max(1)),
            breaker: Breaker::new(policy.breaker_threshold, policy.breaker_open_for),
            budget: RetryBudget::new(policy.retry_budget_ratio),
            shared: sharing.shared.clone(),
            buckets: policy
                .rate_limit
                .map(|r| LocalBuckets::new(r.per_min, r.burst)),
            policy,
            last_call: Default::default(),
            host: Default::default(),
        };
        HttpCore {
            transport: self.transport.clone(),
            vendor: Some(Arc::new(guard)),
        }
    }

    /// Sends a call under the vendor's policy. Only reads are ever retried, shared between
    /// callers or cached; a write whose outcome is unknown says so.
    pub async fn send(
        &self,
        provider: Provider,
        operation: &'static str,
        outgoing: Outgoing<'_>,
        call: Call,
    ) -> Result<Reply, UpstreamError> {
        if !outgoing.segments.iter().all(|s| names_one(s)) {
            return Err(UpstreamError::new(provider, ErrorKind::NotFound, operation));
        }
        let context = super::context::count_call(provider);
        // Each call's future is boxed where it is made: the futures of a fan-out are moved
        // around whole, and a read that joins another in flight never makes its own.
        let Some(v) = &self.vendor else {
            let mut request = outgoing.build();
            let policy = Policy::default();
            tag(&mut request, context.as_deref());
            return Box::pin(self.send_once(provider, operation, request, &policy)).await;
        };
        if call == Call::Write {
            let request = outgoing.build();
            let trace = context.as_deref();
            return Box::pin(self.guarded(v, provider, operation, request, false, trace)).await;
        }
        let key = outgoing.key();
        let Some(cache) = v.catalogue.as_ref().filter(|_| call == Call::Catalogue) else {
            let build = move || outgoing.build();
            return Box::pin(self.uncached(v, provider, operation, key, build, context)).await;
        };
        // The shared store names a reply by its finished request, so only with one is the
        // request built before the look-up; otherwise only a miss builds it.
        let shared = v.shared.as_ref();
        let (request, shared_key) = match shared {
            Some(store) => {
                let request = outgoing.build();
                let name = store.key("catalogue", &share::request_parts(&request));
                (Ok(request), Some(name))
            }
            None => (Err(outgoing), None),
        };
        let hit = Box::pin(cached(
            cache,
            key,
            shared.zip(shared_key.as_deref()),
            provider,
        ));
        if let Some(hit) = hit.await {
            if let Some(c) = &context {
                let ok = Ok(hit.clone());
                c.record(|| traced(provider, operation, &ok, Duration::ZERO, 0, "cache"));
            }
            return Ok(hit);
        }
        let build = move || request.unwrap_or_else(Outgoing::build);
        let read = self.uncached(v, provider, operation, key, build, context);
        let outcome = Box::pin(read).await;
        if let Ok(reply) = &outcome {
            let ttl = cache.put(key, reply);
            if let (Some(ttl), Some(store), Some(name)) = (ttl, shared, shared_key) {
                let (store, value) = (store.clone(), share::encode_reply(reply, ttl));
                tokio::spawn(async move { store.set_sealed(&name, &value, ttl).await });
            }
        }
        outcome
    }

    /// A read under the retry policy, shared with the identical ones in flight when reads are
    /// shared: the first caller builds and sends it, the others wait for its reply.
    async fn uncached(
        &self,
        v: &Arc<VendorGuard>,
        provider: Provider,
        operation: &'static str,
        key: u128,
        build: impl FnOnce() -> Request,
        context: Option<Arc<RequestContext>>,
    ) -> Result<Reply, UpstreamError> {
        if !v.dedupe {
            let trace = context.as_deref();
            return Box::pin(self.guarded(v, provider, operation, build(), true, trace)).await;
        }
        let started = std::time::Instant::now();
        let start = || {
            let (core, guard, mine) = (self.clone(), v.clone(), context.clone());
            let (keys, span) = (super::context::batch_keys(), tracing::Span::current());
            let request = build();
            let call = async move {
                core.guarded(&guard, provider, operation, request, true, mine.as_deref())
                    .await
            };
            // Wrapped only when there is something to carry.
            if keys == 1 && span.is_disabled() {
                return Box::pin(call) as BoxFuture<'static, Result<Reply, UpstreamError>>;
            }
            Box::pin(super::context::in_batch(keys, call).instrument(span))
        };
        let (outcome, joined) = v.in_flight_calls.join(key, provider, start).await;
        if let (true, Some(c)) = (joined, &context) {
            c.record(|| {
                traced(
                    provider,
                    operation,
                    &outcome,
                    started.elapsed(),
                    0,
                    "shared",
                )
            });
        }
        outcome
    }

    /// One call under the breaker, the in-flight cap, and (for reads) the retry policy.
    async fn guarded(
        &self,
        v: &VendorGuard,
        provider: Provider,
        operation: &'static str,
        mut current: Request,
        idempotent: bool,
        trace: Option<&RequestContext>,
    ) -> Result<Reply, UpstreamError> {
        // Boxed, like the shared store's reads: futures only some calls need would otherwise
        // make every call's future larger.
        let limit = match v.policy.rate_limit {
            Some(_) => Box::pin(limited(v, provider, &current)).await,
            None => None,
        };
        if let Some(wait) = limit {
            metrics::counter!("flowgate_rate_limited_total", "vendor" => provider.label())
                .increment(1);
            return Err(UpstreamError {
                retry_after: Some(wait),
                ..UpstreamError::new(provider, ErrorKind::RateLimited, operation)
            });
        }
        if !v.breaker.admit() {
            return Err(UpstreamError::new(
                provider,
                ErrorKind::CircuitOpen,
                operation,
            ));
        }
        v.budget.deposit();
        tag(&mut current, trace);
        for attempt in 1.. {
            let next = idempotent.then(|| current.clone());
            let result = {
                let _permit = v.in_flight.acquire().await.ok();
                let _counted = Counted::new(VENDOR_GAUGES.with(provider, |g| g.in_flight.clone()));
                let started = std::time::Instant::now();
                let result = self
                    .send_once(provider, operation, current, &v.policy)
                    .await;
                let took = started.elapsed();
                record_call(provider, operation, &result, took);
                if let Some(t) = trace {
                    t.record(|| traced(provider, operation, &result, took, attempt, "network"));
                }
                result
            };
            let ok = healthy(&result);
            v.breaker.record(ok);
            v.last_call
                .store(if ok { 1 } else { 2 }, std::sync::atomic::Ordering::Relaxed);
            let open = if v.breaker.is_open() { 1.0 } else { 0.0 };
            VENDOR_GAUGES.with(provider, |g| g.breaker_open.set(open));
            let wait = retry_wait(&v.policy, &result, attempt);
            match (next, wait) {
                (Some(next), Some(wait))
                    if attempt <= v.policy.max_retries
                        && v.budget.withdraw()
                        && v.breaker.admit() =>
                {
                    tracing::debug!(provider = %provider, operation, attempt, "retrying upstream read");
                    metrics::counter!("flowgate_upstream_retries_total", "vendor" => provider.label(), "route" => operation).increment(1);
                    tokio::time::sleep(wait).await;
                    current = next;
                }
                _ if idempotent => return result,
                _ => return result.map_err(mark_unknown_outcome),
            }
        }
        Err(UpstreamError::new(
            provider,
            ErrorKind::ServerError,
            operation,
        ))
    }

    /// The vendor's breaker and last call (a core without a vendor is always healthy).
    pub fn health(&self) -> VendorHealth {
        let Some(v) = &self.vendor else {
            return VendorHealth {
                breaker_open: false,
                last_call: None,
            };
        };
        let last_call = match v.last_call.load(std::sync::atomic::Ordering::Relaxed) {
            1 => Some("ok"),
            2 => Some("failed"),
            _ => None,
        };
        VendorHealth {
            breaker_open: v.breaker.is_open(),
            last_call,
        }
    }

    /// A request to `url` carrying its (sensitive) credential header if any and a JSON body.
    fn request(
        method: Method,
        url: String,
        credential: Option<(HeaderName, HeaderValue)>,
        body: Option<&Value>,
    ) -> Request {
        // Room for every header a call carries, so that none makes the map grow.
        let mut headers = HeaderMap::with_capacity(8);
        if let Some((name, mut value)) = credential {
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let body = body.map(|body| {
            let json = HeaderValue::from_static("application/json");
            headers.insert(reqwest::header::CONTENT_TYPE, json);
            Bytes::from(body.to_string())
        });
        Request::new(method, url, headers, body)
    }

    /// Sends `request` once and reads the body, within `policy`'s limits (the most bytes, the
    /// longest wait); transport failures become typed errors.
    async fn send_once(
        &self,
        provider: Provider,
        operation: &'static str,
        request: Request,
        policy: &Policy,
    ) -> Result<Reply, UpstreamError> {
        let span = tracing::info_span!(
            "upstream.call",
            otel.kind = "client",
            vendor = provider.label(),
            route = operation,
            http.response.status_code = tracing::field::Empty,
        );
        if span.is_disabled() {
            return self.read(provider, operation, request, policy).await;
        }
        let result = Box::pin(self.read(provider, operation, request, policy))
            .instrument(span.clone())
            .await;
        if let Ok(reply) = &result {
            span.record("http.response.status_code", reply.status.as_u16());
        }
        result
    }

    /// The call, with our headers, within `policy`'s limits (the most bytes, the longest wait).
    async fn read(
        &self,
        provider: Provider,
        operation: &'static str,
        mut request: Request,
        policy: &Policy,
    ) -> Result<Reply, UpstreamError> {
        super::context::inject_trace(&mut request.headers);
        // Only a URL that is no valid URI fails here: the call cannot go out.
        let mut request = request
            .into_hyper()
            .ok_or_else(|| UpstreamError::new(provider, ErrorKind::Disconnected, operation))?;
        // Set here, where it is made once, rather than by the client for every call.
        if let Some(host) = self.vendor.as_ref().and_then(|v| v.host_of(request.uri())) {
            request.headers_mut().entry(HOST).or_insert(host);
        }
        let headers = request.headers_mut();
        headers
            .entry(reqwest::header::USER_AGENT)
            .or_insert(HeaderValue::from_static(USER_AGENT));
        headers
            .entry(reqwest::header::ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        let secrets = secrets_of(request.headers());
        let exchange = self.exchange(provider, operation, request, policy.max_body_bytes);
        let mut reply = tokio::time::timeout(policy.timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(UpstreamError::new(provider, ErrorKind::Timeout, operation)))?;
        if !reply.status.is_success() {
            reply.body = without(&reply.body, &secrets);
        }
        Ok(reply)
    }

    /// Sends the request on the pool and reads the reply's body, up to `limit` bytes.
    async fn exchange(
        &self,
        provider: Provider,
        operation: &'static str,
        request: hyper::Request<reqwest::Body>,
        limit: usize,
    ) -> Result<Reply, UpstreamError> {
        use http_body_util::BodyExt;
        let failed = |kind| UpstreamError::new(provider, kind, operation);
        let response = self.transport.request(request).await.map_err(|e| {
            failed(if e.is_connect() {
                ErrorKind::Connect
            } else {
                ErrorKind::Disconnected
            })
        })?;
        let (parts, mut response) = response.into_parts();
        let (status, headers) = (parts.status, kept(&parts.headers));
        let too_large = || UpstreamError {
            status: Some(status.as_u16()),
            ..failed(ErrorKind::TooLarge)
        };
        let declared = hyper::body::Body::size_hint(&response).exact();
        if declared.unwrap_or(0) > limit as u64 {
            return Err(too_large());
        }
        let mut body = bytes::BytesMut::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(frame) = response.frame().await {
            let frame = frame.map_err(|_| failed(ErrorKind::TruncatedBody))?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        tracing::debug!(provider = %provider, operation, status = status.as_u16(), bytes = body.len(), "upstream reply");
        Ok(Reply {
            status,
            headers,
            body,
            decoded: Decoded::default(),
        })
    }
}

/// The credentials a request carries (its sensitive headers' values, with and without their
/// scheme), which a vendor's error reply must not hand back to the caller.
fn secrets_of(headers: &HeaderMap) -> Vec<Vec<u8>> {
    let mut secrets = Vec::new();
    for value in headers.values().filter(|v| v.is_sensitive()) {
        let value = value.as_bytes();
        if let Some(at) = value.iter().position(|b| *b == b' ') {
            secrets.push(value[at + 1..].to_vec());
        }
        secrets.push(value.to_vec());
    }
    secrets.retain(|s| s.len() >= 4);
    secrets
}

/// `body` with every occurrence of each secret replaced by `[redacted]`.
fn without(body: &Bytes, secrets: &[Vec<u8>]) -> bytes::Bytes {
    let found = |at: usize| secrets.iter().find(|s| body[at..].starts_with(s));
    if !(0..body.len()).any(|at| found(at).is_some()) {
        return body.clone();
    }
    let (mut out, mut at) = (Vec::with_capacity(body.len()), 0);
    while at < body.len() {
        match found(at) {
            Some(secret) => {
                out.extend_from_slice(b"[redacted]");
                at += secret.len();
            }
            None => {
                out.push(body[at]);
                at += 1;
            }
        }
    }
    out.into()
}

/// A vendor's own message made safe to show: URLs (with their query strings) and opaque
/// tokens taken out, cut to 200 characters.
fn scrubbed(message: &str) -> String {
    let words = message.split_whitespace().map(|word| {
        let bare = word.trim_matches(|c: char| "\"'()[]{}<>,;".contains(c));
        if bare.contains("://") || bare.starts_with("www.") {
            "[url]"
        } else if bare.contains('?') && bare.contains('=') {
            "[query]"
        } else if looks_opaque(bare) {
            "[redacted]"
        } else {
            word
        }
    });
    let text = words.collect::<Vec<_>>().join(" ");
    text.chars().take(200).collect()
}

/// A long word of mixed letters and digits (a token, a key, a JWT) rather than prose.
fn looks_opaque(word: &str) -> bool {
    let letters = word.chars().filter(char::is_ascii_alphabetic).count();
    let digits = word.chars().filter(char::is_ascii_digit).count();
    word.len() >= 20 && letters > 0 && digits > 0 && !word.contains(char::is_whitespace)
}

/// A call counted in its vendor's in-flight gauge for as long as it lives, however it ends (a
/// call its callers gave up is dropped midway).
struct Counted(Gauge);

impl Counted {
    fn new(gauge: Gauge) -> Self {
        gauge.increment(1.0);
        Counted(gauge)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Sets the request's id on the call that goes out (it is not part of a shared read's key).
fn tag(request: &mut Request, context: Option<&RequestContext>) {
    let Some(context) = context else { return };
    let headers = &mut request.headers;
    if let Some(value) = &context.id {
        headers.insert(REQUEST_ID, value.clone());
    }
    if let Some(value) = &context.traceparent {
        headers.insert(TRACEPARENT, value.clone());
    }
}

/// A catalogue reply from this process's cache, or else from the shared store (then kept
/// here too for the time it has left).
async fn cached(
    cache: &Catalogue,
    key: u128,
    shared: Option<(&Shared, &str)>,
    provider: Provider,
) -> Option<Reply> {
    let count = |cache: &'static str, hit: bool| {
        let result = if hit { "hit" } else { "miss" };
        CACHE_COUNTS.with((cache, provider, result), |c| c.increment(1));
    };
    let hit = cache.get(key);
    count("catalogue", hit.is_some());
    if hit.is_some() {
        return hit;
    }
    let (store, name) = shared?;
    let stored = store.get_sealed(name).await.flatten();
    let found = stored.and_then(|bytes| share::decode_reply(&bytes));
    count("catalogue_shared", found.is_some());
    let (reply, left) = found?;
    cache.put_for(key, &reply, left);
    Some(reply)
}

/// How long the caller must wait before this call may go out, when its credential has spent
/// its rate: across replicas through the shared store, else in this process. Calls without a
/// credential are not limited.
async fn limited(v: &VendorGuard, provider: Provider, request: &Request) -> Option<Duration> {
    let rate = v.policy.rate_limit?;
    let credential = share::credential_parts(&request.headers);
    if credential.is_empty() {
        return None;
    }
    let mut answer = None;
    if let Some(store) = &v.shared {
        let mut parts = vec![provider.label().as_bytes()];
        parts.extend_from_slice(&credential);
        answer = store
            .take(&store.key("rate", &parts), rate.per_min, rate.burst)
            .await;
    }
    let wait = match answer {
        Some(wait) => wait,
        None => v.buckets.as_ref()?.take(share::fingerprint(&credential)),
    };
    wait.map(|w| Duration::from_secs(w.as_secs_f64().ceil().max(1.0) as u64))
}

/// One upstream call as a request's trace shows it.
fn traced(
    provider: Provider,
    operation: &'static str,
    result: &Result<Reply, UpstreamError>,
    took: Duration,
    attempt: u32,
    served: &'static str,
) -> UpstreamCall {
    let keys = super::context::batch_keys();
    let batch = keys > 1 && served == "network";
    UpstreamCall {
        vendor: provider.label(),
        route: operation,
        status: match result {
            Ok(reply) => reply.status.as_u16().to_string(),
            Err(e) => e.kind.label().to_string(),
        },
        duration_ms: took.as_secs_f64() * 1000.0,
        attempt,
        served: if batch { "batch" } else { served },
        keys: batch.then_some(keys),
    }
}

/// One upstream call in the metrics: by vendor, route template and status (or failure kind).
fn record_call(
    provider: Provider,
    operation: &'static str,
    result: &Result<Reply, UpstreamError>,
    took: Duration,
) {
    let status = match result {
        Ok(reply) => Ok(reply.status.as_u16()),
        Err(e) => Err(e.kind.label()),
    };
    CALLS.with((provider, operation, status), |(calls, duration)| {
        calls.increment(1);
        duration.record(took);
    });
}

/// A call's status label: the HTTP status, or the kind of failure when there was none.
type CallStatus = Result<u16, &'static str>;

/// A call's labels: vendor, route and status.
type CallLabels = (Provider, &'static str, CallStatus);

static CALLS: LazyLock<Handles<CallLabels, Timed>> = LazyLock::new(|| {
    Handles::new(|(provider, operation, status)| {
        let vendor = provider.label();
        let status = match status {
            Ok(code) => code.to_string(),
            Err(kind) => kind.to_string(),
        };
        (
            metrics::counter!("flowgate_upstream_calls_total", "vendor" => vendor, "route" => operation, "status" => status),
            metrics::histogram!("flowgate_upstream_call_duration_seconds", "vendor" => vendor, "route" => operation),
        )
    })
});

struct VendorGauges {
    in_flight: Gauge,
    breaker_open: Gauge,
}

static VENDOR_GAUGES: LazyLock<Handles<Provider, VendorGauges>> = LazyLock::new(|| {
    Handles::new(|provider| VendorGauges {
        in_flight: metrics::gauge!("flowgate_upstream_in_flight", "vendor" => provider.label()),
        breaker_open: metrics::gauge!("flowgate_upstream_breaker_open", "vendor" => provider.label()),
    })
});

static CACHE_COUNTS: LazyLock<Handles<(&str, Provider, &str), Counter>> = LazyLock::new(|| {
    Handles::new(
        |(cache, provider, result)| metrics::counter!("flowgate_cache_requests_total", "cache" => cache, "vendor" => provider.label(), "result" => result),
    )
});

/// Whether a result says the upstream is healthy (for the breaker).
fn healthy(result: &Result<Reply, UpstreamError>) -> bool {
    match result {
        Ok(reply) => !reply.status.is_server_error(),
        Err(e) => !matches!(
            e.kind,
            ErrorKind::Timeout
                | ErrorKind::Connect
                | ErrorKind::Disconnected
                | ErrorKind::TruncatedBody
        ),
    }
}

/// How long to wait before retrying, if the result is worth retrying.
fn retry_wait(
    policy: &Policy,
    result: &Result<Reply, UpstreamError>,
    attempt: u32,
) -> Option<Duration> {
    match result {
        Ok(reply) if reply.status == StatusCode::TOO_MANY_REQUESTS => retry_after(&reply.headers)
            .filter(|d| *d <= policy.max_retry_after)
            .or_else(|| {
                (!reply.headers.contains_key(RETRY_AFTER)).then(|| policy.backoff(attempt))
            }),
        Ok(reply) if matches!(reply.status.as_u16(), 500 | 502 | 503 | 504) => {
            Some(policy.backoff(attempt))
        }
        Ok(_) => None,
        Err(e) => matches!(
            e.kind,
            ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Disconnected
        )
        .then(|| policy.backoff(attempt)),
    }
}

/// A write that failed after it may have reached the upstream.
fn mark_unknown_outcome(mut err: UpstreamError) -> UpstreamError {
    err.outcome_unknown = matches!(
        err.kind,
        ErrorKind::Timeout | ErrorKind::Disconnected | ErrorKind::TruncatedBody
    );
    err
}

/// An error for a non-success reply: status, `Retry-After`, and the vendor's code and message.
pub fn status_error(
    provider: Provider,
    operation: &'static str,
    reply: &Reply,
    vendor_code: Option<i64>,
    vendor_message: Option<String>,
) -> UpstreamError {
    let status = reply.status.as_u16();
    UpstreamError {
        kind: UpstreamError::kind_for(status, vendor_code),
        status: Some(status),
        vendor_code,
        vendor_message: vendor_message.map(|m| scrubbed(&m)),
        retry_after: retry_after(&reply.headers),
        ..UpstreamError::new(provider, ErrorKind::ServerError, operation)
    }
}

/// The reply headers the gateway reads (`Cache-Control`, `Retry-After`): the copies of a
/// reply shared by many callers carry nothing else.
fn kept(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in [CACHE_CONTROL, RETRY_AFTER] {
        for value in headers.get_all(&name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

/// Strictly decodes a JSON body as `T`.
/// The body as `T`, decoded by the first copy of the reply that asks and shared with the others.
pub fn decode_shared<T: DeserializeOwned + Send + Sync + 'static>(
    provider: Provider,
    operation: &'static str,
    reply: &Reply,
) -> Result<Arc<T>, UpstreamError> {
    if let Some(done) = reply.decoded.0.get() {
        if let Ok(value) = done.clone().downcast::<T>() {
            return Ok(value);
        }
    }
    let value = Arc::new(decode::<T>(provider, operation, reply)?);
    let _ = reply.decoded.0.set(value.clone());
    Ok(value)
}

pub fn decode<T: DeserializeOwned>(
    provider: Provider,
    operation: &'static str,
    reply: &Reply,
) -> Result<T, UpstreamError> {
    serde_json::from_slice(&reply.body).map_err(|e| {
        tracing::debug!(provider = %provider, operation, error = %e, "undecodable upstream body");
        UpstreamError {
            status: Some(reply.status.as_u16()),
            ..UpstreamError::new(provider, ErrorKind::InvalidResponse, operation)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::AUTHORIZATION;

    /// The size of the future `make` would make (it is never called).
    fn future_size<F>(_make: impl FnOnce() -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// A fan-out moves each call's future around whole (into loaders, tasks, joins): a read's
    /// future stays small, its bulk boxed where the call really goes out. It was 9 KiB, then
    /// 2 KiB for a look-up.
    #[test]
    #[allow(unreachable_code, unused_variables)]
    fn an_upstream_read_future_stays_small() {
        let core = HttpCore::new(&HttpConfig::default());
        let base = Url::parse("http://127.0.0.1/").unwrap();
        let read = Outgoing {
            method: Method::GET,
            base: &base,
            segments: &["x"],
            query: &[],
            credential: None,
            body: None,
        };
        let send = future_size(|| core.send(Provider::Appmixer, "GET /x", read, Call::Read));
        assert!(send <= 3072, "HttpCore::send's future is {send} bytes");
        let flows = future_size(|| {
            let session: &crate::upstream::appmixer::AppmixerSession = todo!();
            session.account_flows("a")
        });
        assert!(flows <= 512, "account_flows' future is {flows} bytes");
    }

    #[test]
    fn urls_are_written_as_the_url_crate_writes_them() {
        let mut segments: Vec<String> = (0u8..128).map(|b| (b as char).to_string()).collect();
        segments.extend(
            [
                "",
                " ",
                "a b",
                "a/b",
                "a\\b",
                "%",
                "%2e",
                "%2E%2e",
                ".a",
                "a.",
                "...",
                "é",
                "日本",
                "🦀",
                "a?b#c",
                "{x}",
                "~!$&'()*+,;=:@",
                "ab",
                "acct-00bcb564",
            ]
            .map(String::from),
        );
        let bases = [
            "http://127.0.0.1/",
            "http://127.0.0.1:8080/api",
            "http://h/api/",
            "https://h/api/v2/integrations",
            "http://h//x/",
        ];
        let queries: [&[(&str, String)]; 3] = [
            &[],
            &[("limit", "5".into())],
            &[
                ("filter", "name:a b&c=d/é".into()),
                ("sort", "mtime:-1".into()),
            ],
        ];
        for base in bases.map(|b| Url::parse(b).unwrap()) {
            for query in queries {
                let check = |segs: &[&str]| {
                    let ours = url_text(&base, segs, query);
                    assert_eq!(
                        ours,
                        url_with(&base, segs, query).as_str(),
                        "{base} {segs:?}"
                    );
                    assert!(hyper::Uri::try_from(ours).is_ok());
                };
                check(&[]);
                for segment in &segments {
                    check(&[segment]);
                    check(&["accounts", segment, "flows"]);
                    check(&[segment, ""]);
                }
            }
        }
    }

    #[test]
    fn the_host_header_is_made_once_for_the_usual_authority() {
        let core = HttpCore::new(&HttpConfig::default()).for_vendor(
            8,
            Policy::default(),
            &SharingConfig::default(),
        );
        let guard = core.vendor.as_deref().unwrap();
        let usual: hyper::Uri = "http://user:pw@127.0.0.1:8080/a".parse().unwrap();
        let other: hyper::Uri = "https://auth.example.com/b".parse().unwrap();
        let host = |uri: &hyper::Uri| guard.host_of(uri).unwrap();
        assert_eq!(host(&usual), "127.0.0.1:8080");
        assert_eq!(host(&other), "auth.example.com");
        assert_eq!(host(&usual), "127.0.0.1:8080");
        assert_eq!(guard.host.get().unwrap().0, "user:pw@127.0.0.1:8080");
    }

    #[test]
    fn a_vendor_message_loses_credentials_urls_and_query_strings() {
        let mut headers = HeaderMap::new();
        let mut bearer = HeaderValue::from_static("Bearer tok-secret");
        bearer.set_sensitive(true);
        headers.insert(AUTHORIZATION, bearer);
        let body = Bytes::from_static(b"bad token tok-secret (Bearer tok-secret)");
        let clean = without(&body, &secrets_of(&headers));
        assert_eq!(&clean[..], b"bad token [redacted] ([redacted])");
        let message = "see https://api.example/v1/x?token=abc or /flows?key=v; key eyJhbGciOiJIUzI1NiJ9.e30.abc123 used";
        assert_eq!(
            scrubbed(message),
            "see [url] or [query] key [redacted] used"
        );
        assert_eq!(scrubbed(&"word ".repeat(100)).chars().count(), 200);
    }

    #[test]
    fn reads_share_a_key_only_with_the_same_method_url_and_credential() {
        let base = Url::parse("http://127.0.0.1/api").unwrap();
        let bearer = |token: &str| Some((AUTHORIZATION, HeaderValue::from_str(token).unwrap()));
        let read = |segments: &'static [&'static str], query: &[(&str, String)], token: &str| {
            Outgoing {
                method: Method::GET,
                base: &base,
                segments,
                query,
                credential: bearer(token),
                body: None,
            }
            .key()
        };
        let page = [("limit", "5".to_string())];
        let one = read(&["accounts", "a", "flows"], &[], "Bearer A");
        assert_eq!(one, read(&["accounts", "a", "flows"], &[], "Bearer A"));
        assert_ne!(one, read(&["accounts", "a", "flows"], &[], "Bearer B"));
        assert_ne!(one, read(&["accounts", "b", "flows"], &[], "Bearer A"));
        assert_ne!(one, read(&["accounts", "a", "flows"], &page, "Bearer A"));
        let split = read(&["accounts", "limit"], &[], "Bearer A");
        assert_ne!(
            split,
            read(&["accounts"], &[("limit", String::new())], "Bearer A")
        );
    }

    #[test]
    fn the_copies_of_one_reply_decode_it_once() {
        let reply = Reply {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"[1, 2, 3]"),
            decoded: Decoded::default(),
        };
        let joined = reply.clone();
        let first: Arc<Vec<u32>> = decode_shared(Provider::Appmixer, "GET /x", &reply).unwrap();
        let second: Arc<Vec<u32>> = decode_shared(Provider::Appmixer, "GET /x", &joined).unwrap();
        assert!(Arc::ptr_eq(&first, &second), "decoded once, shared");
        let other: Arc<Vec<u64>> = decode_shared(Provider::Appmixer, "GET /x", &joined).unwrap();
        assert_eq!(*other, vec![1, 2, 3], "another type decodes on its own");
        let fresh = Reply {
            decoded: Decoded::default(),
            ..reply.clone()
        };
        let third: Arc<Vec<u32>> = decode_shared(Provider::Appmixer, "GET /x", &fresh).unwrap();
        assert!(!Arc::ptr_eq(&first, &third), "another reply decodes anew");
    }
}
