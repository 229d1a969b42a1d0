//! The HTTP server: `POST /graphql`, `GET /graphql` (queries only), GraphiQL at `/`, `/healthz`.

mod documents;
mod limits;

pub use limits::Limits;

use crate::error::Code;
use crate::inflight::InFlight;
use crate::loaders::tick;
use crate::schema::{self, CredentialHeaders, FlowgateSchema, RequestData};
use crate::upstream::appmixer::{AppmixerClient, AppmixerConfig};
use crate::upstream::appypie::{AppyPieClient, AppyPieConfig};
use crate::upstream::{fingerprint, HttpConfig, HttpCore, Policy, SharingConfig, Token};
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql_axum::GraphQLRequest;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// Everything the gateway needs to start.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    pub appypie: AppyPieConfig,
    pub appmixer: AppmixerConfig,
    pub http: HttpConfig,
    pub headers: CredentialHeaders,
    /// Upstream calls in flight at once, per vendor.
    pub max_in_flight: usize,
    /// Timeouts, retries and circuit breaking of Appy Pie calls.
    pub appypie_policy: Policy,
    /// Timeouts, retries and circuit breaking of Appmixer calls.
    pub appmixer_policy: Policy,
    /// Headers GraphiQL opens with (the sandbox's demo credentials).
    pub graphiql_headers: Vec<(String, String)>,
    pub limits: Limits,
    /// How upstream reads are shared between requests (in-flight dedupe, catalogue cache).
    pub sharing: SharingConfig,
    /// Identical concurrent queries of the same caller share one execution.
    pub coalesce: bool,
    /// Parsed documents kept for reuse (0: parse every request).
    pub parsed_documents: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            appypie: AppyPieConfig::default(),
            appmixer: AppmixerConfig::default(),
            http: HttpConfig::default(),
            headers: CredentialHeaders {
                appmixer: "x-appmixer-token".into(),
                appypie: "x-appypie-token".into(),
            },
            max_in_flight: 128,
            appypie_policy: Policy::default(),
            appmixer_policy: Policy::default(),
            graphiql_headers: Vec::new(),
            limits: Limits::default(),
            sharing: SharingConfig::default(),
            coalesce: true,
            parsed_documents: 1024,
        }
    }
}

struct Gateway {
    schema: FlowgateSchema,
    appypie: AppyPieClient,
    appmixer: AppmixerClient,
    headers: Arc<CredentialHeaders>,
    graphiql: String,
    limits: Limits,
    coalesce: bool,
    executions: InFlight<Answer>,
    documents: documents::Documents,
}

type Shared = State<Arc<Gateway>>;

/// The gateway's router.
pub fn router(config: GatewayConfig) -> Result<Router, reqwest::Error> {
    let core = HttpCore::new(&config.http)?;
    let mut graphiql = GraphiQLSource::build()
        .endpoint("/graphql")
        .title("flowgate");
    for (name, value) in &config.graphiql_headers {
        graphiql = graphiql.header(name, value);
    }
    let limits = config.limits;
    let gateway = Gateway {
        schema: schema::build_limited(
            limits.max_depth,
            limits.max_complexity,
            limits.introspection,
        ),
        appypie: AppyPieClient::new(
            core.for_vendor(config.max_in_flight, config.appypie_policy, &config.sharing),
            config.appypie,
        ),
        appmixer: AppmixerClient::new(
            core.for_vendor(
                config.max_in_flight,
                config.appmixer_policy,
                &config.sharing,
            ),
            config.appmixer,
        ),
        headers: Arc::new(config.headers),
        graphiql: graphiql.finish(),
        limits: limits.clone(),
        coalesce: config.coalesce,
        executions: InFlight::default(),
        documents: documents::Documents::new(config.parsed_documents),
    };
    Ok(Router::new()
        .route("/", get(graphiql_page))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            limits.max_body_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits.max_body_bytes,
            declared_size,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(Arc::new(gateway)))
}

async fn graphiql_page(State(g): Shared) -> Html<String> {
    Html(g.graphiql.clone())
}

fn token(headers: &HeaderMap, name: &str) -> Option<Token> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    let value = value.strip_prefix("Bearer ").unwrap_or(value);
    (!value.is_empty()).then(|| Token::new(value))
}

/// A serialized GraphQL response.
#[derive(Clone)]
pub struct Answer(bytes::Bytes);

impl IntoResponse for Answer {
    fn into_response(self) -> axum::response::Response {
        let content_type = "application/graphql-response+json";
        ([(axum::http::header::CONTENT_TYPE, content_type)], self.0).into_response()
    }
}

impl From<async_graphql::Response> for Answer {
    fn from(response: async_graphql::Response) -> Self {
        let body = serde_json::to_vec(&response).unwrap_or_else(|_| {
            br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#
                .to_vec()
        });
        Answer(body.into())
    }
}

/// Checks a request's shape, then runs it; identical concurrent queries of the same caller
/// share one execution.
async fn execute(
    g: Arc<Gateway>,
    headers: &HeaderMap,
    mut request: async_graphql::Request,
    over_get: bool,
) -> axum::response::Response {
    let key = g
        .coalesce
        .then(|| operation_key(&request, headers, &g.headers));
    if let Some(running) = key.and_then(|k| g.executions.running(k)) {
        // Only queries that passed every check run shared, so the same request needs none.
        return finished(running.await);
    }
    let mut shared_key = None;
    if let Some(doc) = g.documents.parse(&request.query) {
        if let Some(why) = limits::check_shape(&doc, &g.limits) {
            return error_response(Code::QueryLimitExceeded, why).into_response();
        }
        let kind = operation_type(&doc, request.operation_name.as_deref());
        if over_get && kind == Some(OperationType::Mutation) {
            let message = "mutations must be sent with POST".into();
            return error_response(Code::BadUserInput, message).into_response();
        }
        shared_key = key.filter(|_| kind == Some(OperationType::Query));
        request.set_parsed_query(ExecutableDocument::clone(&doc));
    }
    let pie = token(headers, &g.headers.appypie);
    let mixer = token(headers, &g.headers.appmixer);
    let run = run(g.clone(), request, pie, mixer);
    match shared_key {
        Some(key) => finished(g.executions.join(key, run).await.0),
        None => run.await.into_response(),
    }
}

/// The answer of a shared execution; `None` if it panicked.
fn finished(answer: Option<Answer>) -> axum::response::Response {
    answer
        .unwrap_or_else(|| error_response(Code::Internal, "internal error".into()))
        .into_response()
}

/// The key under which identical operations of the same caller share one execution: the
/// document, operation name, variables and extensions, and fingerprints of both credentials.
fn operation_key(
    request: &async_graphql::Request,
    headers: &HeaderMap,
    names: &CredentialHeaders,
) -> u128 {
    let variables = serde_json::to_vec(&request.variables).unwrap_or_default();
    let extensions = serde_json::to_vec(&request.extensions).unwrap_or_default();
    let credential = |name: &str| headers.get(name).map(|v| v.as_bytes()).unwrap_or(b"");
    fingerprint(&[
        request.query.as_bytes(),
        request.operation_name.as_deref().unwrap_or("").as_bytes(),
        &variables,
        &extensions,
        credential(&names.appypie),
        credential(&names.appmixer),
    ])
}

/// The type of the operation a request selects, if it selects one.
fn operation_type(doc: &ExecutableDocument, wanted: Option<&str>) -> Option<OperationType> {
    match (&doc.operations, wanted) {
        (DocumentOperations::Single(op), None) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    }
}

/// Executes one request with fresh loaders for its credentials, under the deadline.
async fn run(
    g: Arc<Gateway>,
    request: async_graphql::Request,
    pie: Option<Token>,
    mixer: Option<Token>,
) -> Answer {
    let data = RequestData::new(
        g.appypie.clone(),
        g.appmixer.clone(),
        pie,
        mixer,
        g.headers.clone(),
    );
    let started = std::time::Instant::now();
    let operation = request.operation_name.clone().unwrap_or_default();
    let run = tick::drive(g.schema.execute(request.data(data)));
    let Ok(mut response) = tokio::time::timeout(g.limits.deadline, run).await else {
        tracing::warn!(%operation, "request deadline exceeded");
        return error_response(
            Code::UpstreamTimeout,
            "the request took longer than the gateway's deadline".into(),
        );
    };
    close_codes(&mut response);
    tracing::info!(
        %operation,
        errors = response.errors.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "graphql request"
    );
    for err in &response.errors {
        let code = err
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(|c| c.to_string());
        tracing::debug!(message = %err.message, code = ?code, "graphql error");
    }
    null_failed_fields(&mut response);
    response.into()
}

/// Refuses a body whose declared length is over the limit, before reading it.
async fn declared_size(
    State(max): State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        let message = format!("the request body is larger than {max} bytes");
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            error_response(Code::QueryLimitExceeded, message),
        )
            .into_response();
    }
    next.run(request).await
}

/// A request that is not a GraphQL request at all (bad JSON, wrong method, too large).
pub struct Rejected(async_graphql::ParseRequestError);

impl From<async_graphql::ParseRequestError> for Rejected {
    fn from(err: async_graphql::ParseRequestError) -> Self {
        Rejected(err)
    }
}

impl IntoResponse for Rejected {
    fn into_response(self) -> axum::response::Response {
        let message = self.0.to_string();
        let too_large = matches!(self.0, async_graphql::ParseRequestError::PayloadTooLarge)
            || message.contains("length limit");
        let (status, code) = if too_large {
            (StatusCode::PAYLOAD_TOO_LARGE, Code::QueryLimitExceeded)
        } else {
            (StatusCode::BAD_REQUEST, Code::BadUserInput)
        };
        (
            status,
            error_response(code, format!("invalid GraphQL request: {message}")),
        )
            .into_response()
    }
}

fn error_response(code: Code, message: String) -> Answer {
    let mut err = code.error(message).into_server_error(Default::default());
    err.locations.clear();
    async_graphql::Response::from_errors(vec![err]).into()
}

/// Gives every error a code from the closed list: async-graphql's own limit errors become
/// `QUERY_LIMIT_EXCEEDED`, its parse and validation errors `BAD_USER_INPUT`, and a resolver
/// error that carries no code (a bug of ours) `INTERNAL`.
fn close_codes(response: &mut async_graphql::Response) {
    for err in &mut response.errors {
        if err
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some())
        {
            continue;
        }
        let code = if err.message.starts_with("Query is nested too deep")
            || err.message.starts_with("Query is too complex")
        {
            Code::QueryLimitExceeded
        } else if err.path.is_empty() {
            Code::BadUserInput
        } else {
            tracing::error!(message = %err.message, "resolver error without a code");
            err.message = "internal error".into();
            Code::Internal
        };
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code.as_str());
    }
}

/// Puts `null` where a field failed: async-graphql leaves the key out, the GraphQL spec (and
/// codegen clients) expect it present.
fn null_failed_fields(response: &mut async_graphql::Response) {
    use async_graphql::Value;
    let paths: Vec<_> = response
        .errors
        .iter()
        .filter(|e| !e.path.is_empty())
        .map(|e| e.path.clone())
        .collect();
    if paths.is_empty() {
        return;
    }
    if response.data == Value::Null {
        response.data = Value::Object(Default::default());
    }
    for path in paths {
        put_null(&mut response.data, &path);
    }
}

fn put_null(value: &mut async_graphql::Value, path: &[async_graphql::PathSegment]) {
    use async_graphql::{Name, PathSegment, Value};
    match (path, value) {
        ([PathSegment::Field(f)], Value::Object(map)) => {
            map.entry(Name::new(f)).or_insert(Value::Null);
        }
        ([PathSegment::Field(f), rest @ ..], Value::Object(map)) => {
            if let Some(next) = map.get_mut(f.as_str()) {
                put_null(next, rest);
            }
        }
        ([PathSegment::Index(i), rest @ ..], Value::List(list)) => {
            if let Some(next) = list.get_mut(*i) {
                put_null(next, rest);
            }
        }
        _ => {}
    }
}

async fn graphql_post(
    State(g): Shared,
    headers: HeaderMap,
    request: GraphQLRequest<Rejected>,
) -> axum::response::Response {
    execute(g, &headers, request.into_inner(), false).await
}

/// GET carries queries only: a mutation over GET could be triggered by a link.
async fn graphql_get(
    State(g): Shared,
    headers: HeaderMap,
    request: GraphQLRequest<Rejected>,
) -> axum::response::Response {
    execute(g, &headers, request.into_inner(), true).await
}

/// A panic in a handler becomes an `INTERNAL` error, never a dropped connection.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        error_response(Code::Internal, "internal error".into()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{PathSegment, ServerError};

    fn code_of(err: ServerError) -> String {
        let mut response = async_graphql::Response::from_errors(vec![err]);
        close_codes(&mut response);
        let ext = response.errors[0].extensions.as_ref().unwrap();
        ext.get("code")
            .unwrap()
            .to_string()
            .trim_matches('"')
            .to_string()
    }

    #[test]
    fn every_error_gets_a_closed_list_code() {
        assert_eq!(
            code_of(ServerError::new("Query is nested too deep.", None)),
            "QUERY_LIMIT_EXCEEDED"
        );
        assert_eq!(
            code_of(ServerError::new("Query is too complex.", None)),
            "QUERY_LIMIT_EXCEEDED"
        );
        assert_eq!(
            code_of(ServerError::new("Unknown field", None)),
            "BAD_USER_INPUT"
        );
        let mut resolver = ServerError::new("Data `RequestData` does not exist.", None);
        resolver.path = vec![PathSegment::Field("viewer".into())];
        assert_eq!(code_of(resolver), "INTERNAL");
    }
}
