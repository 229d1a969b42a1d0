//! Test hooks shared by both sandbox upstreams: per-route counters, a request log, and fault
//! injection, readable from Rust and over `/__sandbox/...` admin routes.

use super::support::{fingerprint, glob_match};
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// Which vendor a sandbox imitates: decides the shape of injected error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    AppyPie,
    Appmixer,
}

impl Vendor {
    /// The vendor's error body for `status` (Appy Pie failure envelope, or Appmixer's Boom payload).
    pub fn error(self, status: StatusCode, code: Option<u32>, message: &str) -> Response {
        let body = match self {
            Vendor::AppyPie => serde_json::json!({
                "status": "0",
                "success": false,
                "code": code.unwrap_or(u32::from(status.as_u16())),
                "message": message,
            }),
            Vendor::Appmixer => serde_json::json!({
                "statusCode": status.as_u16(),
                "error": status.canonical_reason().unwrap_or("Error"),
                "message": message,
            }),
        };
        (status, Json(body)).into_response()
    }
}

/// One injected failure.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Delay the request, then answer normally (or with the next matching fault).
    Latency { ms: u64 },
    /// Answer with this status and the vendor's error body.
    Status { status: u16 },
    /// Answer 429 with `Retry-After: <seconds>` and the vendor's error body.
    RateLimit { retry_after: u64 },
    /// Answer 200 with a body that is not valid JSON.
    MalformedJson,
    /// Send the real headers and half the real body, then cut the connection.
    TruncatedBody,
    /// Close the connection without answering.
    DropConnection,
    /// Answer normally, then close the connection `ms` later, as an upstream closes a
    /// keep-alive connection it finds idle.
    CloseAfterAnswer { ms: u64 },
    /// Answer exactly this: status, headers and body; `{page}` in the body becomes the
    /// request's `page` query parameter (an upstream that pages on forever).
    Canned {
        status: u16,
        #[serde(default)]
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Answer 200 with `head`, then `chunk` `repeat` times (forever when absent), pausing
    /// `pause_ms` between chunks, then `tail`: huge, endless and slow bodies.
    Stream {
        content_type: String,
        head: String,
        chunk: String,
        repeat: Option<u64>,
        #[serde(default)]
        pause_ms: u64,
        #[serde(default)]
        tail: String,
    },
}

/// A fault applied to requests whose method and path match.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FaultRule {
    /// HTTP method to match; any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Glob over the request path (`*` matches anything), e.g. `/flows*`.
    pub path: String,
    pub fault: Fault,
    /// Apply to the next N matching requests only; forever when absent.
    #[serde(default)]
    pub times: Option<u32>,
}

impl FaultRule {
    pub fn new(path: &str, fault: Fault) -> Self {
        FaultRule {
            method: None,
            path: path.to_string(),
            fault,
            times: None,
        }
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_uppercase());
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && glob_match(&self.path, path)
    }
}

/// One request as the sandbox saw it. The credential appears only as a fingerprint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The route key, e.g. `GET /flows/{id}`.
    pub route: String,
    pub query: Option<String>,
    pub credential: Option<String>,
    /// The `x-request-id` the caller sent, if any.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The W3C `traceparent` the caller sent, if any.
    #[serde(default)]
    pub traceparent: Option<String>,
}

/// The log keeps the newest records only, so long benchmark runs stay small.
const LOG_CAPACITY: usize = 100_000;

#[derive(Default)]
struct HookState {
    counts: BTreeMap<String, u64>,
    log: VecDeque<RequestRecord>,
    faults: Vec<FaultRule>,
}

/// Counters, request log and fault rules of one sandbox upstream.
pub struct Hooks {
    vendor: Vendor,
    /// Stripped from route keys, so that Appy Pie keys read `GET /connect/list`.
    prefix: &'static str,
    /// Every route key the vendor's router serves.
    routes: &'static [&'static str],
    state: Mutex<HookState>,
}

impl Hooks {
    pub fn new(vendor: Vendor, prefix: &'static str, routes: &'static [&'static str]) -> Arc<Self> {
        Arc::new(Hooks {
            vendor,
            prefix,
            routes,
            state: Mutex::default(),
        })
    }

    /// Every route key the vendor's router serves.
    pub fn routes(&self) -> &'static [&'static str] {
        self.routes
    }

    fn lock(&self) -> MutexGuard<'_, HookState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Requests seen on one route key, e.g. `count("GET /flows/{id}")`. A key the router does
    /// not serve is a mistake in the test asking, never a zero.
    pub fn count(&self, route: &str) -> u64 {
        assert!(
            self.routes.contains(&route),
            "the sandbox serves no route `{route}`; its routes: {:?}",
            self.routes
        );
        self.lock().counts.get(route).copied().unwrap_or(0)
    }

    /// Requests seen on all routes.
    pub fn total(&self) -> u64 {
        self.lock().counts.values().sum()
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.lock().counts.clone()
    }

    /// The newest requests (up to 100,000), oldest first.
    pub fn log(&self) -> Vec<RequestRecord> {
        self.lock().log.iter().cloned().collect()
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.lock().faults.push(rule);
    }

    pub fn faults(&self) -> Vec<FaultRule> {
        self.lock().faults.clone()
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Forget counters, log and faults (the store is left as it is).
    pub fn reset(&self) {
        *self.lock() = HookState::default();
    }

    fn record(&self, record: RequestRecord) {
        let mut state = self.lock();
        *state.counts.entry(record.route.clone()).or_default() += 1;
        if state.log.len() == LOG_CAPACITY {
            state.log.pop_front();
        }
        state.log.push_back(record);
    }

    /// The faults that apply to this request: the total added latency and the first other fault.
    fn take_faults(&self, method: &str, path: &str) -> (u64, Option<Fault>) {
        let mut state = self.lock();
        let mut latency = 0;
        let mut chosen = None;
        for rule in state.faults.iter_mut() {
            if chosen.is_some() || !rule.matches(method, path) || rule.times == Some(0) {
                continue;
            }
            if let Some(n) = rule.times.as_mut() {
                *n -= 1;
            }
            match &rule.fault {
                Fault::Latency { ms } => latency += ms,
                other => chosen = Some(other.clone()),
            }
        }
        state.faults.retain(|r| r.times != Some(0));
        (latency, chosen)
    }

    fn route_key(&self, method: &str, matched: Option<&str>) -> String {
        let path = matched.unwrap_or("(unmatched)");
        let path = path.strip_prefix(self.prefix).unwrap_or(path);
        format!("{method} {path}")
    }
}

/// Put into each request's extensions by the server loop: wakes it to drop the connection.
#[derive(Clone)]
pub struct ConnKiller(pub Arc<Notify>);

fn credential_of(req: &Request) -> Option<String> {
    let headers = req.headers();
    let raw = headers
        .get(header::AUTHORIZATION)
        .or_else(|| headers.get("accesstoken"))?
        .to_str()
        .ok()?;
    let token = raw.strip_prefix("Bearer ").unwrap_or(raw).trim();
    (!token.is_empty()).then(|| fingerprint(token))
}

/// Middleware: records the request, then applies any matching fault.
pub async fn observe(State(hooks): State<Arc<Hooks>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/__sandbox") {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_string();
    let matched = req.extensions().get::<MatchedPath>().map(|m| m.as_str());
    hooks.record(RequestRecord {
        route: hooks.route_key(&method, matched),
        method: method.clone(),
        path: path.clone(),
        query: req.uri().query().map(str::to_string),
        credential: credential_of(&req),
        request_id: header_text(&req, "x-request-id"),
        traceparent: header_text(&req, "traceparent"),
    });
    let (latency, fault) = hooks.take_faults(&method, &path);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match fault {
        None => next.run(req).await,
        Some(fault) => apply(hooks.vendor, fault, req, next).await,
    }
}

async fn apply(vendor: Vendor, fault: Fault, req: Request, next: Next) -> Response {
    match fault {
        Fault::Latency { .. } => next.run(req).await,
        Fault::Status { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            vendor.error(status, None, "Injected failure")
        }
        Fault::RateLimit { retry_after } => {
            let mut res = vendor.error(StatusCode::TOO_MANY_REQUESTS, None, "Too Many Requests");
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            res
        }
        Fault::MalformedJson => (
            [(header::CONTENT_TYPE, "application/json")],
            "{\"success\": true, \"data\": [{\"oops\": ,]",
        )
            .into_response(),
        Fault::TruncatedBody => truncate(next.run(req).await).await,
        Fault::Canned {
            status,
            headers,
            body,
        } => canned(&req, status, headers, body),
        Fault::Stream {
            content_type,
            head,
            chunk,
            repeat,
            pause_ms,
            tail,
        } => {
            let chunks = stream_body(head, chunk, repeat, pause_ms, tail);
            (
                [(header::CONTENT_TYPE, content_type)],
                Body::from_stream(chunks),
            )
                .into_response()
        }
        Fault::CloseAfterAnswer { ms } => {
            if let Some(killer) = req.extensions().get::<ConnKiller>().cloned() {
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    killer.0.notify_one();
                });
            }
            next.run(req).await
        }
        Fault::DropConnection => {
            if let Some(killer) = req.extensions().get::<ConnKiller>() {
                killer.0.notify_one();
            }
            std::future::pending().await
        }
    }
}

fn canned(req: &Request, status: u16, headers: Vec<(String, String)>, body: String) -> Response {
    let page = req
        .uri()
        .query()
        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "page"))
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "1".into());
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut res = (status, body.replace("{page}", &page)).into_response();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            res.headers_mut().insert(name, value);
        }
    }
    res
}

fn stream_body(
    head: String,
    chunk: String,
    repeat: Option<u64>,
    pause_ms: u64,
    tail: String,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let chunk = Bytes::from(chunk);
    let middle = futures_util::stream::iter(0..repeat.unwrap_or(u64::MAX)).then(move |_| {
        let chunk = chunk.clone();
        async move {
            if pause_ms > 0 {
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            }
            Ok(chunk)
        }
    });
    futures_util::stream::once(async move { Ok(Bytes::from(head)) })
        .chain(middle)
        .chain(futures_util::stream::once(
            async move { Ok(Bytes::from(tail)) },
        ))
}

/// Keeps the status, headers and declared length of `res`, but sends only half its body.
async fn truncate(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    let full = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = full.slice(..full.len() / 2);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len().max(1)));
    // The pause lets the server flush the headers and the first half before the cut.
    let cut = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err(std::io::Error::other("sandbox: truncated body"))
    };
    let chunks = futures_util::stream::once(async { Ok::<Bytes, std::io::Error>(half) })
        .chain(futures_util::stream::once(cut));
    Response::from_parts(parts, Body::from_stream(chunks))
}

#[derive(Serialize)]
struct RequestsView {
    counts: BTreeMap<String, u64>,
    total: u64,
    log: Vec<RequestRecord>,
}

/// The `/__sandbox/...` admin routes: read counters and log, reset, manage faults.
pub fn admin_routes<S: Clone + Send + Sync + 'static>(hooks: Arc<Hooks>) -> Router<S> {
    Router::new()
        .route("/__sandbox/requests", get(requests_view))
        .route("/__sandbox/reset", post(reset))
        .route(
            "/__sandbox/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .with_state(hooks)
}

async fn requests_view(State(hooks): State<Arc<Hooks>>) -> Json<RequestsView> {
    Json(RequestsView {
        counts: hooks.counts(),
        total: hooks.total(),
        log: hooks.log(),
    })
}

async fn reset(State(hooks): State<Arc<Hooks>>) -> StatusCode {
    hooks.reset();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(hooks): State<Arc<Hooks>>) -> Json<Vec<FaultRule>> {
    Json(hooks.faults())
}

async fn add_fault(State(hooks): State<Arc<Hooks>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultRule>(&body) {
        Ok(rule) => {
            hooks.add_fault(rule);
            StatusCode::CREATED.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("invalid fault rule: {e}")).into_response(),
    }
}

async fn clear_faults(State(hooks): State<Arc<Hooks>>) -> StatusCode {
    hooks.clear_faults();
    StatusCode::NO_CONTENT
}

fn header_text(req: &Request, name: &str) -> Option<String> {
    let value = req.headers().get(name)?;
    value.to_str().ok().map(str::to_string)
}
