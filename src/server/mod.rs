//! The HTTP server: GraphQL over HTTP at `/graphql` (GET for queries, POST), GraphiQL at `/`,
//! the SDL at `/schema.graphql`, `/healthz`.

mod audit;
mod caller;
mod coalesce;
mod cors;
mod documents;
mod graphiql;
mod http;
mod limits;
mod listen;
mod observe;
mod persisted;
mod subscriptions;
mod websocket;

pub use cors::CorsConfig;
pub use limits::Limits;
pub use listen::{serve, ConnectionTimeouts};
pub use persisted::{sha256_hex, PersistedConfig};
pub use subscriptions::SubscriptionConfig;

use crate::error::Code;
use crate::identity::held::Held;
use crate::identity::store::CredentialStore;
use crate::identity::{AuthConfig, Mode, Verifier};
use crate::loaders::tick;
use crate::loaders::watch::Watches;
use crate::schema::{self, Access, CredentialHeaders, FlowgateSchema};
use crate::store::{RedisConfig, Shared as SharedStore};
use crate::upstream::appmixer::{AppmixerClient, AppmixerConfig};
use crate::upstream::appypie::{AppyPieClient, AppyPieConfig};
use crate::upstream::{
    continue_trace, fingerprint, HttpConfig, HttpCore, Policy, RequestContext, SharingConfig,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use caller::{bearer, token, Caller};
use http::{Answer, Media, Params};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

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
    /// Under load, when queries repeat, how long a shared execution waits for identical
    /// queries to join it before it starts (zero: never).
    pub coalesce_window: Duration,
    /// MiB of parsed documents kept for reuse (0: parse every request).
    pub document_cache_mib: u64,
    /// Automatic persisted queries and trusted documents.
    pub persisted: PersistedConfig,
    /// Origins browsers may call from.
    pub cors: CorsConfig,
    /// Callers may ask for `extensions.upstreamCalls` with `x-flowgate-trace: 1`.
    pub allow_trace: bool,
    /// Polling and limits of subscriptions.
    pub subscriptions: SubscriptionConfig,
    /// The Redis the replicas share, if any.
    pub redis: Option<RedisConfig>,
    /// How callers are identified.
    pub auth: AuthConfig,
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
            coalesce_window: Duration::from_millis(2),
            document_cache_mib: 16,
            persisted: PersistedConfig::default(),
            cors: CorsConfig::default(),
            allow_trace: false,
            subscriptions: SubscriptionConfig::default(),
            redis: None,
            auth: AuthConfig::default(),
        }
    }
}

struct Gateway {
    schema: FlowgateSchema,
    appypie: AppyPieClient,
    appmixer: AppmixerClient,
    headers: Arc<CredentialHeaders>,
    graphiql: Html<String>,
    limits: Limits,
    /// One per request `/graphql` may serve at once; a request finding none is shed.
    slots: Arc<tokio::sync::Semaphore>,
    coalesce: bool,
    coalescing: coalesce::Coalescing,
    documents: documents::Documents,
    persisted: persisted::Persisted,
    sdl: String,
    subscriptions: SubscriptionConfig,
    allow_trace: bool,
    /// The store replicas share, if any.
    store: Option<SharedStore>,
    /// WebSockets open, capped in total and per client.
    sockets: Arc<websocket::Sockets>,
    /// `Vary` of every `/graphql` answer: what it was computed from besides the URL.
    vary: axum::http::HeaderValue,
    /// Headers that carry a caller's credential: an answer to a request with any of them is
    /// private.
    credential_headers: Vec<axum::http::HeaderName>,
    /// Verifies callers' JWTs; none in mode `forward`.
    verifier: Option<Arc<Verifier>>,
    /// Vendor credentials held per subject (`auth.credentials = "held"`).
    held: Option<Arc<Held>>,
    /// What callers may do, but who they are.
    access: Access,
}

type Shared = State<Arc<Gateway>>;

/// The gateway's router, or why the configuration cannot start one.
pub fn router(mut config: GatewayConfig) -> Result<Router, std::io::Error> {
    let store = config.redis.clone().map(SharedStore::new).transpose();
    let store = store.map_err(std::io::Error::other)?;
    config.sharing.shared = store.clone();
    let persisted = persisted::Persisted::new(&config.persisted, store.clone());
    let mut problems = config.cors.problems();
    problems.extend(persisted.as_ref().err().cloned());
    if !problems.is_empty() {
        return Err(std::io::Error::other(problems.join("; ")));
    }
    let persisted = persisted.map_err(std::io::Error::other)?;
    let core = HttpCore::new(&config.http);
    observe::metrics();
    let cors = config.cors.layer([
        config.headers.appmixer.as_str(),
        config.headers.appypie.as_str(),
    ]);
    let verifier = (config.auth.mode != Mode::Forward).then(|| Verifier::new(config.auth.clone()));
    let limits = config.limits;
    let appypie = AppyPieClient::new(
        core.for_vendor(config.max_in_flight, config.appypie_policy, &config.sharing),
        config.appypie,
    );
    let appmixer = AppmixerClient::new(
        core.for_vendor(
            config.max_in_flight,
            config.appmixer_policy,
            &config.sharing,
        ),
        config.appmixer,
    );
    let held = match &config.auth.store {
        Some(store) => {
            let store = CredentialStore::open(store).map_err(std::io::Error::other)?;
            let sign_in = crate::loaders::SignIns::new(appypie.clone(), appmixer.clone());
            Some(Held::new(store, sign_in, config.auth.held.clone()))
        }
        None => None,
    };
    let gateway = Gateway {
        schema: schema::build_limited(
            limits.max_depth,
            limits.max_complexity,
            limits.introspection,
            Arc::new(Watches::new(
                config.subscriptions.poll_interval,
                config.subscriptions.max_per_caller,
            )),
        ),
        appypie,
        appmixer,
        vary: vary(&config.headers),
        credential_headers: [&config.headers.appmixer, &config.headers.appypie]
            .into_iter()
            .filter_map(|name| name.parse().ok())
            .chain([
                axum::http::header::AUTHORIZATION,
                axum::http::header::COOKIE,
            ])
            .collect(),
        headers: Arc::new(config.headers),
        graphiql: graphiql::page(&config.graphiql_headers),
        slots: Arc::new(tokio::sync::Semaphore::new(
            limits.max_concurrent_requests.max(1),
        )),
        limits: limits.clone(),
        coalesce: config.coalesce,
        coalescing: coalesce::Coalescing::new(config.coalesce_window),
        documents: documents::Documents::new(config.document_cache_mib, limits.clone()),
        persisted,
        sdl: schema::sdl(),
        sockets: Arc::new(websocket::Sockets::new(
            config.subscriptions.max_sockets,
            config.subscriptions.max_sockets_per_client,
        )),
        subscriptions: config.subscriptions,
        allow_trace: config.allow_trace,
        store,
        access: Access {
            enforced: verifier.is_some(),
            subject: None,
            write_scope: config.auth.write_scope.as_str().into(),
            admin_scope: config.auth.admin_scope.as_str().into(),
            held: held.clone(),
        },
        verifier,
        held,
    };
    let router = Router::new()
        .route("/", get(graphiql_page))
        .route("/graphql", any(graphql))
        .route("/schema.graphql", get(schema_file))
        .route("/graphiql/{version}/{name}", get(graphiql::asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(observe::ready))
        .route("/metrics", get(observe::render))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(axum::middleware::from_fn(observe::track))
        .with_state(Arc::new(gateway));
    Ok(match cors {
        Some(cors) => router.layer(cors),
        None => router,
    })
}

/// The SDL, as `schema.graphql` holds it; not found when introspection is off.
async fn schema_file(State(g): Shared) -> Response {
    if !g.limits.introspection {
        return StatusCode::NOT_FOUND.into_response();
    }
    let content_type = "text/plain; charset=utf-8";
    (
        [(axum::http::header::CONTENT_TYPE, content_type)],
        g.sdl.clone(),
    )
        .into_response()
}

async fn graphiql_page(State(g): Shared) -> Html<String> {
    g.graphiql.clone()
}

/// The `Vary` of `/graphql`: the media type and every credential header.
fn vary(names: &CredentialHeaders) -> axum::http::HeaderValue {
    let names = format!(
        "accept, authorization, {}, {}",
        names.appmixer, names.appypie
    );
    axum::http::HeaderValue::from_str(&names).unwrap_or(axum::http::HeaderValue::from_static("*"))
}

/// Answers `/graphql`. An answer computed with a caller's credential is never stored by a
/// shared cache (`Cache-Control: private, no-store`), and every answer varies on the credential
/// headers, so a cached anonymous answer is never served to a caller with credentials.
async fn graphql(State(g): Shared, request: axum::extract::Request) -> Response {
    let headers = request.headers();
    let private = g.credential_headers.iter().any(|n| headers.contains_key(n));
    let vary = g.vary.clone();
    let mut response = answer(g, request).await;
    let headers = response.headers_mut();
    headers.append(axum::http::header::VARY, vary);
    if private {
        let value = axum::http::HeaderValue::from_static("private, no-store");
        headers.insert(axum::http::header::CACHE_CONTROL, value);
    }
    response
}

/// Reads the request (GET or POST), runs it, and replies in the media type the caller accepts.
async fn answer(g: Arc<Gateway>, request: axum::extract::Request) -> Response {
    let Ok(_slot) = g.slots.clone().try_acquire_owned() else {
        return overloaded(request.headers());
    };
    let (parts, body) = request.into_parts();
    if parts.headers.contains_key(axum::http::header::UPGRADE) {
        return websocket::upgrade(g, parts).await;
    }
    let events = subscriptions::wants_events(&parts.headers);
    let media = Media::negotiate(&parts.headers);
    let Some(media) = media.or(events.then_some(Media::Json)) else {
        let message = "accept application/graphql-response+json or application/json";
        return Answer::refused(StatusCode::NOT_ACCEPTABLE, Code::BadUserInput, message)
            .send(Media::Json);
    };
    if declared_over(&parts.headers, g.limits.max_body_bytes) {
        return too_large(g.limits.max_body_bytes).send(media);
    }
    let read = axum::body::to_bytes(body, g.limits.max_body_bytes);
    // The whole body must arrive within the timeout, however it is paced.
    let body = match tokio::time::timeout(g.limits.body_timeout, read).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) if e.to_string().contains("length limit") => {
            return too_large(g.limits.max_body_bytes).send(media)
        }
        _ => {
            let message = "the request body did not arrive in time";
            return Answer::refused(StatusCode::REQUEST_TIMEOUT, Code::BadUserInput, message)
                .send(media);
        }
    };
    let over_get = parts.method == Method::GET;
    let params = http::params(&parts.method, &parts.headers, parts.uri.query(), &body);
    match params {
        Ok(params) if events => subscriptions::events(g, &parts.headers, params, over_get).await,
        Ok(params) => execute(g, &parts.headers, params, over_get)
            .await
            .send(media),
        Err(refused) => refused.send(media),
    }
}

fn too_large(max: usize) -> Answer {
    let message = format!("the request body is larger than {max} bytes");
    Answer::refused(
        StatusCode::PAYLOAD_TOO_LARGE,
        Code::QueryLimitExceeded,
        message,
    )
}

/// Finds the document (sent, or persisted), checks it, then runs it; identical concurrent
/// queries of the same caller share one execution.
async fn execute(g: Arc<Gateway>, headers: &HeaderMap, params: Params, over_get: bool) -> Answer {
    let who = match Caller::from_headers(headers, &g.headers)
        .verified(&g, bearer(headers))
        .await
    {
        Ok(who) => who,
        Err(refusal) => return Answer::unauthenticated(refusal),
    };
    let span = tracing::info_span!(
        "graphql.request",
        otel.kind = "server",
        request_id = %who.request_id,
        graphql.operation.name = tracing::field::Empty,
    );
    if span.is_disabled() {
        return execute_as(g, who, params, over_get).await;
    }
    continue_trace(&span, headers);
    execute_as(g, who, params, over_get).instrument(span).await
}

async fn execute_as(g: Arc<Gateway>, who: Caller, mut params: Params, over_get: bool) -> Answer {
    let accept = |text: &str| g.documents.parse(text).map(drop);
    let text = match g
        .persisted
        .document(&mut params, who.key, &who.credential(), accept)
        .await
    {
        Ok(text) => text,
        Err(error) => return async_graphql::Response::from_errors(vec![error]).into(),
    };
    let mut request = params.into_request(text);
    // A traced request runs alone: its trace is its own.
    let key = (g.coalesce && !who.traced).then(|| operation_key(&request, who.key));
    if let Some(running) = key.and_then(|k| g.coalescing.running(k)) {
        // Only queries that passed every check run shared, so the same request needs none.
        return finished(running.await);
    }
    let kind = match check(&g, &mut request) {
        Ok(kind) => kind,
        Err(error) => return async_graphql::Response::from_errors(vec![error]).into(),
    };
    if let Some(name) = &request.operation_name {
        tracing::Span::current().record("graphql.operation.name", name.as_str());
    }
    match kind {
        Some(OperationType::Mutation) if over_get => return Answer::post_only(),
        Some(OperationType::Subscription) => {
            let message = "subscriptions are served over WebSocket (graphql-transport-ws) or \
                           server-sent events (Accept: text/event-stream)";
            return Answer::request_error(Code::BadUserInput, message);
        }
        _ => {}
    }
    let shared_key = key.filter(|_| kind == Some(OperationType::Query));
    let span = tracing::Span::current();
    let gateway = g.clone();
    if span.is_disabled() {
        return shared(&g, shared_key, move || run(gateway, request, who, kind)).await;
    }
    let start = move || run(gateway, request, who, kind).instrument(span);
    shared(&g, shared_key, start).await
}

/// Runs the execution `start` makes, or joins an identical concurrent one when `key` says so.
async fn shared<F>(g: &Gateway, key: Option<u128>, start: impl FnOnce() -> F) -> Answer
where
    F: std::future::Future<Output = Answer> + Send + 'static,
{
    match key {
        Some(key) => finished(g.coalescing.join(key, start).await),
        None => Box::pin(start()).await,
    }
}

/// Parses the request's document and checks it against the query limits; the type of the
/// operation it selects.
fn check(
    g: &Gateway,
    request: &mut async_graphql::Request,
) -> Result<Option<OperationType>, async_graphql::ServerError> {
    let doc = g.documents.parse(&request.query)?;
    let selected = operation(&doc, request.operation_name.as_deref());
    let kind = selected.as_ref().map(|(kind, _)| *kind);
    if request.operation_name.is_none() {
        request.operation_name = selected.and_then(|(_, name)| name);
    }
    request.set_parsed_query(ExecutableDocument::clone(&doc));
    Ok(kind)
}

/// The answer of a shared execution; `None` if it panicked.
fn finished(answer: Option<Answer>) -> Answer {
    answer.unwrap_or_else(|| Answer::request_error(Code::Internal, "internal error"))
}

/// The key under which identical operations of the same caller share one execution: the
/// document, operation name, variables and extensions, and the caller's fingerprint.
fn operation_key(request: &async_graphql::Request, caller: u128) -> u128 {
    let variables = serde_json::to_vec(&request.variables).unwrap_or_default();
    let extensions = serde_json::to_vec(&request.extensions).unwrap_or_default();
    fingerprint(&[
        request.query.as_bytes(),
        request.operation_name.as_deref().unwrap_or("").as_bytes(),
        &variables,
        &extensions,
        &caller.to_le_bytes(),
    ])
}

/// The type and name of the operation a request selects, if it selects one.
fn operation(
    doc: &ExecutableDocument,
    wanted: Option<&str>,
) -> Option<(OperationType, Option<String>)> {
    match (&doc.operations, wanted) {
        (DocumentOperations::Single(op), None) => Some((op.node.ty, None)),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name).map(|op| (op.node.ty, Some(name.to_string())))
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .iter()
            .next()
            .map(|(name, op)| (op.node.ty, Some(name.to_string()))),
        _ => None,
    }
}

/// Executes one request with fresh loaders for its credentials, under the deadline.
async fn run(
    g: Arc<Gateway>,
    request: async_graphql::Request,
    who: Caller,
    kind: Option<OperationType>,
) -> Answer {
    respond(&g, request, who, kind).await.into()
}

fn kind_label(kind: Option<OperationType>) -> &'static str {
    match kind {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

/// Runs a query or mutation under the deadline, then logs it (one line: id, operation, type,
/// time, upstream calls, error codes) and counts it.
async fn respond(
    g: &Gateway,
    request: async_graphql::Request,
    who: Caller,
    kind: Option<OperationType>,
) -> async_graphql::Response {
    let mut request = request;
    let writes = match kind {
        Some(OperationType::Mutation) => {
            let (name, vars) = (request.operation_name.clone(), request.variables.clone());
            let doc = request.parsed_query().ok();
            doc.map(|doc| audit::writes(doc, name.as_deref(), &vars))
        }
        _ => None,
    };
    let data = who.request_data(g);
    let started = std::time::Instant::now();
    let operation = request.operation_name.clone();
    let traced = who.traced && g.allow_trace;
    let context = RequestContext::new(&who.request_id, traced, who.traceparent.as_deref());
    let span = tracing::info_span!("graphql.execute", graphql.operation.type = kind_label(kind));
    let run = context
        .clone()
        .scope(tick::drive(g.schema.execute(request.data(data))));
    let deadline = g.limits.deadline;
    let ran = if span.is_disabled() {
        tokio::time::timeout(deadline, run).await
    } else {
        tokio::time::timeout(deadline, run.instrument(span)).await
    };
    let mut response = match ran {
        Ok(response) => response,
        Err(_) => {
            let error = Code::UpstreamTimeout
                .request_error("the request took longer than the gateway's deadline");
            async_graphql::Response::from_errors(vec![error])
        }
    };
    close_codes(&mut response);
    who.refused(g, &response).await;
    if tracing::enabled!(tracing::Level::INFO) {
        let codes: Vec<String> = response
            .errors
            .iter()
            .filter_map(|e| e.extensions.as_ref()?.get("code").map(|c| c.to_string()))
            .map(|c| c.trim_matches('"').to_string())
            .collect();
        tracing::info!(
            request_id = %who.request_id,
            operation = operation.as_deref().unwrap_or(""),
            kind = kind_label(kind),
            elapsed_ms = started.elapsed().as_millis() as u64,
            upstream_calls = context.calls(),
            errors = %codes.join(","),
            "graphql request"
        );
    }
    observe::record_operation(operation.as_deref(), kind_label(kind), &response);
    if let Some(writes) = writes {
        let run = audit::Run {
            subject: who.subject.as_ref().map(|s| s.id.as_str()),
            operation: operation.as_deref(),
            request_id: &who.request_id,
            called: context.vendors(),
        };
        audit::record(writes, &response, run);
    }
    if let Some(calls) = context.trace() {
        let calls = serde_json::to_value(calls).unwrap_or_default();
        let calls = async_graphql::Value::from_json(calls).unwrap_or_default();
        response.extensions.insert("upstreamCalls".into(), calls);
    }
    null_failed_fields(&mut response);
    response
}

/// The answer to a GraphQL request shed because as many are being served as the limit allows:
/// 503 with `Retry-After`, at once, never a queue.
fn overloaded(headers: &HeaderMap) -> Response {
    let message = "the gateway is serving as many requests as it may; retry shortly";
    let mut response = Answer::refused(StatusCode::SERVICE_UNAVAILABLE, Code::Overloaded, message)
        .send(Media::negotiate(headers).unwrap_or(Media::Json));
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("1"),
    );
    response
}

/// Whether the body's declared length is over `max`: such a body is refused before reading it.
fn declared_over(headers: &HeaderMap, max: usize) -> bool {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > max)
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

/// A panic in a handler becomes an `INTERNAL` error, never a dropped connection.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked");
    let error = Answer::refused(
        StatusCode::INTERNAL_SERVER_ERROR,
        Code::Internal,
        "internal error",
    );
    error.send(Media::Json)
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
