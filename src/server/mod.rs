//! The HTTP server: `POST /graphql`, `GET /graphql` (queries only), GraphiQL at `/`, `/healthz`.

use crate::error::Code;
use crate::schema::{self, CredentialHeaders, FlowgateSchema, RequestData};
use crate::upstream::appmixer::{AppmixerClient, AppmixerConfig};
use crate::upstream::appypie::{AppyPieClient, AppyPieConfig};
use crate::upstream::{HttpConfig, HttpCore, Token};
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::HeaderMap;
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
    /// Headers GraphiQL opens with (the sandbox's demo credentials).
    pub graphiql_headers: Vec<(String, String)>,
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
            max_in_flight: 32,
            graphiql_headers: Vec::new(),
        }
    }
}

struct Gateway {
    schema: FlowgateSchema,
    appypie: AppyPieClient,
    appmixer: AppmixerClient,
    headers: Arc<CredentialHeaders>,
    graphiql: String,
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
    let gateway = Gateway {
        schema: schema::build(),
        appypie: AppyPieClient::new(core.limited(config.max_in_flight), config.appypie),
        appmixer: AppmixerClient::new(core.limited(config.max_in_flight), config.appmixer),
        headers: Arc::new(config.headers),
        graphiql: graphiql.finish(),
    };
    Ok(Router::new()
        .route("/", get(graphiql_page))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }))
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

async fn execute(
    g: &Gateway,
    headers: &HeaderMap,
    request: async_graphql::Request,
) -> GraphQLResponse {
    let data = RequestData::new(
        g.appypie.clone(),
        g.appmixer.clone(),
        token(headers, &g.headers.appypie),
        token(headers, &g.headers.appmixer),
        g.headers.clone(),
    );
    let mut response = g.schema.execute(request.data(data)).await;
    null_failed_fields(&mut response);
    response.into()
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
    request: GraphQLRequest,
) -> GraphQLResponse {
    execute(&g, &headers, request.into_inner()).await
}

/// GET carries queries only: a mutation over GET could be triggered by a link.
async fn graphql_get(
    State(g): Shared,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> axum::response::Response {
    let request = request.into_inner();
    if is_mutation(&request) {
        let err = Code::BadUserInput.error("mutations must be sent with POST");
        let response =
            async_graphql::Response::from_errors(vec![err.into_server_error(Default::default())]);
        return GraphQLResponse::from(response).into_response();
    }
    execute(&g, &headers, request).await.into_response()
}

fn is_mutation(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let wanted = request.operation_name.as_deref();
    doc.operations.iter().any(|(name, op)| {
        let selected = wanted.is_none() || name.map(|n| n.as_str()) == wanted;
        selected && op.node.ty == OperationType::Mutation
    })
}
