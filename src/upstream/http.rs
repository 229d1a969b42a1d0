//! The HTTP core both clients share: one pooled reqwest client, timeouts, and the mapping of
//! transport failures and error statuses to [`UpstreamError`].

use super::error::{ErrorKind, Provider, UpstreamError};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use url::Url;

/// `base` with `segments` appended as percent-encoded path segments.
pub fn url_with(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Settings of the shared HTTP client.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// Whole-request timeout (headers and body).
    pub timeout: Duration,
    pub pool_idle_per_host: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(15),
            pool_idle_per_host: 64,
        }
    }
}

/// A complete upstream response.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// One pooled HTTP client, shared by both vendors' clients.
#[derive(Clone, Debug)]
pub struct HttpCore {
    client: reqwest::Client,
    in_flight: Option<Arc<Semaphore>>,
}

impl HttpCore {
    pub fn new(config: &HttpConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .pool_max_idle_per_host(config.pool_idle_per_host)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("flowgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpCore {
            client,
            in_flight: None,
        })
    }

    /// The same connection pool, with at most `max` calls in flight through the copy.
    pub fn limited(&self, max: usize) -> HttpCore {
        HttpCore {
            client: self.client.clone(),
            in_flight: Some(Arc::new(Semaphore::new(max.max(1)))),
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request to `url` carrying one (sensitive) credential header, a query and a JSON body.
    pub fn request(
        &self,
        method: Method,
        url: Url,
        credential: (HeaderName, HeaderValue),
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> RequestBuilder {
        let (name, mut value) = credential;
        value.set_sensitive(true);
        let mut request = self.client.request(method, url).header(name, value);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request
    }

    /// Sends `request` and reads the whole body; transport failures become typed errors.
    pub async fn send(
        &self,
        provider: Provider,
        operation: &'static str,
        request: RequestBuilder,
    ) -> Result<Reply, UpstreamError> {
        let _permit = match &self.in_flight {
            Some(limit) => limit.clone().acquire_owned().await.ok(),
            None => None,
        };
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(provider, operation, &e, false))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(provider, operation, &e, true))?;
        tracing::debug!(provider = %provider, operation, status = status.as_u16(), bytes = body.len(), "upstream reply");
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

fn transport_error(
    provider: Provider,
    operation: &'static str,
    err: &reqwest::Error,
    reading_body: bool,
) -> UpstreamError {
    let kind = if err.is_timeout() {
        ErrorKind::Timeout
    } else if err.is_connect() {
        ErrorKind::Connect
    } else if reading_body {
        ErrorKind::TruncatedBody
    } else {
        ErrorKind::Disconnected
    };
    UpstreamError::new(provider, kind, operation)
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
        vendor_message: vendor_message.map(|m| m.chars().take(200).collect()),
        retry_after: retry_after(&reply.headers),
        ..UpstreamError::new(provider, ErrorKind::ServerError, operation)
    }
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
