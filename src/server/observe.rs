//! What operators watch: Prometheus metrics at `/metrics`, an `x-request-id` on every request
//! (taken from the caller or made here, returned, logged and sent upstream), and `/readyz`.

use super::Shared;
use crate::metered::{Handles, Timed};
use axum::extract::{MatchedPath, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, OnceLock};
use std::time::Instant;

const REQUEST_ID: &str = "x-request-id";

/// The process's metrics recorder, installed once (every router of the process shares it).
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let seconds = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                &seconds,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full("flowgate_loader_batch_size".into()),
                    &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0],
                )
            })
            .expect("bucket bounds are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder already installed (an embedding program's) keeps its place.
        let _ = metrics::set_global_recorder(recorder);
        // Histogram samples wait in a buffer until upkeep folds them into their buckets.
        let upkeep = handle.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            upkeep.run_upkeep();
        });
        handle
    })
}

/// `GET /metrics`: Prometheus text format.
pub async fn render() -> Response {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    let handle = metrics();
    handle.run_upkeep();
    (
        [(axum::http::header::CONTENT_TYPE, content_type)],
        handle.render(),
    )
        .into_response()
}

/// A request id the caller may send: short, printable, no spaces.
fn acceptable(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}

fn new_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let id = crate::upstream::fingerprint(&[&now.to_le_bytes(), &n.to_le_bytes()]);
    format!("{id:032x}")
}

/// Middleware: gives the request an id (the caller's, if acceptable), returns it, and counts
/// the request by route, method and status with its duration.
pub async fn track(mut request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let id = match request.headers().get(REQUEST_ID) {
        Some(id) if acceptable(id) => id.clone(),
        _ => HeaderValue::from_str(&new_request_id()).unwrap_or(HeaderValue::from_static("-")),
    };
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let route = route_label(request.extensions().get::<MatchedPath>());
    let method = method_label(request.method());
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, id);
    let status = status_label(response.status());
    REQUESTS.with((route, method, status), |(requests, duration)| {
        requests.increment(1);
        duration.record(started.elapsed());
    });
    response
}

/// A request's labels: route, method and status.
type RequestLabels = (&'static str, &'static str, &'static str);

static REQUESTS: LazyLock<Handles<RequestLabels, Timed>> = LazyLock::new(|| {
    Handles::new(|(route, method, status)| {
        (
            metrics::counter!("flowgate_http_requests_total", "route" => route, "method" => method, "status" => status),
            metrics::histogram!("flowgate_http_request_duration_seconds", "route" => route),
        )
    })
});

/// Labels are static strings: no allocation on the hot path, and a bounded set.
fn route_label(path: Option<&MatchedPath>) -> &'static str {
    match path.map(MatchedPath::as_str) {
        Some("/graphql") => "/graphql",
        Some("/") => "/",
        Some("/healthz") => "/healthz",
        Some("/readyz") => "/readyz",
        Some("/metrics") => "/metrics",
        Some("/schema.graphql") => "/schema.graphql",
        Some(p) if p.starts_with("/graphiql/") => "/graphiql/{version}/{name}",
        _ => "unmatched",
    }
}

fn method_label(method: &axum::http::Method) -> &'static str {
    match *method {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_label(status: StatusCode) -> &'static str {
    const KNOWN: [&str; 18] = [
        "200", "101", "204", "304", "400", "401", "403", "404", "405", "406", "408", "413", "415",
        "429", "500", "502", "503", "504",
    ];
    KNOWN
        .iter()
        .find(|k| **k == status.as_str())
        .copied()
        .unwrap_or(if status.is_server_error() {
            "5xx"
        } else {
            "other"
        })
}

/// The request id `track` gave a request.
pub fn request_id(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// Operation names the metrics tell apart; the names first seen past them count as `other`.
const MAX_OPERATION_NAMES: usize = 200;

/// The label of an operation name: itself while the set of names seen is small, `other` past
/// it (a caller choosing names cannot grow the metrics without bound), `invalid` for what
/// GraphQL does not allow as a name or is over 64 characters.
fn operation_label(name: Option<&str>) -> String {
    static SEEN: LazyLock<Mutex<HashSet<Box<str>>>> = LazyLock::new(Default::default);
    let Some(name) = name else {
        return "anonymous".into();
    };
    if name.len() > 64 || !is_graphql_name(name) {
        return "invalid".into();
    }
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES && seen.insert(name.into()) {
        name.to_string()
    } else {
        "other".into()
    }
}

/// A GraphQL operation in the metrics: by name (a bounded set, see [`operation_label`]), type
/// and outcome.
pub fn record_operation(
    name: Option<&str>,
    kind: &'static str,
    response: &async_graphql::Response,
) {
    let name = operation_label(name);
    let outcome = match (
        response.errors.is_empty(),
        response.data == async_graphql::Value::Null,
    ) {
        (true, _) => "ok",
        (false, false) => "partial",
        (false, true) => "error",
    };
    metrics::counter!("flowgate_graphql_operations_total", "operation" => name, "type" => kind, "outcome" => outcome).increment(1);
}

fn is_graphql_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `GET /readyz`: per vendor, whether its circuit breaker lets calls through and how its last
/// call went; 503 while a breaker is open.
pub async fn ready(State(g): Shared) -> Response {
    let vendors = [
        ("appypie", g.appypie.health()),
        ("appmixer", g.appmixer.health()),
    ];
    let open = vendors.iter().any(|(_, h)| h.breaker_open);
    let body = serde_json::json!({
        "status": if open { "degraded" } else { "ready" },
        "vendors": vendors
            .iter()
            .map(|(name, h)| (name.to_string(), serde_json::json!({
                "breaker": if h.breaker_open { "open" } else { "closed" },
                "lastCall": h.last_call,
            })))
            .collect::<serde_json::Map<_, _>>(),
        "redis": g.store.as_ref().map_or("off", |s| if s.is_up() { "up" } else { "down" }),
    });
    let status = if open {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, axum::Json(body)).into_response()
}
