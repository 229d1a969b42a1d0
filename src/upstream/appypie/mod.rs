//! Typed client of the Appy Pie Connect API: endpoint A0 and endpoints 1–23.

pub mod model;

use super::http::{
    credential_header, decode, decode_shared, status_error, Call, HttpCore, Outgoing, Reply,
};
use super::{endless_list, ErrorKind, Page, Provider, Token, UpstreamError, MAX_ITEMS, MAX_PAGES};
use model::*;
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use url::Url;

const P: Provider = Provider::AppyPie;

/// Reads of catalogue data (the same for every user of a tenant, changed only on publish):
/// the only replies that may be cached across requests.
const CATALOGUE: &[&str] = &[
    "GET /categories",
    "GET /apps",
    "GET /app/{appId}",
    "GET /popular-matches",
    "GET /popular-match/{id}",
    "GET /app/trigger/list/{appId}",
    "GET /app/trigger/detail/{id}",
    "GET /app/action/list/{appId}",
    "GET /app/action/detail/{id}",
];

/// Where the Appy Pie API lives and how it wants the token.
#[derive(Clone, Debug)]
pub struct AppyPieConfig {
    /// Base of endpoints 1–23.
    pub base_url: Url,
    /// Base of the token endpoint A0 (`POST /create-refresh-token`).
    pub auth_base_url: Url,
    /// Header carrying the access token (`ACCESSTOKEN` by default); with `Authorization` the
    /// token is sent as `Bearer <token>`.
    pub token_header: HeaderName,
}

impl Default for AppyPieConfig {
    fn default() -> Self {
        AppyPieConfig {
            base_url: Url::parse("https://developer.appypie.com/api/v2/integrations")
                .expect("static URL"),
            auth_base_url: Url::parse("https://openapi2.appypie.com").expect("static URL"),
            token_header: HeaderName::from_static("accesstoken"),
        }
    }
}

/// The Appy Pie client; cheap to clone. Calls that need a user go through [`AppyPieClient::session`].
#[derive(Clone, Debug)]
pub struct AppyPieClient {
    http: HttpCore,
    config: Arc<AppyPieConfig>,
}

/// The client bound to one caller's access token.
#[derive(Clone, Debug)]
pub struct AppyPieSession {
    client: AppyPieClient,
    /// The token header's value, made once; `None` if the token cannot be a header.
    credential: Option<HeaderValue>,
}

/// The superset envelope: `{status: "1"}` and/or `{success: true}`, `data`, paging and error fields.
#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    status: Option<Value>,
    #[serde(default)]
    success: Option<bool>,
    #[serde(default = "Option::default")]
    data: Option<T>,
    #[serde(default)]
    page: Option<u64>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    total: Option<u64>,
}

#[derive(Deserialize)]
struct Failure {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenReply {
    #[serde(default)]
    status: Option<Value>,
    #[serde(default)]
    success: Option<bool>,
    access_token: String,
}

fn is_success(status: &Option<Value>, success: Option<bool>) -> bool {
    success == Some(true)
        || matches!(status, Some(Value::String(s)) if s == "1")
        || matches!(status, Some(Value::Number(n)) if n.as_i64() == Some(1))
}

/// Turns a reply into an error unless it is a 2xx success envelope; returns the envelope.
fn envelope<T: DeserializeOwned>(
    op: &'static str,
    reply: &Reply,
) -> Result<Envelope<T>, UpstreamError> {
    checked::<_, T>(op, reply, |r| decode(P, op, r))
}

/// Like [`envelope`], decoded once for every caller that shares the reply.
fn shared_envelope<T: DeserializeOwned + Send + Sync + 'static>(
    op: &'static str,
    reply: &Reply,
) -> Result<Arc<Envelope<T>>, UpstreamError> {
    checked::<_, T>(op, reply, |r| decode_shared(P, op, r))
}

/// The envelope `read` decodes, unless the reply is not a 2xx success envelope.
fn checked<E: std::borrow::Borrow<Envelope<T>>, T>(
    op: &'static str,
    reply: &Reply,
    read: impl FnOnce(&Reply) -> Result<E, UpstreamError>,
) -> Result<E, UpstreamError> {
    if !reply.status.is_success() {
        return Err(failure(op, reply));
    }
    let env = read(reply)?;
    let seen: &Envelope<T> = env.borrow();
    if !is_success(&seen.status, seen.success) {
        return Err(failure(op, reply));
    }
    Ok(env)
}

fn failure(op: &'static str, reply: &Reply) -> UpstreamError {
    let body: Option<Failure> = serde_json::from_slice(&reply.body).ok();
    let (code, message) = body.map(|f| (f.code, f.message)).unwrap_or((None, None));
    let vendor_code = code.filter(|c| *c >= 1000);
    let mut err = status_error(P, op, reply, vendor_code, message);
    if reply.status.is_success() {
        err.kind = vendor_code.map_or(ErrorKind::BadRequest, |c| {
            UpstreamError::kind_for(400, Some(c))
        });
    }
    err
}

fn invalid(op: &'static str, reply: &Reply) -> UpstreamError {
    UpstreamError {
        status: Some(reply.status.as_u16()),
        ..UpstreamError::new(P, ErrorKind::InvalidResponse, op)
    }
}

fn page_query(page: PageRequest) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if let Some(p) = page.page {
        q.push(("page", p.to_string()));
    }
    if let Some(l) = page.limit {
        q.push(("limit", l.to_string()));
    }
    q
}

impl AppyPieClient {
    /// The vendor's breaker and last call, for `/readyz`.
    pub fn health(&self) -> super::VendorHealth {
        self.http.health()
    }

    pub fn new(http: HttpCore, config: AppyPieConfig) -> Self {
        AppyPieClient {
            http,
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &AppyPieConfig {
        &self.config
    }

    /// Binds the client to a caller's access token.
    pub fn session(&self, token: Token) -> AppyPieSession {
        let header = &self.config.token_header;
        let raw = if header == AUTHORIZATION {
            format!("Bearer {}", token.expose())
        } else {
            token.expose().to_string()
        };
        AppyPieSession {
            client: self.clone(),
            credential: credential_header(&raw),
        }
    }

    /// A0: exchanges a `tokenKey`/`secretKey` pair for an access token.
    pub async fn create_access_token(
        &self,
        token_key: &str,
        secret_key: &str,
    ) -> Result<Token, UpstreamError> {
        const OP: &str = "POST /create-refresh-token";
        let body = json!({ "tokenKey": token_key, "secretKey": secret_key });
        let outgoing = Outgoing {
            method: Method::POST,
            base: &self.config.auth_base_url,
            segments: &["create-refresh-token"],
            query: &[],
            credential: None,
            body: Some(&body),
        };
        let reply = self.http.send(P, OP, outgoing, Call::Write).await?;
        if !reply.status.is_success() {
            return Err(failure(OP, &reply));
        }
        let token: TokenReply = decode(P, OP, &reply)?;
        if !is_success(&token.status, token.success) || token.access_token.is_empty() {
            return Err(failure(OP, &reply));
        }
        Ok(Token::new(token.access_token))
    }
}

impl AppyPieSession {
    async fn send(
        &self,
        op: &'static str,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, UpstreamError> {
        let header = &self.client.config.token_header;
        let value = self
            .credential
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
            credential: Some((header.clone(), value)),
            body,
        };
        // Boxed: a fan-out moves each look-up's future around whole; this keeps it small.
        Box::pin(http.send(P, op, outgoing, call)).await
    }

    async fn data<T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T, UpstreamError> {
        let reply = self.send(op, method, segments, query, body).await?;
        envelope::<T>(op, &reply)?
            .data
            .ok_or_else(|| invalid(op, &reply))
    }

    /// A page of a list. Its items are decoded once for every caller that shares the reply and
    /// copied for each (cheap for items that are `Arc`s).
    async fn page<T: DeserializeOwned + Clone + Send + Sync + 'static>(
        &self,
        op: &'static str,
        segments: &[&str],
        query: Vec<(&str, String)>,
    ) -> Result<Page<T>, UpstreamError> {
        let reply = self.send(op, Method::GET, segments, &query, None).await?;
        let env = shared_envelope::<Vec<T>>(op, &reply)?;
        let items = env.data.clone().ok_or_else(|| invalid(op, &reply))?;
        let len = items.len() as u64;
        Ok(Page {
            page: env.page.unwrap_or(1),
            limit: env.limit.unwrap_or(len),
            total: env.total.unwrap_or(len),
            items,
        })
    }

    /// 1. The caller's profile.
    pub async fn profile(&self) -> Result<Profile, UpstreamError> {
        self.data("GET /me", Method::GET, &["me"], &[], None).await
    }

    /// 2. Categories.
    pub async fn categories(&self, page: PageRequest) -> Result<Page<Category>, UpstreamError> {
        self.page("GET /categories", &["categories"], page_query(page))
            .await
    }

    /// 3. Available apps, optionally by category or name.
    pub async fn apps(
        &self,
        filter: &AppFilter,
        page: PageRequest,
    ) -> Result<Page<Arc<App>>, UpstreamError> {
        let mut query = page_query(page);
        if let Some(c) = &filter.category_id {
            query.push(("categoryId", c.clone()));
        }
        if let Some(s) = &filter.search {
            query.push(("search", s.clone()));
        }
        self.page("GET /apps", &["apps"], query).await
    }

    /// 4. One app with its description and trigger/action counts.
    pub async fn app(&self, app_id: &str) -> Result<AppDetail, UpstreamError> {
        self.data("GET /app/{appId}", Method::GET, &["app", app_id], &[], None)
            .await
    }

    /// 5. Starts connecting an account: returns the URL the end user must visit.
    pub async fn connect_account(
        &self,
        auth_type: AuthType,
        app_id: &str,
        seo_link: &str,
        partner_callback: &str,
    ) -> Result<AuthorizationUrl, UpstreamError> {
        let body = json!({ "appypie-partner-cb": partner_callback });
        self.data(
            "POST /{authType}/{appId}/{seoLink}",
            Method::POST,
            &[auth_type.as_str(), app_id, seo_link],
            &[],
            Some(&body),
        )
        .await
    }

    /// 6a. The account connected with the one-time token `t` from the partner callback.
    pub async fn connected_account_by_token(
        &self,
        t: &str,
    ) -> Result<ConnectedAccount, UpstreamError> {
        let query = [("t", t.to_string())];
        self.data(
            "GET /user-connected-account/by-token",
            Method::GET,
            &["user-connected-account", "by-token"],
            &query,
            None,
        )
        .await
    }

    /// 6b. Connected accounts of one app, or the one account with `account_id`.
    pub async fn connected_accounts(
        &self,
        app_id: Option<&str>,
        account_id: Option<&str>,
    ) -> Result<Vec<ConnectedAccount>, UpstreamError> {
        let mut query = Vec::new();
        if let Some(a) = app_id {
            query.push(("appId", a.to_string()));
        }
        if let Some(a) = account_id {
            query.push(("accountId", a.to_string()));
        }
        self.data(
            "GET /user-connected-accounts",
            Method::GET,
            &["user-connected-accounts"],
            &query,
            None,
        )
        .await
    }

    /// 7. Popular matches (templates), optionally those involving one app.
    pub async fn popular_matches(
        &self,
        app_id: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<PopularMatch>, UpstreamError> {
        let mut query = page_query(page);
        if let Some(a) = app_id {
            query.push(("appId", a.to_string()));
        }
        self.page("GET /popular-matches", &["popular-matches"], query)
            .await
    }

    /// 8. One popular match with its trigger and action.
    pub async fn popular_match(&self, id: &str) -> Result<PopularMatchDetail, UpstreamError> {
        self.data(
            "GET /popular-match/{id}",
            Method::GET,
            &["popular-match", id],
            &[],
            None,
        )
        .await
    }

    /// 9. Triggers of one app.
    pub async fn triggers(
        &self,
        app_id: &str,
        page: PageRequest,
    ) -> Result<Page<Trigger>, UpstreamError> {
        self.page(
            "GET /app/trigger/list/{appId}",
            &["app", "trigger", "list", app_id],
            page_query(page),
        )
        .await
    }

    /// 10. One trigger.
    pub async fn trigger(&self, id: &str) -> Result<Trigger, UpstreamError> {
        self.data(
            "GET /app/trigger/detail/{id}",
            Method::GET,
            &["app", "trigger", "detail", id],
            &[],
            None,
        )
        .await
    }

    /// 11. Actions of one app.
    pub async fn actions(
        &self,
        app_id: &str,
        page: PageRequest,
    ) -> Result<Page<Action>, UpstreamError> {
        self.page(
            "GET /app/action/list/{appId}",
            &["app", "action", "list", app_id],
            page_query(page),
        )
        .await
    }

    /// 12. One action.
    pub async fn action(&self, id: &str) -> Result<Action, UpstreamError> {
        self.data(
            "GET /app/action/detail/{id}",
            Method::GET,
            &["app", "action", "detail", id],
            &[],
            None,
        )
        .await
    }

    /// 13. Creates a connect (starting `off`) from a popular match.
    pub async fn create_connect(&self, input: &NewConnect) -> Result<Connect, UpstreamError> {
        let body = to_value(input);
        self.data(
            "POST /connect",
            Method::POST,
            &["connect"],
            &[],
            Some(&body),
        )
        .await
    }

    /// 14. Choices of a select field on one side of a connect.
    pub async fn dropdown_options(
        &self,
        connect_id: &str,
        side: Side,
        field_key: &str,
    ) -> Result<Vec<DropdownOption>, UpstreamError> {
        let query = [
            ("side", side.as_str().to_string()),
            ("fieldKey", field_key.to_string()),
        ];
        self.data(
            "GET /connect/{id}/dropdown-options",
            Method::GET,
            &["connect", connect_id, "dropdown-options"],
            &query,
            None,
        )
        .await
    }

    /// 15 and 16. Sets trigger or action options (and optionally the account) of a connect.
    pub async fn edit_options(
        &self,
        connect_id: &str,
        side: Side,
        input: &StepOptions,
    ) -> Result<Connect, UpstreamError> {
        let op = match side {
            Side::Trigger => "PUT /connect/{id}/trigger",
            Side::Action => "PUT /connect/{id}/action",
        };
        let body = to_value(input);
        self.data(
            op,
            Method::PUT,
            &["connect", connect_id, side.as_str()],
            &[],
            Some(&body),
        )
        .await
    }

    /// 17. Runs a test of a connect; the run is appended to its history.
    pub async fn test_connect(&self, connect_id: &str) -> Result<TestResult, UpstreamError> {
        self.data(
            "POST /connect/{id}/test",
            Method::POST,
            &["connect", connect_id, "test"],
            &[],
            None,
        )
        .await
    }

    /// 18 and 22. Turns a connect on or off.
    pub async fn set_connect_status(
        &self,
        connect_id: &str,
        status: ConnectStatus,
    ) -> Result<StatusChange, UpstreamError> {
        let op = match status {
            ConnectStatus::On => "PUT /connect/{id}/on",
            ConnectStatus::Off => "PUT /connect/{id}/off",
        };
        self.data(
            op,
            Method::PUT,
            &["connect", connect_id, status.as_str()],
            &[],
            None,
        )
        .await
    }

    /// 19. Renames a connect.
    pub async fn rename_connect(
        &self,
        connect_id: &str,
        name: &str,
    ) -> Result<NameChange, UpstreamError> {
        let body = json!({ "name": name });
        self.data(
            "PUT /connect/{id}/name",
            Method::PUT,
            &["connect", connect_id, "name"],
            &[],
            Some(&body),
        )
        .await
    }

    /// 20. Run history of a connect, newest first.
    pub async fn connect_history(
        &self,
        connect_id: &str,
        page: PageRequest,
    ) -> Result<Page<HistoryEntry>, UpstreamError> {
        self.page(
            "GET /connect/{id}/history",
            &["connect", connect_id, "history"],
            page_query(page),
        )
        .await
    }

    /// 21. The caller's connects, optionally only those on or off.
    pub async fn connects(
        &self,
        status: Option<ConnectStatus>,
        page: PageRequest,
    ) -> Result<Page<Arc<Connect>>, UpstreamError> {
        let mut query = page_query(page);
        if let Some(s) = status {
            query.push(("status", s.as_str().to_string()));
        }
        self.page("GET /connect/list", &["connect", "list"], query)
            .await
    }

    /// 23. Deletes a connect.
    pub async fn delete_connect(&self, connect_id: &str) -> Result<Deleted, UpstreamError> {
        self.data(
            "DELETE /connect/{id}",
            Method::DELETE,
            &["connect", connect_id],
            &[],
            None,
        )
        .await
    }
}

fn to_value(input: &impl Serialize) -> Value {
    serde_json::to_value(input).unwrap_or(Value::Null)
}

/// Fetches every page of a paginated list, `limit` items at a time: at most [`MAX_PAGES`] pages
/// and [`MAX_ITEMS`] items, and each page must be the one asked for.
pub async fn all_pages<T, F, Fut>(limit: u32, mut fetch: F) -> Result<Vec<T>, UpstreamError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, UpstreamError>>,
{
    let stop = |why| endless_list(Provider::AppyPie, "paginated list", why);
    let mut items = Vec::new();
    for page in 1..=MAX_PAGES {
        let next = fetch(PageRequest::new(page, limit)).await?;
        if next.page != u64::from(page) && !next.items.is_empty() {
            return Err(stop("a page came back as another page"));
        }
        let last = next.is_last();
        items.extend(next.items);
        if items.len() > MAX_ITEMS {
            return Err(stop("more items than the gateway reads"));
        }
        if last {
            return Ok(items);
        }
    }
    Err(stop("more pages than the gateway reads"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::StatusCode;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.to_string().into(),
            decoded: Default::default(),
        }
    }

    fn data(status: u16, body: &str) -> Result<Vec<u32>, UpstreamError> {
        let r = reply(status, body);
        envelope::<Vec<u32>>("GET /x", &r)?
            .data
            .ok_or_else(|| invalid("GET /x", &r))
    }

    #[test]
    fn accepts_either_success_envelope() {
        assert_eq!(data(200, r#"{"success":true,"data":[1]}"#), Ok(vec![1]));
        assert_eq!(data(200, r#"{"status":"1","data":[2]}"#), Ok(vec![2]));
        assert_eq!(data(200, r#"{"status":1,"data":[3]}"#), Ok(vec![3]));
        assert_eq!(
            data(200, r#"{"status":"1","success":true,"data":[4]}"#),
            Ok(vec![4])
        );
    }

    #[test]
    fn rejects_what_is_not_a_success() {
        let kind = |status, body| data(status, body).unwrap_err().kind;
        assert_eq!(kind(200, r#"{"data":[1]}"#), ErrorKind::BadRequest);
        assert_eq!(
            kind(
                200,
                r#"{"status":"0","code":2036,"message":"Invalid API Key"}"#
            ),
            ErrorKind::Unauthorized
        );
        assert_eq!(kind(200, r#"{"success":true}"#), ErrorKind::InvalidResponse);
        assert_eq!(
            kind(200, r#"{"success":true,"data":{"a":1}}"#),
            ErrorKind::InvalidResponse
        );
        assert_eq!(kind(200, "<html>"), ErrorKind::InvalidResponse);
        assert_eq!(kind(502, "<html>"), ErrorKind::ServerError);
        let err = data(
            400,
            r#"{"status":"0","success":false,"code":2039,"message":"Email already exists"}"#,
        )
        .unwrap_err();
        assert_eq!(
            (err.kind, err.vendor_code),
            (ErrorKind::BadRequest, Some(2039))
        );
        assert_eq!(err.vendor_message.as_deref(), Some("Email already exists"));
    }

    #[test]
    fn token_never_shows_in_debug_or_errors() {
        let token = Token::new("super-secret");
        assert!(!format!("{token:?}").contains("super-secret"));
        let err = UpstreamError::new(P, ErrorKind::Unauthorized, "GET /me");
        assert_eq!(err.to_string(), "Appy Pie: GET /me credential refused");
    }
}
