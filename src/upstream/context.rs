//! The request an upstream call is made for: its id (sent upstream as `x-request-id`), a count
//! of the calls it caused, for its log line, and, when the caller asked, a trace of each call.
//! Set by the server around each execution.

use reqwest::header::HeaderValue;
use serde::Serialize;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static REQUEST: Arc<RequestContext>;
    /// How many loader keys the upstream calls being made answer at once.
    static BATCH: usize;
}

#[derive(Debug, Default)]
pub struct RequestContext {
    /// The request's id as the header it goes upstream in (none if it cannot be one).
    pub id: Option<HeaderValue>,
    /// The caller's W3C `traceparent`, passed on when no span of ours continues it.
    pub traceparent: Option<HeaderValue>,
    calls: AtomicU32,
    /// The vendors called, one bit each.
    vendors: AtomicU8,
    trace: Option<Mutex<Vec<UpstreamCall>>>,
}

/// One upstream call in a request's trace. Nothing in it names a caller: the route is the
/// template, never the ids in the path.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamCall {
    pub vendor: &'static str,
    /// Method and path template, e.g. `GET /connect/{id}/history`.
    pub route: &'static str,
    /// The HTTP status, or the failure (`timeout`, `connect`, ...).
    pub status: String,
    pub duration_ms: f64,
    /// 1 for the first try, 2 for the first retry...; 0 when no call of ours went out.
    pub attempt: u32,
    /// `network` (this request's own call), `batch` (its own call, answering several loader
    /// keys at once), `shared` (joined another request's call in flight) or `cache` (the
    /// catalogue cache answered).
    pub served: &'static str,
    /// With `batch`: how many keys the call answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<usize>,
}

impl RequestContext {
    /// A context for request `id`; `traced` keeps a trace of its upstream calls.
    pub fn new(id: &str, traced: bool, traceparent: Option<&str>) -> Arc<Self> {
        Arc::new(RequestContext {
            id: HeaderValue::from_str(id).ok(),
            traceparent: traceparent.and_then(|t| HeaderValue::from_str(t).ok()),
            calls: AtomicU32::new(0),
            vendors: AtomicU8::new(0),
            trace: traced.then(Mutex::default),
        })
    }

    /// Upstream calls made for this request so far.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The vendors this request called (or tried to).
    pub fn vendors(&self) -> Vec<super::Provider> {
        let called = self.vendors.load(Ordering::Relaxed);
        [super::Provider::AppyPie, super::Provider::Appmixer]
            .into_iter()
            .filter(|p| called & bit(*p) != 0)
            .collect()
    }

    /// The trace, if one was asked for.
    pub fn trace(&self) -> Option<Vec<UpstreamCall>> {
        let trace = self.trace.as_ref()?;
        Some(trace.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// Runs `work` as this request's.
    pub async fn scope<F: Future>(self: Arc<Self>, work: F) -> F::Output {
        let _running = Running::enter();
        REQUEST.scope(self, work).await
    }

    pub(super) fn record(&self, call: impl FnOnce() -> UpstreamCall) {
        if let Some(trace) = &self.trace {
            trace.lock().unwrap_or_else(|e| e.into_inner()).push(call());
        }
    }
}

/// Requests running now (inside their `scope`).
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Counts a request as running while it lives.
struct Running;

impl Running {
    fn enter() -> Running {
        RUNNING.fetch_add(1, Ordering::Relaxed);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether at most one request is running: the gateway has nothing else to do meanwhile.
pub(super) fn alone() -> bool {
    RUNNING.load(Ordering::Relaxed) <= 1
}

fn bit(provider: super::Provider) -> u8 {
    match provider {
        super::Provider::AppyPie => 1,
        super::Provider::Appmixer => 2,
    }
}

/// The running request, counting one more upstream call (to `provider`) for it.
pub(super) fn count_call(provider: super::Provider) -> Option<Arc<RequestContext>> {
    REQUEST
        .try_with(|r| {
            r.calls.fetch_add(1, Ordering::Relaxed);
            r.vendors.fetch_or(bit(provider), Ordering::Relaxed);
            r.clone()
        })
        .ok()
}

/// Makes `span` continue the trace of the caller's `traceparent`, when spans are exported.
pub fn continue_trace(span: &tracing::Span, headers: &reqwest::header::HeaderMap) {
    #[cfg(feature = "otel")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let extractor = opentelemetry_http::HeaderExtractor(headers);
        let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&extractor));
        let _ = span.set_parent(parent);
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, headers);
}

/// Writes the current span's `traceparent` into `headers`; false when no span of ours is
/// exported (then the caller's own `traceparent` is passed on as it came).
pub fn inject_trace(headers: &mut reqwest::header::HeaderMap) -> bool {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let context = tracing::Span::current().context();
        if !context.span().span_context().is_valid() {
            return false;
        }
        let mut injector = opentelemetry_http::HeaderInjector(headers);
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&context, &mut injector)
        });
        true
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = headers;
        false
    }
}

/// Runs `work`, whose upstream calls answer `keys` loader keys at once.
pub async fn in_batch<F: Future>(keys: usize, work: F) -> F::Output {
    BATCH.scope(keys, work).await
}

/// The loader keys the current upstream call answers (1 outside a batch).
pub fn batch_keys() -> usize {
    BATCH.try_with(|k| *k).unwrap_or(1)
}
