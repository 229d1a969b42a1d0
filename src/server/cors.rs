//! CORS, so web apps on other origins can call the gateway. Credentials travel in headers, never
//! cookies, so no origin is ever allowed credentials (`Access-Control-Allow-Credentials`).

use axum::http::{header, HeaderName, HeaderValue, Method};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Which origins may call the gateway from a browser.
#[derive(Clone, Debug)]
pub struct CorsConfig {
    /// Exact origins (`https://app.example.com`), origins with any port (`http://localhost:*`),
    /// or `*` alone for any origin. Empty: CORS off.
    pub origins: Vec<String>,
    /// How long a browser may keep a preflight's answer.
    pub max_age: Duration,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            origins: Vec::new(),
            max_age: Duration::from_secs(600),
        }
    }
}

impl CorsConfig {
    /// The origins of a local frontend, allowed in `--sandbox`.
    pub fn local() -> Vec<String> {
        vec!["http://localhost:*".into(), "http://127.0.0.1:*".into()]
    }

    /// Every problem with the configured origins.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.origins.iter().any(|o| o == "*") && self.origins.len() > 1 {
            problems.push("cors origin `*` allows every origin; list no other with it".into());
        }
        for origin in self.origins.iter().filter(|o| *o != "*") {
            let exact = origin.strip_suffix(":*").unwrap_or(origin);
            let parsed = url::Url::parse(exact);
            let is_origin = parsed.as_ref().is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.path() == "/"
                    && !exact.ends_with('/')
                    && u.query().is_none()
            });
            if !is_origin {
                problems.push(format!(
                    "cors origin `{origin}` is not an origin like https://app.example.com"
                ));
            }
        }
        problems
    }

    /// The layer, or none when no origin is allowed.
    pub fn layer(&self, credential_headers: [&str; 2]) -> Option<CorsLayer> {
        if self.origins.is_empty() {
            return None;
        }
        let allow = if self.origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            let origins = self.origins.clone();
            AllowOrigin::predicate(move |origin: &HeaderValue, _| {
                origin
                    .to_str()
                    .is_ok_and(|o| origins.iter().any(|allowed| matches(allowed, o)))
            })
        };
        let mut headers = vec![header::CONTENT_TYPE, header::ACCEPT, header::AUTHORIZATION];
        headers.extend(
            credential_headers
                .iter()
                .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok()),
        );
        Some(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers(headers)
                .max_age(self.max_age),
        )
    }
}

/// Whether `origin` is the allowed one, or has its scheme and host when it allows any port.
fn matches(allowed: &str, origin: &str) -> bool {
    match allowed.strip_suffix(":*") {
        Some(base) => origin
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())),
        None => allowed == origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_or_on_any_port() {
        assert!(matches("http://localhost:*", "http://localhost:5173"));
        assert!(!matches("http://localhost:*", "http://localhost"));
        assert!(!matches(
            "http://localhost:*",
            "http://localhost.evil.com:80"
        ));
        assert!(!matches("http://localhost:*", "http://localhost:80@evil"));
        assert!(matches(
            "https://app.example.com",
            "https://app.example.com"
        ));
        assert!(!matches(
            "https://app.example.com",
            "https://app.example.com.evil"
        ));
    }

    #[test]
    fn bad_origins_are_reported() {
        let config = |o: &[&str]| CorsConfig {
            origins: o.iter().map(|s| s.to_string()).collect(),
            ..CorsConfig::default()
        };
        assert!(config(&["*"]).problems().is_empty());
        assert!(config(&["https://a.example", "http://localhost:*"])
            .problems()
            .is_empty());
        assert_eq!(config(&["*", "https://a.example"]).problems().len(), 1);
        assert_eq!(
            config(&["https://a.example/", "a.example"])
                .problems()
                .len(),
            2
        );
    }
}
