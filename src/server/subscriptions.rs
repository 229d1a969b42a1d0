//! Subscriptions (and any other operation) streamed: over server-sent events (GraphQL over SSE,
//! distinct connections: `/graphql` with `Accept: text/event-stream`) and over WebSocket
//! (`websocket.rs`). Both prepare and run an operation as here.

use super::{
    check, close_codes, null_failed_fields, respond, Answer, Caller, Gateway, Media, Params,
};
use crate::loaders::watch::ConnectionSlots;
use async_graphql::parser::types::OperationType;
use async_graphql::ServerError;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, BoxStream, StreamExt};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// How subscriptions are served.
#[derive(Clone, Debug)]
pub struct SubscriptionConfig {
    /// A socket must send `connection_init` within this.
    pub init_timeout: Duration,
    /// Sockets open at once, in all.
    pub max_sockets: usize,
    /// Sockets open at once from one client address.
    pub max_sockets_per_client: usize,
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
            init_timeout: Duration::from_secs(10),
            max_sockets: 5_000,
            max_sockets_per_client: 200,
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

/// Runs a request over SSE: a subscription's events, or a query's or mutation's one answer,
/// then `complete`.
pub async fn events(
    g: Arc<Gateway>,
    headers: &HeaderMap,
    params: Params,
    over_get: bool,
) -> Response {
    let who = Caller::from_headers(headers, &g.headers);
    let who = match who.verified(&g, super::bearer(headers)).await {
        Ok(who) => who,
        Err(refusal) => return Answer::unauthenticated(refusal).send(Media::GraphqlResponse),
    };
    let expiry = who.expiry();
    let (request, kind) = match prepare(&g, params, &who).await {
        Ok(prepared) => prepared,
        Err(e) => return refused(e),
    };
    if over_get && kind == Some(OperationType::Mutation) {
        return Answer::post_only().send(Media::GraphqlResponse);
    }
    let responses = run_stream(g, request, who, kind, None);
    // A stream ends when the caller's token expires.
    let events = responses
        .take_until(expiry)
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

/// The request a streamed operation (over SSE or a socket) runs, and its type: its document
/// sent or persisted, checked as over HTTP.
pub(super) async fn prepare(
    g: &Gateway,
    mut params: Params,
    who: &Caller,
) -> Result<(async_graphql::Request, Option<OperationType>), ServerError> {
    let accept = |text: &str| g.documents.parse(text).map(drop);
    let credential = who.credential();
    let document = g
        .persisted
        .document(&mut params, who.key, &credential, accept);
    let text = document.await?;
    let mut request = params.into_request(text);
    let kind = check(g, &mut request)?;
    Ok((request, kind))
}

/// The responses of one operation: a subscription's stream, or a query's or mutation's answer.
pub(super) fn run_stream(
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
