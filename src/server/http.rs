//! GraphQL over HTTP, as its specification says: reading a request from a GET's URL or a POST's
//! JSON body, choosing the response's media type from `Accept`, and the status codes.

use crate::error::Code;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// `application/graphql-response+json`: the status code tells request errors apart.
    GraphqlResponse,
    /// `application/json`: every well-formed request is answered 200.
    Json,
}

impl Media {
    /// The media type the caller prefers; `None` when it accepts neither (406). Without an
    /// `Accept` header, or with `*/*`, the answer is `application/json`, which every client reads.
    pub fn negotiate(headers: &HeaderMap) -> Option<Media> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Some(Media::Json);
        };
        if accept.trim().is_empty() {
            return Some(Media::Json);
        }
        let (mut graphql, mut json) = (0.0f32, 0.0f32);
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let kind = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match kind.as_str() {
                GRAPHQL_RESPONSE => graphql = graphql.max(q),
                JSON | "application/*" | "*/*" => json = json.max(q),
                _ => {}
            }
        }
        if graphql > 0.0 && graphql >= json {
            Some(Media::GraphqlResponse)
        } else if json > 0.0 {
            Some(Media::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponse => GRAPHQL_RESPONSE,
            Media::Json => JSON,
        }
    }
}

/// A serialized GraphQL response and the status it is sent with.
#[derive(Clone, Debug)]
pub struct Answer {
    body: Bytes,
    /// The status under `application/graphql-response+json`.
    status: StatusCode,
    /// The request was not a well-formed GraphQL-over-HTTP request: the status holds for
    /// `application/json` too.
    malformed: bool,
    /// A header the status calls for (`Allow`, `WWW-Authenticate`).
    header: Option<(header::HeaderName, HeaderValue)>,
}

impl Answer {
    /// The reply to a request that is not a well-formed GraphQL-over-HTTP request.
    pub fn refused(status: StatusCode, code: Code, message: impl Into<String>) -> Answer {
        let mut answer = Answer::request_error(code, message);
        answer.status = status;
        answer.malformed = true;
        answer
    }

    /// A request error of ours (a limit, an unknown persisted query): no `data`, HTTP 400
    /// under `application/graphql-response+json`.
    pub fn request_error(code: Code, message: impl Into<String>) -> Answer {
        let error = serde_json::json!({
            "message": message.into(),
            "extensions": { "code": code.as_str() },
        });
        Answer {
            body: serde_json::to_vec(&serde_json::json!({ "errors": [error] }))
                .unwrap_or_default()
                .into(),
            status: status_of(code),
            malformed: false,
            header: None,
        }
    }

    /// A mutation sent over GET.
    pub fn post_only() -> Answer {
        let mut answer = Answer::refused(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::BadUserInput,
            "mutations must be sent with POST",
        );
        answer.header = Some((header::ALLOW, HeaderValue::from_static("POST")));
        answer
    }

    /// A request refused for its bearer token: 401 under `application/graphql-response+json`,
    /// `UNAUTHENTICATED` always, and the challenge (RFC 6750) in `WWW-Authenticate`.
    pub fn unauthenticated(refusal: crate::identity::Refusal) -> Answer {
        let mut answer = Answer::request_error(Code::Unauthenticated, refusal.to_string());
        answer.header = Some((header::WWW_AUTHENTICATE, challenge(refusal)));
        answer
    }

    /// The HTTP response in the negotiated media type.
    pub fn send(self, media: Media) -> Response {
        let status = match media {
            Media::Json if !self.malformed => StatusCode::OK,
            _ => self.status,
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, media.content_type())],
            self.body,
        )
            .into_response();
        if let Some((name, value)) = self.header {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// The `WWW-Authenticate` challenge for a refused (or missing) token.
pub fn challenge(refusal: crate::identity::Refusal) -> HeaderValue {
    let value =
        format!(r#"Bearer realm="flowgate", error="invalid_token", error_description="{refusal}""#);
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("Bearer"))
}

/// An execution's response. One with errors and no data is a request error: it is sent without
/// a `data` entry, with a 4xx (or, for a deadline or a bug, 5xx) status.
impl From<async_graphql::Response> for Answer {
    fn from(response: async_graphql::Response) -> Self {
        let request_error = response.data == async_graphql::Value::Null
            && !response.errors.is_empty()
            && response.errors.iter().all(|e| e.path.is_empty());
        let status = if request_error {
            response.errors[0]
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .and_then(|c| match c {
                    async_graphql::Value::String(s) => Code::parse(s),
                    _ => None,
                })
                .map_or(StatusCode::BAD_REQUEST, status_of)
        } else {
            StatusCode::OK
        };
        let body = if request_error {
            serde_json::to_vec(&serde_json::json!({ "errors": response.errors }))
        } else {
            serde_json::to_vec(&response)
        };
        let body = body.unwrap_or_else(|_| {
            br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#
                .to_vec()
        });
        Answer {
            body: body.into(),
            status,
            malformed: false,
            header: None,
        }
    }
}

/// The status of a request that failed as a whole with this code.
fn status_of(code: Code) -> StatusCode {
    match code {
        Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Code::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        Code::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        Code::UpstreamUnavailable | Code::UpstreamError => StatusCode::BAD_GATEWAY,
        Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Code::PersistedQueryNotFound => StatusCode::NOT_FOUND,
        Code::DocumentNotTrusted | Code::Forbidden => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The parameters of one GraphQL request, before its document is known.
#[derive(Default, Debug)]
pub struct Params {
    pub query: Option<String>,
    pub operation_name: Option<String>,
    pub variables: Option<Map<String, Value>>,
    pub extensions: Option<Map<String, Value>>,
    /// A persisted document's id sent outside `extensions` (`documentId`, Relay's `doc_id`).
    pub document_id: Option<String>,
}

impl Params {
    /// The parameters of a GET: `query`, `operationName`, and `variables` and `extensions` as
    /// JSON strings.
    pub fn from_url(query: Option<&str>) -> Result<Params, Answer> {
        let mut fields = Map::new();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let value = match name.as_ref() {
                "variables" | "extensions" => serde_json::from_str(&value)
                    .map_err(|e| bad_request(format!("`{name}` in the URL is not JSON: {e}")))?,
                _ => Value::String(value.into_owned()),
            };
            fields.insert(name.into_owned(), value);
        }
        Params::from_fields(fields)
    }

    /// The parameters of a POST, whose body must be a JSON object.
    pub fn from_body(headers: &HeaderMap, body: &[u8]) -> Result<Params, Answer> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        match content_type.as_deref() {
            Some(JSON) | Some(GRAPHQL_RESPONSE) => {}
            Some(other) => {
                return Err(Answer::refused(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Code::BadUserInput,
                    format!("a POST must be sent as application/json, not {other}"),
                ))
            }
            None => {
                return Err(Answer::refused(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Code::BadUserInput,
                    "a POST needs the header Content-Type: application/json",
                ))
            }
        }
        match serde_json::from_slice(body) {
            Ok(Value::Object(fields)) => Params::from_fields(fields),
            Ok(Value::Array(_)) => Err(bad_request("batched requests are not supported")),
            Ok(_) => Err(bad_request("the body must be a JSON object")),
            Err(e) => Err(bad_request(format!("the body is not JSON: {e}"))),
        }
    }

    fn from_fields(mut fields: Map<String, Value>) -> Result<Params, Answer> {
        let mut take = |name: &str| fields.remove(name).filter(|v| !v.is_null());
        let string = |name: &str, v: Option<Value>| match v {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad_request(format!("`{name}` must be a string"))),
        };
        let object = |name: &str, v: Option<Value>| match v {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(bad_request(format!("`{name}` must be an object"))),
        };
        let params = Params {
            query: string("query", take("query"))?,
            operation_name: string("operationName", take("operationName"))?,
            variables: object("variables", take("variables"))?,
            extensions: object("extensions", take("extensions"))?,
            document_id: string("documentId", take("documentId").or_else(|| take("doc_id")))?,
        };
        if super::limits::params_too_deep([&params.variables, &params.extensions]) {
            let max = super::limits::MAX_NESTING;
            return Err(Answer::refused(
                StatusCode::BAD_REQUEST,
                Code::QueryLimitExceeded,
                format!("`variables` or `extensions` nest more than {max} deep"),
            ));
        }
        let persisted = params.document_id.is_some()
            || params
                .extensions
                .as_ref()
                .is_some_and(|e| e.contains_key("persistedQuery"));
        if params.query.is_none() && !persisted {
            return Err(bad_request("the request has no `query`"));
        }
        Ok(params)
    }

    /// The async-graphql request, once the document is known.
    pub fn into_request(self, query: String) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query);
        request.operation_name = self.operation_name;
        if let Some(variables) = self.variables {
            request.variables = async_graphql::Variables::from_json(Value::Object(variables));
        }
        for (name, value) in self.extensions.unwrap_or_default() {
            if let Ok(value) = async_graphql::Value::from_json(value) {
                request.extensions.insert(name, value);
            }
        }
        request
    }
}

fn bad_request(message: impl Into<String>) -> Answer {
    Answer::refused(
        StatusCode::BAD_REQUEST,
        Code::BadUserInput,
        format!("invalid GraphQL request: {}", message.into()),
    )
}

/// Reads the parameters of a GET or POST; other methods get 405.
pub fn params(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Params, Answer> {
    match *method {
        Method::GET => Params::from_url(query),
        Method::POST => Params::from_body(headers, body),
        _ => {
            let mut answer = Answer::refused(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::BadUserInput,
                "GraphQL is served over GET and POST",
            );
            answer.header = Some((header::ALLOW, HeaderValue::from_static("GET, POST")));
            Err(answer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Media> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        Media::negotiate(&headers)
    }

    #[test]
    fn accept_picks_the_media_type() {
        assert_eq!(Media::negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(accept("*/*"), Some(Media::Json));
        assert_eq!(accept("application/json"), Some(Media::Json));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, application/json"),
            Some(Media::Json)
        );
        assert_eq!(accept("text/html"), None);
        assert_eq!(accept("application/json;q=0"), None);
    }

    #[test]
    fn parameters_have_their_types() {
        let ok = Params::from_url(Some("query=%7Bx%7D&variables=%7B%22a%22%3A1%7D")).unwrap();
        assert_eq!(ok.query.as_deref(), Some("{x}"));
        assert_eq!(ok.variables.unwrap()["a"], 1);
        assert!(Params::from_url(Some("variables=nope&query=%7Bx%7D")).is_err());
        assert!(Params::from_url(None).is_err());
        let body = |b: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
            Params::from_body(&headers, b.as_bytes())
        };
        assert!(body(r#"{"query":"{x}","variables":null,"operationName":null}"#).is_ok());
        assert!(body(r#"{"query":1}"#).is_err());
        assert!(body(r#"{"query":"{x}","variables":[]}"#).is_err());
        assert!(body(r#"[{"query":"{x}"}]"#).is_err());
        assert!(body(r#"{"extensions":{"persistedQuery":{"version":1}}}"#).is_ok());
        assert!(Params::from_body(&HeaderMap::new(), br#"{"query":"{x}"}"#).is_err());
    }
}
