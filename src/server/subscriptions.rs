//! Subscriptions (and any other operation) over WebSocket, `graphql-transport-ws` on `/graphql`,
//! and over server-sent events (GraphQL over SSE, distinct connections: `/graphql` with
//! `Accept: text/event-stream`). Credentials come from the `connection_init` payload (the same
//! names as the headers) or from the headers of the upgrade or SSE request.

use super::{
    check, close_codes, null_failed_fields, respond, token, Answer, Caller, Gateway, Media, Params,
};
use crate::error::Code;
use crate::loaders::watch::ConnectionSlots;
use crate::schema::CredentialHeaders;
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::WebSocketUpgrade;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, BoxStream, StreamExt};
use std::any::TypeId;
use std::convert::Infallible;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

/// How subscriptions are served.
#[derive(Clone, Debug)]
pub struct SubscriptionConfig {
    /// How often a watched automation is polled upstream.
    pub poll_interval: Duration,
    /// Subscriptions one WebSocket connection may hold at once.
    pub max_per_connection: usize,
    /// Subscriptions one caller (credential) may hold at once, over all connections.
    pub max_per_caller: usize,
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        SubscriptionConfig {
            poll_interval: Duration::from_secs(5),
            max_per_connection: 20,
            max_per_caller: 100,
        }
    }
}

/// Whether the caller asked for a stream of events (GraphQL over SSE).
pub fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

/// Upgrades to a WebSocket speaking `graphql-transport-ws` (or the older `graphql-ws`).
pub fn websocket(
    g: Arc<Gateway>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
    protocol: GraphQLProtocol,
) -> Response {
    let upgraded = Caller::from_headers(&headers, &g.headers);
    let slots = ConnectionSlots {
        open: Arc::new(AtomicUsize::new(0)),
        max: g.subscriptions.max_per_connection,
    };
    let executor = Connection {
        g: g.clone(),
        slots,
    };
    upgrade
        .max_message_size(g.limits.max_body_bytes)
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let names = g.headers.clone();
            GraphQLWebSocket::new(socket, executor, protocol)
                .on_connection_init(move |payload| async move {
                    let mut data = Data::default();
                    let sent = from_payload(&payload, &names, &upgraded);
                    data.insert(sent.unwrap_or(upgraded));
                    Ok(data)
                })
                .serve()
                .await
        })
}

/// Runs a request over SSE: a subscription's events, or a query's or mutation's one answer,
/// then `complete`.
pub async fn events(
    g: Arc<Gateway>,
    headers: &HeaderMap,
    mut params: Params,
    over_get: bool,
) -> Response {
    let who = Caller::from_headers(headers, &g.headers);
    let accept = |text: &str| g.documents.parse(text).map(drop);
    let document = g
        .persisted
        .document(&mut params, who.key, &who.credential(), accept)
        .await;
    let mut request = match document {
        Ok(text) => params.into_request(text),
        Err(e) => return refused(e),
    };
    let kind = match check(&g, &mut request) {
        Ok(kind) => kind,
        Err(e) => return refused(e),
    };
    if over_get && kind == Some(OperationType::Mutation) {
        return Answer::post_only().send(Media::GraphqlResponse);
    }
    let responses = run_stream(g, request, who, kind, None);
    let events = responses
        .map(|response| {
            let data = serde_json::to_string(&response).unwrap_or_default();
            Ok::<_, Infallible>(Event::default().event("next").data(data))
        })
        .chain(stream::once(async {
            Ok(Event::default().event("complete").data(""))
        }));
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// A request refused before any event: no stream, a 4xx status and the errors.
fn refused(error: async_graphql::ServerError) -> Response {
    Answer::from(async_graphql::Response::from_errors(vec![error])).send(Media::GraphqlResponse)
}

/// The responses of one operation: a subscription's stream, or a query's or mutation's answer.
fn run_stream(
    g: Arc<Gateway>,
    request: async_graphql::Request,
    who: Caller,
    kind: Option<OperationType>,
    slots: Option<ConnectionSlots>,
) -> BoxStream<'static, async_graphql::Response> {
    if kind != Some(OperationType::Subscription) {
        return stream::once(async move { respond(&g, request, who, kind).await }).boxed();
    }
    let mut request = request.data(who.request_data(&g));
    if let Some(slots) = slots {
        request = request.data(slots);
    }
    g.schema
        .execute_stream(request)
        .map(|mut response| {
            close_codes(&mut response);
            null_failed_fields(&mut response);
            response
        })
        .boxed()
}

/// Credentials in a `connection_init` payload, under the header names (any case, at the top
/// or under `headers`); `None` if it carries none. The request id stays the upgrade's.
fn from_payload(
    payload: &serde_json::Value,
    names: &CredentialHeaders,
    upgrade: &Caller,
) -> Option<Caller> {
    let fields = payload
        .get("headers")
        .and_then(|h| h.as_object())
        .or_else(|| payload.as_object())?;
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        let name = name.to_ascii_lowercase();
        if name != names.appypie && name != names.appmixer {
            continue;
        }
        let value = value.as_str().and_then(|v| v.parse().ok());
        if let (Ok(name), Some(value)) = (name.parse::<axum::http::HeaderName>(), value) {
            headers.insert(name, value);
        }
    }
    let any =
        token(&headers, &names.appypie).is_some() || token(&headers, &names.appmixer).is_some();
    any.then(|| Caller {
        request_id: upgrade.request_id.clone(),
        ..Caller::from_headers(&headers, names)
    })
}

/// One WebSocket connection: runs each operation it carries with fresh loaders, under the
/// same checks as HTTP.
#[derive(Clone)]
struct Connection {
    g: Arc<Gateway>,
    slots: ConnectionSlots,
}

impl Connection {
    /// The document a message runs: its text, or a persisted one, under the same rules as HTTP
    /// (automatic persisted queries, trusted documents).
    async fn document(
        &self,
        request: &mut async_graphql::Request,
        who: &Caller,
    ) -> Result<(), async_graphql::ServerError> {
        let extensions = serde_json::to_value(&request.extensions).ok();
        let mut params = Params {
            query: Some(std::mem::take(&mut request.query)).filter(|q| !q.is_empty()),
            extensions: extensions.and_then(|e| e.as_object().cloned()),
            ..Params::default()
        };
        let accept = |text: &str| self.g.documents.parse(text).map(drop);
        request.query = self
            .g
            .persisted
            .document(&mut params, who.key, &who.credential(), accept)
            .await?;
        Ok(())
    }
}

fn failed(error: async_graphql::ServerError) -> BoxStream<'static, async_graphql::Response> {
    stream::once(async move { async_graphql::Response::from_errors(vec![error]) }).boxed()
}

impl Executor for Connection {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.execute_stream(request, None)
            .next()
            .await
            .unwrap_or_default()
    }

    fn execute_stream(
        &self,
        mut request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let who = session_data
            .as_ref()
            .and_then(|d| d.get(&TypeId::of::<Caller>()))
            .and_then(|c| c.downcast_ref::<Caller>())
            .cloned()
            .unwrap_or_else(|| Caller::from_headers(&HeaderMap::new(), &self.g.headers));
        let connection = self.clone();
        stream::once(async move {
            if let Err(e) = connection.document(&mut request, &who).await {
                return failed(e);
            }
            let kind = match check(&connection.g, &mut request) {
                Ok(kind) => kind,
                Err(e) => return failed(e),
            };
            if kind.is_none() {
                let message = "the request selects no operation";
                return failed(Code::BadUserInput.request_error(message));
            }
            let slots = Some(connection.slots.clone());
            run_stream(connection.g.clone(), request, who, kind, slots)
        })
        .flatten()
        .boxed()
    }
}
