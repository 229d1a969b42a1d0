//! The closed list of GraphQL error codes, and the mapping of upstream failures onto it.

use crate::upstream::{ErrorKind, Provider, UpstreamError};
use async_graphql::{Error, ErrorExtensions};

/// Every `extensions.code` flowgate answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    InvalidUpstreamResponse,
    QueryLimitExceeded,
    PersistedQueryNotFound,
    PersistedQueryNotSupported,
    DocumentNotTrusted,
    Overloaded,
    Internal,
}

const ALL: [Code; 15] = [
    Code::Unauthenticated,
    Code::Forbidden,
    Code::NotFound,
    Code::BadUserInput,
    Code::RateLimited,
    Code::UpstreamError,
    Code::UpstreamTimeout,
    Code::UpstreamUnavailable,
    Code::InvalidUpstreamResponse,
    Code::QueryLimitExceeded,
    Code::PersistedQueryNotFound,
    Code::PersistedQueryNotSupported,
    Code::DocumentNotTrusted,
    Code::Overloaded,
    Code::Internal,
];

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::RateLimited => "RATE_LIMITED",
            Code::UpstreamError => "UPSTREAM_ERROR",
            Code::UpstreamTimeout => "UPSTREAM_TIMEOUT",
            Code::UpstreamUnavailable => "UPSTREAM_UNAVAILABLE",
            Code::InvalidUpstreamResponse => "INVALID_UPSTREAM_RESPONSE",
            Code::QueryLimitExceeded => "QUERY_LIMIT_EXCEEDED",
            Code::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Code::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            Code::DocumentNotTrusted => "DOCUMENT_NOT_TRUSTED",
            Code::Overloaded => "OVERLOADED",
            Code::Internal => "INTERNAL",
        }
    }

    /// The code spelled `name`, if it is one of ours.
    pub fn parse(name: &str) -> Option<Code> {
        ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// A request error (no path, no location) with this code and a message of ours.
    pub fn request_error(self, message: impl Into<String>) -> async_graphql::ServerError {
        let mut error = self.error(message).into_server_error(Default::default());
        error.locations.clear();
        error
    }

    /// An error with this code and a message of ours.
    pub fn error(self, message: impl Into<String>) -> Error {
        Error::new(message).extend_with(|_, e| e.set("code", self.as_str()))
    }
}

fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::AppyPie => "APPYPIE",
        Provider::Appmixer => "APPMIXER",
    }
}

fn code_for(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::Unauthorized => Code::Unauthenticated,
        ErrorKind::Forbidden => Code::Forbidden,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::BadRequest => Code::BadUserInput,
        ErrorKind::RateLimited => Code::RateLimited,
        ErrorKind::ServerError => Code::UpstreamError,
        ErrorKind::Timeout => Code::UpstreamTimeout,
        ErrorKind::Connect | ErrorKind::Disconnected | ErrorKind::CircuitOpen => {
            Code::UpstreamUnavailable
        }
        ErrorKind::TruncatedBody | ErrorKind::InvalidResponse | ErrorKind::TooLarge => {
            Code::InvalidUpstreamResponse
        }
    }
}

/// A GraphQL error for an upstream failure: a safe message and the documented extensions.
pub fn upstream(err: &UpstreamError) -> Error {
    let code = code_for(err.kind);
    let mut message = err.to_string();
    if code == Code::BadUserInput {
        if let Some(vendor) = &err.vendor_message {
            message = format!("{message}: {vendor}");
        }
    }
    let err = err.clone();
    Error::new(message).extend_with(move |_, e| {
        e.set("code", code.as_str());
        e.set("provider", provider_name(err.provider));
        if let Some(status) = err.status {
            e.set("upstreamStatus", status);
        }
        if let Some(vendor_code) = err.vendor_code {
            e.set("vendorCode", vendor_code);
        }
        if let Some(retry) = err.retry_after {
            e.set("retryAfter", retry.as_secs());
        }
        if err.outcome_unknown {
            e.set("outcomeUnknown", true);
        }
    })
}

/// `.gql()` turns an upstream result into a GraphQL one with the right extensions (a bare `?`
/// would keep only the message).
pub trait Gql<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> Gql<T> for Result<T, UpstreamError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| upstream(&e))
    }
}

/// The error for a field whose provider credential the request did not carry.
pub fn missing_credential(provider: Provider, header: &str) -> Error {
    Error::new(format!(
        "{provider} credential missing: send it in the {header} header"
    ))
    .extend_with(move |_, e| {
        e.set("code", Code::Unauthenticated.as_str());
        e.set("provider", provider_name(provider));
    })
}

/// The error for a field whose provider credential the gateway holds none of for the caller.
pub fn not_held(provider: Provider) -> Error {
    Error::new(format!(
        "the gateway holds no {provider} credential for this caller"
    ))
    .extend_with(move |_, e| {
        e.set("code", Code::Unauthenticated.as_str());
        e.set("provider", provider_name(provider));
    })
}
