//! Who a request runs for: the vendor tokens it sends (or the gateway holds for it), the
//! subject of its verified JWT, their fingerprint, and the request's id.

use super::{observe, Gateway};
use crate::identity::held::Held;
use crate::identity::{Mode, Refusal, Subject};
use crate::schema::{Access, CredentialHeaders, RequestData};
use crate::upstream::{fingerprint, Token};
use axum::http::HeaderMap;
use std::sync::Arc;

/// The token in header `name`, with or without `Bearer `.
pub(super) fn token(headers: &HeaderMap, name: &str) -> Option<Token> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    let value = value.strip_prefix("Bearer ").unwrap_or(value);
    (!value.is_empty()).then(|| Token::new(value))
}

/// The caller's tokens: Appy Pie's and Appmixer's.
fn tokens(headers: &HeaderMap, names: &CredentialHeaders) -> (Option<Token>, Option<Token>) {
    (
        token(headers, &names.appypie),
        token(headers, &names.appmixer),
    )
}

/// Whether `provider` refused the credential sent (an upstream 401).
fn vendor_refused(response: &async_graphql::Response, provider: crate::schema::Provider) -> bool {
    let name = match provider {
        crate::schema::Provider::AppyPie => "APPYPIE",
        crate::schema::Provider::Appmixer => "APPMIXER",
    };
    response.errors.iter().any(|e| {
        let Some(ext) = e.extensions.as_ref() else {
            return false;
        };
        let is = |key: &str, value: &str| {
            matches!(ext.get(key), Some(async_graphql::Value::String(v)) if v == value)
        };
        is("code", "UNAUTHENTICATED") && is("provider", name) && ext.get("upstreamStatus").is_some()
    })
}

fn wants_trace(headers: &HeaderMap) -> bool {
    headers
        .get("x-flowgate-trace")
        .is_some_and(|v| v.as_bytes() == b"1")
}

/// A fingerprint of the caller's credentials (both headers, as sent).
fn caller_key(headers: &HeaderMap, names: &CredentialHeaders) -> u128 {
    let credential = |name: &str| headers.get(name).map(|v| v.as_bytes()).unwrap_or(b"");
    fingerprint(&[credential(&names.appypie), credential(&names.appmixer)])
}

/// The bearer token of `Authorization`, if any.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?;
    strip_bearer(value.to_str().ok()?)
}

/// The token of an `Authorization` value: `Bearer <token>` (the scheme in any case).
pub(super) fn strip_bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Who a request runs for: the caller's tokens, their fingerprint, and the request's id.
#[derive(Clone)]
pub(super) struct Caller {
    pub(super) pie: Option<Token>,
    pub(super) mixer: Option<Token>,
    /// A fingerprint of the vendor tokens and, when verified, of the subject and its scopes.
    pub(super) key: u128,
    /// The verified caller, if any.
    pub(super) subject: Option<Arc<Subject>>,
    pub(super) request_id: String,
    /// The caller asked for the trace of upstream calls (`x-flowgate-trace: 1`).
    pub(super) traced: bool,
    /// The caller's W3C trace context.
    pub(super) traceparent: Option<String>,
}

impl Caller {
    /// The caller's tokens, as the shared store's keys are made of (never stored as such).
    pub(super) fn credential(&self) -> [&[u8]; 2] {
        [token_bytes(&self.pie), token_bytes(&self.mixer)]
    }

    pub(super) fn from_headers(headers: &HeaderMap, names: &CredentialHeaders) -> Caller {
        let (pie, mixer) = tokens(headers, names);
        Caller {
            pie,
            mixer,
            key: caller_key(headers, names),
            subject: None,
            request_id: observe::request_id(headers),
            traced: wants_trace(headers),
            traceparent: headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }
    }

    /// This caller with the subject of its bearer `token` (mode `jwt` or `optional`), or why
    /// the token is refused (the reason is logged, never the token).
    pub(super) async fn verified(
        mut self,
        g: &Gateway,
        token: Option<&str>,
    ) -> Result<Caller, Refusal> {
        let Some(verifier) = &g.verifier else {
            return Ok(self);
        };
        let subject = match token {
            Some(token) => verifier.verify(token).await,
            None if verifier.mode() == Mode::Jwt => Err(Refusal::Missing),
            None => return Ok(self),
        };
        let subject = subject.inspect_err(|refusal| {
            tracing::info!(request_id = %self.request_id, reason = %refusal, "bearer token refused");
        })?;
        if let Some(held) = &g.held {
            self.hold(held, &subject.id).await;
        }
        self.key = fingerprint(&[&self.key.to_le_bytes(), &subject.key().to_le_bytes()]);
        self.subject = Some(subject);
        Ok(self)
    }

    /// Sends the credentials held for `subject` upstream, whatever headers came.
    async fn hold(&mut self, held: &Held, subject: &str) {
        let tokens = held.tokens(subject).await;
        let tokens = tokens.inspect_err(|e| tracing::error!(error = %e, "held credentials"));
        let (pie, mixer) = match tokens {
            Ok(t) => (t.appypie.clone(), t.appmixer.clone()),
            Err(_) => (None, None),
        };
        (self.pie, self.mixer) = (pie, mixer);
        self.key = fingerprint(&[token_bytes(&self.pie), token_bytes(&self.mixer)]);
    }

    /// Tells the held credentials which of the tokens sent the vendors refused.
    pub(super) async fn refused(&self, g: &Gateway, response: &async_graphql::Response) {
        let (Some(held), Some(subject)) = (&g.held, &self.subject) else {
            return;
        };
        for (provider, sent) in [
            (crate::schema::Provider::AppyPie, &self.pie),
            (crate::schema::Provider::Appmixer, &self.mixer),
        ] {
            if let Some(sent) = sent.as_ref().filter(|_| vendor_refused(response, provider)) {
                held.refused(&subject.id, provider, sent).await;
            }
        }
    }

    /// Ready when its token expires (never without one).
    pub(super) fn expiry(&self) -> futures_util::future::BoxFuture<'static, ()> {
        use futures_util::FutureExt;
        match &self.subject {
            Some(subject) => tokio::time::sleep(subject.remaining()).boxed(),
            None => futures_util::future::pending().boxed(),
        }
    }

    /// What it may do.
    pub(super) fn access(&self, g: &Gateway) -> Access {
        Access {
            subject: self.subject.clone(),
            ..g.access.clone()
        }
    }

    /// The data its request runs with: fresh loaders bound to its credentials.
    pub(super) fn request_data(&self, g: &Gateway) -> RequestData {
        RequestData::new(
            g.appypie.clone(),
            g.appmixer.clone(),
            self.pie.clone(),
            self.mixer.clone(),
            g.headers.clone(),
            self.key,
            self.access(g),
        )
    }
}

fn token_bytes(token: &Option<Token>) -> &[u8] {
    token.as_ref().map_or(&b""[..], |t| t.expose().as_bytes())
}
