//! Typed client of the Appmixer API: sign-in, user, flows, apps and components, accounts and
//! auth, logs.

pub mod model;

use super::http::{
    credential_header, decode, decode_shared, status_error, Call, HttpCore, Outgoing, Reply,
};
use super::{ErrorKind, Provider, Token, UpstreamError};
use model::*;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use url::Url;

const P: Provider = Provider::Appmixer;

/// Reads of catalogue data (apps and component manifests): the only replies that may be
/// cached across requests.
const CATALOGUE: &[&str] = &["GET /apps", "GET /apps/components", "GET /components"];

/// Where the Appmixer API lives.
#[derive(Clone, Debug)]
pub struct AppmixerConfig {
    pub base_url: Url,
}

impl Default for AppmixerConfig {
    fn default() -> Self {
        AppmixerConfig {
            base_url: Url::parse("https://api.appmixer.com").expect("static URL"),
        }
    }
}

/// The Appmixer client; cheap to clone. Calls that need a user go through [`AppmixerClient::session`].
#[derive(Clone, Debug)]
pub struct AppmixerClient {
    http: HttpCore,
    config: Arc<AppmixerConfig>,
}

/// The client bound to one caller's bearer token.
#[derive(Clone, Debug)]
pub struct AppmixerSession {
    client: AppmixerClient,
    /// `Authorization: Bearer <token>`, made once; `None` if the token cannot be a header.
    auth: Option<HeaderValue>,
}

/// Appmixer's (Boom) error payload.
#[derive(Deserialize)]
struct Boom {
    #[serde(default)]
    message: Option<String>,
}

fn check(op: &'static str, reply: &Reply) -> Result<(), UpstreamError> {
    if reply.status.is_success() {
        return Ok(());
    }
    let message = serde_json::from_slice::<Boom>(&reply.body)
        .ok()
        .and_then(|b| b.message);
    Err(status_error(P, op, reply, None, message))
}

impl AppmixerClient {
    /// The vendor's breaker and last call, for `/readyz`.
    pub fn health(&self) -> super::VendorHealth {
        self.http.health()
    }

    pub fn new(http: HttpCore, config: AppmixerConfig) -> Self {
        AppmixerClient {
            http,
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &AppmixerConfig {
        &self.config
    }

    /// Binds the client to a caller's bearer token.
    pub fn session(&self, token: Token) -> AppmixerSession {
        AppmixerSession {
            client: self.clone(),
            auth: credential_header(&format!("Bearer {}", token.expose())),
        }
    }

    /// `POST /user/auth`: signs in with a username (or email) and password.
    pub async fn sign_in(
        &self,
        username_or_email: &str,
        password: &str,
    ) -> Result<SignIn, UpstreamError> {
        const OP: &str = "POST /user/auth";
        let key = if username_or_email.contains('@') {
            "email"
        } else {
            "username"
        };
        let body = json!({ key: username_or_email, "password": password });
        let outgoing = Outgoing {
            method: Method::POST,
            base: &self.config.base_url,
            segments: &["user", "auth"],
            query: &[],
            credential: None,
            body: Some(&body),
        };
        let reply = self.http.send(P, OP, outgoing, Call::Write).await?;
        check(OP, &reply)?;
        decode(P, OP, &reply)
    }

    /// `POST /user`: creates a user; its token.
    pub async fn create_user(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<String, UpstreamError> {
        const OP: &str = "POST /user";
        #[derive(serde::Deserialize)]
        struct Created {
            token: String,
        }
        let body = json!({ "username": username, "email": email, "password": password });
        let outgoing = Outgoing {
            method: Method::POST,
            base: &self.config.base_url,
            segments: &["user"],
            query: &[],
            credential: None,
            body: Some(&body),
        };
        let reply = self.http.send(P, OP, outgoing, Call::Write).await?;
        check(OP, &reply)?;
        Ok(decode::<Created>(P, OP, &reply)?.token)
    }
}

impl AppmixerSession {
    async fn send(
        &self,
        op: &'static str,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, UpstreamError> {
        let auth = self
            .auth
            .clone()
            .ok_or_else(|| UpstreamError::new(P, ErrorKind::Unauthorized, op))?;
        let http = &self.client.http;
        let call = if CATALOGUE.contains(&op) {
            Call::Catalogue
        } else {
            Call::of(&method)
        };
        let outgoing = Outgoing {
            method,
            base: &self.client.config.base_url,
            segments,
            query,
            credential: Some((AUTHORIZATION, auth)),
            body,
        };
        // Boxed: a fan-out moves each look-up's future around whole; this keeps it small.
        let reply = Box::pin(http.send(P, op, outgoing, call)).await?;
        check(op, &reply)?;
        Ok(reply)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T, UpstreamError> {
        let reply = self.send(op, method, segments, query, body).await?;
        decode(P, op, &reply)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        op: &'static str,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, UpstreamError> {
        self.call(op, Method::GET, segments, query, None).await
    }

    /// A read decoded once for all the callers that share it (see [`decode_shared`]).
    async fn get_shared<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        op: &'static str,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Arc<T>, UpstreamError> {
        let reply = self.send(op, Method::GET, segments, query, None).await?;
        decode_shared(P, op, &reply)
    }

    /// `GET /user`: the signed-in user.
    pub async fn current_user(&self) -> Result<User, UpstreamError> {
        self.get("GET /user", &["user"], &[]).await
    }

    /// `GET /flows` with filters, projection, sort, pattern and offset/limit.
    pub async fn flows(&self, q: &FlowQuery) -> Result<Vec<Flow>, UpstreamError> {
        let mut query: Vec<(&str, String)> =
            q.filters.iter().map(|f| ("filter", f.clone())).collect();
        let optional = [
            ("sharedWithPermissions", q.shared_with_permissions.clone()),
            ("projection", q.projection.clone()),
            ("sort", q.sort.clone()),
            ("pattern", q.pattern.clone()),
            ("offset", q.offset.map(|v| v.to_string())),
            ("limit", q.limit.map(|v| v.to_string())),
        ];
        query.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        self.get("GET /flows", &["flows"], &query).await
    }

    /// `GET /flows/:id`.
    pub async fn flow(&self, id: &str) -> Result<Flow, UpstreamError> {
        self.get("GET /flows/{id}", &["flows", id], &[]).await
    }

    /// `GET /flows/count`.
    pub async fn flow_count(&self) -> Result<u64, UpstreamError> {
        #[derive(Deserialize)]
        struct Count {
            count: u64,
        }
        let c: Count = self
            .get("GET /flows/count", &["flows", "count"], &[])
            .await?;
        Ok(c.count)
    }

    /// `POST /flows`: returns the new flow's id.
    pub async fn create_flow(&self, input: &FlowInput) -> Result<String, UpstreamError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Created {
            flow_id: String,
        }
        let body = serde_json::to_value(input).unwrap_or(Value::Null);
        let c: Created = self
            .call("POST /flows", Method::POST, &["flows"], &[], Some(&body))
            .await?;
        Ok(c.flow_id)
    }

    /// `PUT /flows/:id`; a running flow needs `force_update`.
    pub async fn update_flow(
        &self,
        id: &str,
        input: &FlowInput,
        force_update: bool,
    ) -> Result<FlowUpdated, UpstreamError> {
        let body = serde_json::to_value(input).unwrap_or(Value::Null);
        let query = if force_update {
            vec![("forceUpdate", "true".to_string())]
        } else {
            Vec::new()
        };
        self.call(
            "PUT /flows/{id}",
            Method::PUT,
            &["flows", id],
            &query,
            Some(&body),
        )
        .await
    }

    /// `DELETE /flows/:id`: returns the deleted flow's id.
    pub async fn delete_flow(&self, id: &str) -> Result<String, UpstreamError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Deleted {
            flow_id: String,
        }
        let d: Deleted = self
            .call(
                "DELETE /flows/{id}",
                Method::DELETE,
                &["flows", id],
                &[],
                None,
            )
            .await?;
        Ok(d.flow_id)
    }

    /// `POST /flows/:id/clone`: returns the copy's id.
    pub async fn clone_flow(
        &self,
        id: &str,
        options: &CloneOptions,
    ) -> Result<String, UpstreamError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Cloned {
            clone_id: String,
        }
        let body = serde_json::to_value(options).unwrap_or(Value::Null);
        let c: Cloned = self
            .call(
                "POST /flows/{id}/clone",
                Method::POST,
                &["flows", id, "clone"],
                &[],
                Some(&body),
            )
            .await?;
        Ok(c.clone_id)
    }

    /// `POST /flows/:id/coordinator` with `start`.
    pub async fn start_flow(&self, id: &str) -> Result<CoordinatorTicket, UpstreamError> {
        let body = json!({ "command": "start" });
        self.call(
            "POST /flows/{id}/coordinator",
            Method::POST,
            &["flows", id, "coordinator"],
            &[],
            Some(&body),
        )
        .await
    }

    /// `POST /flows/:id/coordinator` with `stop`; `background` returns at once.
    pub async fn stop_flow(
        &self,
        id: &str,
        background: bool,
    ) -> Result<CoordinatorTicket, UpstreamError> {
        let body = json!({ "command": "stop" });
        let query = if background {
            vec![("background", "true".to_string())]
        } else {
            Vec::new()
        };
        self.call(
            "POST /flows/{id}/coordinator",
            Method::POST,
            &["flows", id, "coordinator"],
            &query,
            Some(&body),
        )
        .await
    }

    /// `GET /flows/:id/coordinator/status`: progress of a stop.
    pub async fn stop_status(&self, id: &str) -> Result<StopStatus, UpstreamError> {
        self.get(
            "GET /flows/{id}/coordinator/status",
            &["flows", id, "coordinator", "status"],
            &[],
        )
        .await
    }

    /// `GET /apps`: the app catalogue keyed by app name. `ignore_acl` is for admins only.
    pub async fn apps(&self, ignore_acl: bool) -> Result<BTreeMap<String, AppInfo>, UpstreamError> {
        let query = if ignore_acl {
            vec![("ignoreACL", "true".to_string())]
        } else {
            Vec::new()
        };
        self.get("GET /apps", &["apps"], &query).await
    }

    /// `GET /apps/components?app=`: every component of one app (module or service).
    pub async fn app_components(&self, app: &str) -> Result<Vec<ComponentManifest>, UpstreamError> {
        self.get(
            "GET /apps/components",
            &["apps", "components"],
            &[("app", app.to_string())],
        )
        .await
    }

    /// `GET /components`: names of every component.
    pub async fn component_names(&self) -> Result<Vec<String>, UpstreamError> {
        self.get("GET /components", &["components"], &[]).await
    }

    /// `GET /components?manifest=yes`: every component's manifest.
    pub async fn component_manifests(&self) -> Result<Vec<ComponentManifest>, UpstreamError> {
        self.get(
            "GET /components",
            &["components"],
            &[("manifest", "yes".to_string())],
        )
        .await
    }

    /// `GET /auth/:componentType?componentId=`: accounts usable by a component.
    pub async fn component_accounts(
        &self,
        component_type: &str,
        component_id: &str,
    ) -> Result<ComponentAuth, UpstreamError> {
        self.get(
            "GET /auth/{componentType}",
            &["auth", component_type],
            &[("componentId", component_id.to_string())],
        )
        .await
    }

    /// `GET /accounts`, with optional `filter` values such as `service:!appmixer:aws`.
    pub async fn accounts(
        &self,
        filters: &[String],
    ) -> Result<Arc<Vec<Arc<Account>>>, UpstreamError> {
        let query: Vec<(&str, String)> = filters.iter().map(|f| ("filter", f.clone())).collect();
        self.get_shared("GET /accounts", &["accounts"], &query)
            .await
    }

    /// `POST /accounts`.
    pub async fn create_account(
        &self,
        input: &NewAccount,
        validate_scope: bool,
        request_profile_info: bool,
    ) -> Result<CreatedAccount, UpstreamError> {
        let body = serde_json::to_value(input).unwrap_or(Value::Null);
        let query = [
            ("validateScope", validate_scope.to_string()),
            ("requestProfileInfo", request_profile_info.to_string()),
        ];
        self.call(
            "POST /accounts",
            Method::POST,
            &["accounts"],
            &query,
            Some(&body),
        )
        .await
    }

    /// `PUT /accounts/:id`: sets the display name (the only updatable field).
    pub async fn update_account(
        &self,
        id: &str,
        display_name: Option<&str>,
    ) -> Result<(), UpstreamError> {
        let body = json!({ "displayName": display_name });
        self.send(
            "PUT /accounts/{id}",
            Method::PUT,
            &["accounts", id],
            &[],
            Some(&body),
        )
        .await?;
        Ok(())
    }

    /// `POST /accounts/:id/test`: token id -> `valid` / `invalid`.
    pub async fn test_account(&self, id: &str) -> Result<BTreeMap<String, String>, UpstreamError> {
        self.call(
            "POST /accounts/{id}/test",
            Method::POST,
            &["accounts", id, "test"],
            &[],
            None,
        )
        .await
    }

    /// `DELETE /accounts/:id`: removes the account and stops the flows using it.
    pub async fn remove_account(&self, id: &str) -> Result<String, UpstreamError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Removed {
            account_id: String,
        }
        let r: Removed = self
            .call(
                "DELETE /accounts/{id}",
                Method::DELETE,
                &["accounts", id],
                &[],
                None,
            )
            .await?;
        Ok(r.account_id)
    }

    /// `GET /accounts/:id/flows`: flows that use the account.
    pub async fn account_flows(&self, id: &str) -> Result<Arc<Vec<UsedFlow>>, UpstreamError> {
        self.get_shared("GET /accounts/{id}/flows", &["accounts", id, "flows"], &[])
            .await
    }

    /// `POST /auth/ticket`: starts an authentication session.
    pub async fn auth_ticket(&self) -> Result<String, UpstreamError> {
        #[derive(Deserialize)]
        struct Ticket {
            ticket: String,
        }
        let t: Ticket = self
            .call(
                "POST /auth/ticket",
                Method::POST,
                &["auth", "ticket"],
                &[],
                None,
            )
            .await?;
        Ok(t.ticket)
    }

    /// `GET /auth/:componentType/auth-url/:ticket`: the URL the end user opens.
    pub async fn auth_url(
        &self,
        component_type: &str,
        ticket: &str,
        component_id: Option<&str>,
    ) -> Result<String, UpstreamError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct AuthUrl {
            auth_url: String,
        }
        let query: Vec<(&str, String)> = component_id
            .map(|c| ("componentId", c.to_string()))
            .into_iter()
            .collect();
        let u: AuthUrl = self
            .get(
                "GET /auth/{componentType}/auth-url/{ticket}",
                &["auth", component_type, "auth-url", ticket],
                &query,
            )
            .await?;
        Ok(u.auth_url)
    }

    /// `PUT /auth/:componentType/ticket/:ticket`: returns the service being authenticated.
    pub async fn start_auth_session(
        &self,
        component_type: &str,
        ticket: &str,
    ) -> Result<String, UpstreamError> {
        #[derive(Deserialize)]
        struct Started {
            service: String,
        }
        let s: Started = self
            .call(
                "PUT /auth/{componentType}/ticket/{ticket}",
                Method::PUT,
                &["auth", component_type, "ticket", ticket],
                &[],
                None,
            )
            .await?;
        Ok(s.service)
    }

    /// `GET /auth/status/:ticket`.
    pub async fn auth_status(&self, ticket: &str) -> Result<AuthStatus, UpstreamError> {
        self.get(
            "GET /auth/status/{ticket}",
            &["auth", "status", ticket],
            &[],
        )
        .await
    }

    /// `DELETE /auth/component/:componentId`: clears the component's account.
    pub async fn unassign_account(&self, component_id: &str) -> Result<String, UpstreamError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Cleared {
            component_id: String,
        }
        let c: Cleared = self
            .call(
                "DELETE /auth/component/{componentId}",
                Method::DELETE,
                &["auth", "component", component_id],
                &[],
                None,
            )
            .await?;
        Ok(c.component_id)
    }

    /// `PUT /auth/component/:componentId/:accountId`.
    pub async fn assign_account(
        &self,
        component_id: &str,
        account_id: &str,
    ) -> Result<Assignment, UpstreamError> {
        self.call(
            "PUT /auth/component/{componentId}/{accountId}",
            Method::PUT,
            &["auth", "component", component_id, account_id],
            &[],
            None,
        )
        .await
    }

    /// `GET /logs` for some flows (repeated `flowId`), `from`/`size` paging.
    pub async fn logs(&self, q: &LogQuery) -> Result<Logs, UpstreamError> {
        let mut query: Vec<(&str, String)> =
            q.flow_ids.iter().map(|f| ("flowId", f.clone())).collect();
        let optional = [
            ("from", q.from.map(|v| v.to_string())),
            ("size", q.size.map(|v| v.to_string())),
            ("sort", q.sort.clone()),
            ("query", q.query.clone()),
        ];
        query.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        self.get("GET /logs", &["logs"], &query).await
    }
}
