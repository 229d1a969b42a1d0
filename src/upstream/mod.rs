//! Typed REST clients for both vendors, over one shared HTTP core. This layer knows nothing of
//! GraphQL; the sandbox knows nothing of it.

pub mod appmixer;
pub mod appypie;
mod context;
mod error;
mod http;
mod policy;
mod share;
mod tcp;

pub use context::{batch_keys, continue_trace, in_batch, RequestContext, UpstreamCall};
pub use error::{ErrorKind, Provider, UpstreamError};
pub use http::{Call, HttpConfig, HttpCore, VendorHealth};
pub use policy::{Policy, RateLimit};
pub use share::{fingerprint, SharingConfig};

use std::fmt;
use std::sync::Arc;

/// A caller's upstream credential. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(Arc<str>);

impl Token {
    pub fn new(secret: impl Into<Arc<str>>) -> Self {
        Token(secret.into())
    }

    /// The secret itself, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Pages one walk through a paginated list may fetch, so an upstream that always answers a
/// full page cannot make it endless.
pub const MAX_PAGES: u32 = 200;
/// Items one walk through a paginated list may collect.
pub const MAX_ITEMS: usize = 20_000;

/// Why a walk through a paginated list stopped early: too long, or not advancing.
pub fn endless_list(provider: Provider, operation: &'static str, why: &str) -> UpstreamError {
    tracing::warn!(%provider, operation, why, "paginated list walk stopped");
    UpstreamError::new(provider, ErrorKind::TooLarge, operation)
}

/// One page of a paginated Appy Pie list.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub limit: u64,
    pub total: u64,
}

impl<T> Page<T> {
    /// True when this page is the last one.
    pub fn is_last(&self) -> bool {
        self.items.is_empty() || self.page.saturating_mul(self.limit) >= self.total
    }
}
