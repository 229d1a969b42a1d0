//! GraphQL over WebSocket, `graphql-transport-ws` as its protocol document says: a
//! `connection_init` within the timeout (else 4408), at most one (else 4429), no `subscribe`
//! before it is acknowledged (else 4401), one running operation per id (else 4409), and any
//! message the protocol does not define closes the socket with 4400. With callers identified
//! (`auth.mode`), the JWT comes in the upgrade's `Authorization` or in `connection_init`
//! (`authorization`, at the top or under `headers`); a refused one closes the socket with 4403,
//! and so does its expiry. Sockets are capped in total and per client address, and each keeps
//! small buffers: an idle socket costs a few KiB.

use super::subscriptions::{prepare, run_stream};
use super::{overloaded, token, Caller, Gateway, Params};
use crate::error::Code;
use crate::loaders::watch::ConnectionSlots;
use crate::schema::CredentialHeaders;
use async_graphql::ServerError;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, FutureExt};
use futures_util::stream::{self, AbortHandle, Abortable, BoxStream, SelectAll, StreamExt};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROTOCOL: &str = "graphql-transport-ws";

/// Bytes a socket reads ahead; a larger message still arrives whole (up to the body limit).
const READ_BUFFER: usize = 4096;

/// Open sockets, in total and per client address.
pub struct Sockets {
    max: usize,
    max_per_client: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open socket, counted until it is dropped.
pub struct Opened {
    sockets: Arc<Sockets>,
    client: Option<IpAddr>,
}

impl Sockets {
    pub fn new(max: usize, max_per_client: usize) -> Self {
        Sockets {
            max,
            max_per_client,
            open: Mutex::default(),
        }
    }

    /// A place for one more socket of `client`, if the caps leave one.
    fn open(self: &Arc<Self>, client: Option<IpAddr>) -> Option<Opened> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_client) = &mut *open;
        let mine = client.map_or(0, |c| per_client.get(&c).copied().unwrap_or(0));
        if *total >= self.max || mine >= self.max_per_client {
            return None;
        }
        *total += 1;
        if let Some(client) = client {
            *per_client.entry(client).or_default() += 1;
        }
        Some(Opened {
            sockets: self.clone(),
            client,
        })
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        let mut open = self.sockets.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_client) = &mut *open;
        *total -= 1;
        if let Some(client) = self.client {
            if let Some(n) = per_client.get_mut(&client) {
                *n -= 1;
                if *n == 0 {
                    per_client.remove(&client);
                }
            }
        }
    }
}

/// Upgrades `/graphql` to a socket speaking `graphql-transport-ws`, when the client offers it
/// and the caps leave room.
pub async fn upgrade(g: Arc<Gateway>, mut parts: Parts) -> Response {
    use axum::extract::FromRequestParts;
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(refused) => return refused.into_response(),
    };
    if !upgrade.requested_protocols().any(|p| {
        p.to_str()
            .is_ok_and(|p| p.split(',').any(|p| p.trim() == PROTOCOL))
    }) {
        let message = "WebSocket clients must speak the graphql-transport-ws subprotocol";
        return (StatusCode::BAD_REQUEST, message).into_response();
    }
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(opened) = g.sockets.open(client) else {
        return overloaded(&parts.headers);
    };
    let upgraded = Caller::from_headers(&parts.headers, &g.headers);
    let bearer = super::bearer(&parts.headers).map(str::to_string);
    let max = g.limits.max_body_bytes;
    upgrade
        .protocols([PROTOCOL])
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(max.max(READ_BUFFER) * 4)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            let init_timeout = g.subscriptions.init_timeout;
            let session = Session::new(g, upgraded, bearer);
            session.serve(socket, init_timeout).await;
            drop(opened);
        })
}

/// What the client may send.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Incoming {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {},
    Pong {},
    Subscribe {
        id: String,
        payload: Operation,
    },
    Complete {
        id: String,
    },
}

/// A `subscribe` message's operation.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operation {
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Map<String, Value>>,
    #[serde(default)]
    extensions: Option<Map<String, Value>>,
}

/// What an operation sends back, in order.
enum Event {
    Next(async_graphql::Response),
    /// Refused before it ran: no `complete` follows.
    Error(Vec<ServerError>),
    Complete,
}

/// How the server ends a socket: a code of the protocol and a short reason.
struct Close(u16, String);

impl Close {
    fn new(code: u16, reason: impl Into<String>) -> Close {
        Close(code, reason.into())
    }

    /// The close frame; its reason cut to the 123 bytes a WebSocket close frame allows.
    fn frame(self) -> Message {
        let mut reason = self.1;
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        Message::Close(Some(CloseFrame {
            code: self.0,
            reason: reason.into(),
        }))
    }
}

/// One socket: who it runs for once acknowledged, and its running operations.
struct Session {
    g: Arc<Gateway>,
    upgraded: Caller,
    /// The upgrade's bearer token.
    bearer: Option<String>,
    who: Option<Caller>,
    /// Ready when the acknowledged caller's token expires.
    expiry: BoxFuture<'static, ()>,
    slots: ConnectionSlots,
    running: HashMap<String, AbortHandle>,
    events: SelectAll<BoxStream<'static, (String, Event)>>,
}

impl Session {
    fn new(g: Arc<Gateway>, upgraded: Caller, bearer: Option<String>) -> Self {
        let slots = ConnectionSlots {
            open: Arc::new(AtomicUsize::new(0)),
            max: g.subscriptions.max_per_connection,
        };
        Session {
            g,
            upgraded,
            bearer,
            who: None,
            expiry: futures_util::future::pending().boxed(),
            slots,
            running: HashMap::new(),
            events: SelectAll::new(),
        }
    }

    async fn serve(mut self, mut socket: WebSocket, init_timeout: Duration) {
        let init = tokio::time::sleep(init_timeout);
        tokio::pin!(init);
        loop {
            let step = tokio::select! {
                message = socket.recv() => match message {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(message)) => self.receive(message).await,
                },
                () = &mut self.expiry => Err(Close::new(4403, "Forbidden: the token has expired")),
                Some((id, event)) = self.events.next(), if !self.events.is_empty() => {
                    Ok(Some(self.send(id, event)))
                }
                () = &mut init, if self.who.is_none() => {
                    Err(Close::new(4408, "Connection initialisation timeout"))
                }
            };
            let sent = match step {
                Ok(Some(text)) => socket.send(Message::Text(text.into())).await,
                Ok(None) => Ok(()),
                Err(close) => {
                    let _ = socket.send(close.frame()).await;
                    return;
                }
            };
            if sent.is_err() {
                return;
            }
        }
    }

    /// Handles one message from the client: the text to answer with, if any, or why the socket
    /// closes.
    async fn receive(&mut self, message: Message) -> Result<Option<String>, Close> {
        let text = match message {
            Message::Text(text) => text,
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => return Ok(None),
            Message::Binary(_) => return Err(Close::new(4400, "Binary messages are not allowed")),
        };
        let incoming: Incoming = serde_json::from_str(text.as_str())
            .map_err(|_| Close::new(4400, "Invalid message received"))?;
        match incoming {
            Incoming::ConnectionInit { .. } if self.who.is_some() => {
                Err(Close::new(4429, "Too many initialisation requests"))
            }
            Incoming::ConnectionInit { payload } => {
                let names = &self.g.headers;
                let sent = payload
                    .as_ref()
                    .and_then(|p| from_payload(p, names, &self.upgraded));
                let bearer = payload.as_ref().and_then(payload_bearer);
                let who = sent.unwrap_or_else(|| self.upgraded.clone());
                let bearer = bearer.or(self.bearer.take());
                let who = who.verified(&self.g, bearer.as_deref()).await;
                let who =
                    who.map_err(|refusal| Close::new(4403, format!("Forbidden: {refusal}")))?;
                self.expiry = who.expiry();
                self.who = Some(who);
                Ok(Some(json!({ "type": "connection_ack" }).to_string()))
            }
            Incoming::Ping {} => Ok(Some(json!({ "type": "pong" }).to_string())),
            Incoming::Pong {} => Ok(None),
            Incoming::Subscribe { .. } if self.who.is_none() => {
                Err(Close::new(4401, "Unauthorized"))
            }
            Incoming::Subscribe { id, .. } if self.running.contains_key(&id) => Err(Close::new(
                4409,
                format!("Subscriber for {id} already exists"),
            )),
            Incoming::Subscribe { id, payload } => {
                self.start(id, payload);
                Ok(None)
            }
            Incoming::Complete { id } => {
                if let Some(running) = self.running.remove(&id) {
                    running.abort();
                }
                Ok(None)
            }
        }
    }

    /// Starts an operation under `id`: its events join the socket's.
    fn start(&mut self, id: String, operation: Operation) {
        let (handle, registration) = AbortHandle::new_pair();
        self.running.insert(id.clone(), handle);
        let g = self.g.clone();
        let who = self.who.clone().unwrap_or_else(|| self.upgraded.clone());
        let slots = self.slots.clone();
        // Boxed on its own, so that what preparing the operation took is freed once it has
        // run, rather than held inline for as long as the subscription lasts.
        let prepared = Box::pin(run(g, operation, who, slots));
        let events = stream::once(async move {
            match prepared.await {
                Ok(responses) => responses
                    .map(Event::Next)
                    .chain(stream::once(async { Event::Complete }))
                    .boxed(),
                Err(error) => stream::once(async { Event::Error(vec![error]) }).boxed(),
            }
        })
        .flatten();
        let events = Abortable::new(events, registration).map(move |e| (id.clone(), e));
        self.events.push(events.boxed());
    }

    /// The message an operation's event makes; the operation ends with its last event.
    fn send(&mut self, id: String, event: Event) -> String {
        let message = match event {
            Event::Next(response) => json!({ "id": id, "type": "next", "payload": response }),
            Event::Error(errors) => json!({ "id": id, "type": "error", "payload": errors }),
            Event::Complete => json!({ "id": id, "type": "complete" }),
        };
        if !matches!(message["type"].as_str(), Some("next")) {
            self.running.remove(&id);
        }
        message.to_string()
    }
}

/// Runs one operation off the socket under the same rules as over HTTP: the responses, or the
/// error refusing it before it runs.
async fn run(
    g: Arc<Gateway>,
    operation: Operation,
    who: Caller,
    slots: ConnectionSlots,
) -> Result<BoxStream<'static, async_graphql::Response>, ServerError> {
    if super::limits::params_too_deep([&operation.variables, &operation.extensions]) {
        let message = "`variables` or `extensions` nest too deep";
        return Err(Code::QueryLimitExceeded.request_error(message));
    }
    let params = Params {
        query: operation.query.filter(|q| !q.is_empty()),
        operation_name: operation.operation_name,
        variables: operation.variables,
        extensions: operation.extensions,
        document_id: None,
    };
    let (request, kind) = prepare(&g, params, &who).await?;
    if kind.is_none() {
        return Err(Code::BadUserInput.request_error("the request selects no operation"));
    }
    Ok(run_stream(g, request, who, kind, Some(slots)))
}

/// The bearer token in a `connection_init` payload: `authorization` (any case, at the top or
/// under `headers`), with or without `Bearer `.
fn payload_bearer(payload: &Value) -> Option<String> {
    let fields = payload
        .get("headers")
        .and_then(|h| h.as_object())
        .or_else(|| payload.as_object())?;
    let (_, value) = fields
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))?;
    let value = value.as_str()?;
    let token = super::caller::strip_bearer(value).unwrap_or(value.trim());
    (!token.is_empty()).then(|| token.to_string())
}

/// Credentials in a `connection_init` payload, under the header names (any case, at the top
/// or under `headers`); `None` if it carries none. The request id stays the upgrade's.
fn from_payload(payload: &Value, names: &CredentialHeaders, upgrade: &Caller) -> Option<Caller> {
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
