use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// The vendor behind an upstream API, and behind an object of the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, async_graphql::Enum)]
pub enum Provider {
    /// Appy Pie Connect (connects, popular matches, connected accounts).
    #[graphql(name = "APPYPIE")]
    AppyPie,
    /// Appmixer (flows, components, accounts).
    Appmixer,
}

impl Provider {
    /// The vendor as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Provider::AppyPie => "appypie",
            Provider::Appmixer => "appmixer",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::AppyPie => "Appy Pie",
            Provider::Appmixer => "Appmixer",
        })
    }
}

/// What went wrong, in terms a caller can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 401, or Appy Pie codes 2032/2036/2038: the credential is missing, wrong or expired.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 404, or 410.
    NotFound,
    /// Another 4xx: the request was refused as invalid.
    BadRequest,
    /// 429.
    RateLimited,
    /// 5xx.
    ServerError,
    /// No answer within the configured time.
    Timeout,
    /// The connection could not be made.
    Connect,
    /// The connection closed before a response arrived.
    Disconnected,
    /// The response started but its body was cut off.
    TruncatedBody,
    /// A complete response that is not what the contract promises (bad JSON, wrong shape).
    InvalidResponse,
    /// A response body past the vendor's size limit (read no further).
    TooLarge,
    /// Not sent: the vendor's circuit breaker is open after repeated failures.
    CircuitOpen,
}

/// A failed upstream call. It never carries the caller's token nor a raw upstream body:
/// `vendor_message` is the vendor's own short message, cut to 200 characters.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{provider}: {summary}", summary = self.summary())]
pub struct UpstreamError {
    pub provider: Provider,
    pub kind: ErrorKind,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The vendor's application code (Appy Pie 2032–2041), when it sent one.
    pub vendor_code: Option<i64>,
    pub vendor_message: Option<String>,
    /// From `Retry-After` (seconds), when present.
    pub retry_after: Option<Duration>,
    /// Which operation failed, e.g. `GET /flows/{id}`.
    pub operation: &'static str,
    /// A write that may or may not have been applied (it failed after being sent).
    pub outcome_unknown: bool,
}

impl ErrorKind {
    /// The failure as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Disconnected => "disconnected",
            ErrorKind::TruncatedBody => "truncated_body",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::CircuitOpen => "circuit_open",
        }
    }
}

impl UpstreamError {
    pub fn new(provider: Provider, kind: ErrorKind, operation: &'static str) -> Self {
        UpstreamError {
            provider,
            kind,
            status: None,
            vendor_code: None,
            vendor_message: None,
            retry_after: None,
            operation,
            outcome_unknown: false,
        }
    }

    /// The kind an HTTP status (and an Appy Pie code) stands for.
    pub fn kind_for(status: u16, vendor_code: Option<i64>) -> ErrorKind {
        match (status, vendor_code) {
            (_, Some(2032 | 2036 | 2038)) | (401, _) => ErrorKind::Unauthorized,
            (403, _) => ErrorKind::Forbidden,
            (404 | 410, _) => ErrorKind::NotFound,
            (429, _) => ErrorKind::RateLimited,
            (500.., _) => ErrorKind::ServerError,
            // Redirects are never followed: the contract has none, and one could lead the
            // caller's token to another host.
            (300..=399, _) => ErrorKind::InvalidResponse,
            _ => ErrorKind::BadRequest,
        }
    }

    fn summary(&self) -> String {
        let what = match self.kind {
            ErrorKind::Unauthorized => "credential refused",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not found",
            ErrorKind::BadRequest => "request refused",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::ServerError => "server error",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Connect => "could not connect",
            ErrorKind::Disconnected => "connection closed before a response",
            ErrorKind::TruncatedBody => "response body cut off",
            ErrorKind::InvalidResponse => "response does not match the contract",
            ErrorKind::TooLarge => "response body larger than the gateway's limit",
            ErrorKind::CircuitOpen => "not attempted: the upstream is failing, retry later",
        };
        let what = if self.outcome_unknown {
            format!("{what}; the write may or may not have been applied")
        } else {
            what.to_string()
        };
        match self.status {
            Some(status) => format!("{} {what} (HTTP {status})", self.operation),
            None => format!("{} {what}", self.operation),
        }
    }
}
