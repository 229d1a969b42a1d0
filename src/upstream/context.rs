//! The request an upstream call is made for: its id (sent upstream as `x-request-id`) and a
//! count of the calls it caused, for its log line. Set by the server around each execution.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

tokio::task_local! {
    static REQUEST: Arc<RequestContext>;
}

#[derive(Debug, Default)]
pub struct RequestContext {
    pub id: Arc<str>,
    calls: AtomicU32,
}

impl RequestContext {
    pub fn new(id: &str) -> Arc<Self> {
        Arc::new(RequestContext {
            id: Arc::from(id),
            calls: AtomicU32::new(0),
        })
    }

    /// Upstream calls made for this request so far.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Runs `work` as this request's.
    pub async fn scope<F: Future>(self: Arc<Self>, work: F) -> F::Output {
        REQUEST.scope(self, work).await
    }
}

/// Counts one upstream call for the running request; its id, if there is one.
pub(super) fn count_call() -> Option<Arc<str>> {
    REQUEST
        .try_with(|r| {
            r.calls.fetch_add(1, Ordering::Relaxed);
            r.id.clone()
        })
        .ok()
}
