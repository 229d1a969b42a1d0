//! The Appy Pie Connect API sandbox: endpoints A0 and 1–23 of the contract, over an in-memory,
//! per-tenant store.

mod data;

use super::fixtures::{FixtureConfig, DEMO_USERS};
use super::hooks::{admin_routes, observe, Hooks, Vendor};
use super::support::{iso, json_object, now_ms, Params, Rng};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use data::{Catalogue, Connect, ConnectedAccount, HistoryEntry, Session, Step, Tenant};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Where the Connect API lives on the sandbox, as on `developer.appypie.com`.
pub const BASE_PATH: &str = "/api/v2/integrations";

type Reply = Result<Response, Response>;

struct Store {
    tenants: Vec<Tenant>,
    tokens: HashMap<String, usize>,
    rng: Rng,
}

/// Every route key the router below serves, but its `/__sandbox` pages (`Hooks::count` refuses
/// any other).
pub const ROUTES: [&str; 25] = [
    "POST /create-refresh-token",
    "GET /me",
    "GET /categories",
    "GET /apps",
    "GET /app/{app_id}",
    "POST /{auth_type}/{app_id}/{seo_link}",
    "GET /user-connected-account/by-token",
    "GET /user-connected-accounts",
    "GET /popular-matches",
    "GET /popular-match/{id}",
    "GET /app/trigger/list/{app_id}",
    "GET /app/trigger/detail/{id}",
    "GET /app/action/list/{app_id}",
    "GET /app/action/detail/{id}",
    "POST /connect",
    "GET /connect/list",
    "DELETE /connect/{id}",
    "GET /connect/{id}/dropdown-options",
    "PUT /connect/{id}/trigger",
    "PUT /connect/{id}/action",
    "POST /connect/{id}/test",
    "PUT /connect/{id}/on",
    "PUT /connect/{id}/off",
    "PUT /connect/{id}/name",
    "GET /connect/{id}/history",
];

/// The Appy Pie sandbox: catalogue, tenants and hooks.
pub struct AppyPie {
    cat: Catalogue,
    store: Mutex<Store>,
    pub hooks: Arc<Hooks>,
}

impl AppyPie {
    pub fn new(cfg: &FixtureConfig) -> Arc<Self> {
        let mut rng = Rng::new(cfg.seed ^ 0xA991_E000);
        let cat = data::build_catalogue(cfg, &mut rng);
        let tenants = data::build_tenants(cfg, &mut rng, &cat);
        let tokens = DEMO_USERS
            .iter()
            .enumerate()
            .map(|(i, u)| (u.appypie_token.to_string(), i))
            .collect();
        Arc::new(AppyPie {
            cat,
            store: Mutex::new(Store {
                tenants,
                tokens,
                rng,
            }),
            hooks: Hooks::new(Vendor::AppyPie, BASE_PATH, &ROUTES),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The router: A0 at the root, endpoints 1–23 under [`BASE_PATH`], admin routes.
    pub fn router(self: &Arc<Self>) -> Router {
        let b = |p: &str| format!("{BASE_PATH}{p}");
        Router::new()
            .route("/create-refresh-token", post(create_refresh_token))
            .route(&b("/me"), get(profile))
            .route(&b("/categories"), get(categories))
            .route(&b("/apps"), get(apps))
            .route(&b("/app/{app_id}"), get(app_detail))
            .route(
                &b("/{auth_type}/{app_id}/{seo_link}"),
                post(connect_account),
            )
            .route(
                &b("/user-connected-account/by-token"),
                get(account_by_token),
            )
            .route(&b("/user-connected-accounts"), get(accounts))
            .route(&b("/popular-matches"), get(popular_matches))
            .route(&b("/popular-match/{id}"), get(popular_match))
            .route(&b("/app/trigger/list/{app_id}"), get(trigger_list))
            .route(&b("/app/trigger/detail/{id}"), get(trigger_detail))
            .route(&b("/app/action/list/{app_id}"), get(action_list))
            .route(&b("/app/action/detail/{id}"), get(action_detail))
            .route(&b("/connect"), post(create_connect))
            .route(&b("/connect/list"), get(connect_list))
            .route(&b("/connect/{id}"), delete(delete_connect))
            .route(&b("/connect/{id}/dropdown-options"), get(dropdown_options))
            .route(&b("/connect/{id}/trigger"), put(edit_trigger))
            .route(&b("/connect/{id}/action"), put(edit_action))
            .route(&b("/connect/{id}/test"), post(test_connect))
            .route(&b("/connect/{id}/on"), put(turn_on))
            .route(&b("/connect/{id}/off"), put(turn_off))
            .route(&b("/connect/{id}/name"), put(rename))
            .route(&b("/connect/{id}/history"), get(history))
            .route("/__sandbox/authorize", get(authorize))
            .fallback(|| async {
                fail(
                    StatusCode::NOT_FOUND,
                    404,
                    "The specified method could not be found.",
                )
            })
            .method_not_allowed_fallback(|| async {
                fail(
                    StatusCode::METHOD_NOT_ALLOWED,
                    405,
                    "You tried to access a method with an invalid method.",
                )
            })
            .with_state(self.clone())
            .merge(admin_routes(self.hooks.clone()))
            .layer(axum::middleware::from_fn_with_state(
                self.hooks.clone(),
                observe,
            ))
    }

    /// The tenant index for the request's token, or the vendor's 401.
    fn tenant_of(&self, headers: &HeaderMap) -> Result<usize, Response> {
        let token = headers
            .get("accesstoken")
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(fail(StatusCode::UNAUTHORIZED, 2032, "API Key is required"));
        };
        self.lock()
            .tokens
            .get(token)
            .copied()
            .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, 2036, "Invalid API Key"))
    }
}

fn fail(status: StatusCode, code: u32, message: &str) -> Response {
    Vendor::AppyPie.error(status, Some(code), message)
}

fn not_found(what: &str) -> Response {
    fail(StatusCode::NOT_FOUND, 404, &format!("{what} not found"))
}

fn bad_request(message: &str) -> Response {
    fail(StatusCode::BAD_REQUEST, 400, message)
}

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The superset success envelope around already-rendered JSON.
fn ok_raw(data: &str) -> Response {
    json_response(format!(
        "{{\"status\":\"1\",\"success\":true,\"data\":{data}}}"
    ))
}

fn ok(data: impl Serialize) -> Reply {
    Ok(ok_raw(&serde_json::to_string(&data).unwrap_or_default()))
}

/// One page of already-rendered items, with the contract's `page`/`limit`/`total`.
fn paged_raw<'a>(items: impl Iterator<Item = &'a str>, page: Paging) -> Reply {
    let all: Vec<&str> = items.collect();
    let slice = page.slice(&all);
    Ok(json_response(format!(
        "{{\"status\":\"1\",\"success\":true,\"data\":[{}],\"page\":{},\"limit\":{},\"total\":{}}}",
        slice.join(","),
        page.page,
        page.limit,
        all.len()
    )))
}

fn paged<T: Serialize>(items: &[T], page: Paging) -> Reply {
    let rendered: Vec<String> = items
        .iter()
        .map(|i| serde_json::to_string(i).unwrap_or_default())
        .collect();
    paged_raw(rendered.iter().map(String::as_str), page)
}

#[derive(Clone, Copy)]
struct Paging {
    page: usize,
    limit: usize,
}

impl Paging {
    /// `page` is 1-based (default 1); `limit` defaults to 50 and is capped at 100.
    fn from(params: &Params) -> Result<Paging, Response> {
        let page = params
            .number("page")
            .map_err(|e| bad_request(&e))?
            .unwrap_or(1);
        let limit = params
            .number("limit")
            .map_err(|e| bad_request(&e))?
            .unwrap_or(50);
        if page == 0 || limit == 0 {
            return Err(bad_request("page and limit must be at least 1"));
        }
        Ok(Paging {
            page,
            limit: limit.min(100),
        })
    }

    fn slice<'a, T>(&self, all: &'a [T]) -> &'a [T] {
        let start = (self.page - 1).saturating_mul(self.limit).min(all.len());
        let end = start.saturating_add(self.limit).min(all.len());
        &all[start..end]
    }
}

/// A JSON object body, or the vendor's 400.
fn body_object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    json_object(body).ok_or_else(|| bad_request("Body must be a JSON object"))
}

fn string_field<'a>(map: &'a Map<String, Value>, key: &str) -> Result<&'a str, Response> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_request(&format!("{key} is required")))
}

type Shared = State<Arc<AppyPie>>;

async fn create_refresh_token(RawQuery(q): RawQuery, body: Bytes) -> Reply {
    let params = Params::parse(q.as_deref());
    let map = body_object(&body).unwrap_or_default();
    let pick = |key: &str| {
        params
            .get(key)
            .map(str::to_string)
            .or_else(|| map.get(key).and_then(Value::as_str).map(str::to_string))
            .filter(|v| !v.is_empty())
    };
    let (Some(key), Some(secret)) = (pick("tokenKey"), pick("secretKey")) else {
        return Err(fail(StatusCode::UNAUTHORIZED, 2032, "API Key is required"));
    };
    let user = DEMO_USERS
        .iter()
        .find(|u| u.token_key == key && u.secret_key == secret)
        .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, 2036, "Invalid API Key"))?;
    Ok(json_response(
        json!({ "status": "1", "accessToken": user.appypie_token }).to_string(),
    ))
}

async fn profile(State(s): Shared, headers: HeaderMap) -> Reply {
    let t = s.tenant_of(&headers)?;
    ok(&s.lock().tenants[t].profile)
}

async fn categories(State(s): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    s.tenant_of(&headers)?;
    paged(
        &s.cat.categories,
        Paging::from(&Params::parse(q.as_deref()))?,
    )
}

async fn apps(State(s): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    s.tenant_of(&headers)?;
    let params = Params::parse(q.as_deref());
    let page = Paging::from(&params)?;
    let category = params.get("categoryId");
    let search = params.get("search").map(str::to_lowercase);
    let items = s.cat.apps.iter().zip(&s.cat.app_json).filter(|(app, _)| {
        category.is_none_or(|c| app.category_id == c)
            && search
                .as_deref()
                .is_none_or(|q| app.name.to_lowercase().contains(q))
    });
    paged_raw(items.map(|(_, json)| json.as_str()), page)
}

async fn app_detail(State(s): Shared, headers: HeaderMap, Path(app_id): Path<String>) -> Reply {
    s.tenant_of(&headers)?;
    let i = *s
        .cat
        .app_index
        .get(&app_id)
        .ok_or_else(|| not_found("App"))?;
    Ok(ok_raw(&s.cat.app_detail_json[i]))
}

async fn step_list(
    s: &AppyPie,
    headers: &HeaderMap,
    q: Option<String>,
    app_id: &str,
    triggers: bool,
) -> Reply {
    s.tenant_of(headers)?;
    let page = Paging::from(&Params::parse(q.as_deref()))?;
    if !s.cat.app_index.contains_key(app_id) {
        return Err(not_found("App"));
    }
    let (by_app, json) = if triggers {
        (&s.cat.triggers_by_app, &s.cat.trigger_json)
    } else {
        (&s.cat.actions_by_app, &s.cat.action_json)
    };
    let ids = by_app.get(app_id).map(Vec::as_slice).unwrap_or_default();
    paged_raw(ids.iter().map(|&i| json[i].as_str()), page)
}

async fn trigger_list(
    State(s): Shared,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(app_id): Path<String>,
) -> Reply {
    step_list(&s, &headers, q, &app_id, true).await
}

async fn action_list(
    State(s): Shared,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(app_id): Path<String>,
) -> Reply {
    step_list(&s, &headers, q, &app_id, false).await
}

async fn trigger_detail(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    s.tenant_of(&headers)?;
    let i = *s
        .cat
        .trigger_index
        .get(&id)
        .ok_or_else(|| not_found("Trigger"))?;
    Ok(ok_raw(&s.cat.trigger_json[i]))
}

async fn action_detail(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    s.tenant_of(&headers)?;
    let i = *s
        .cat
        .action_index
        .get(&id)
        .ok_or_else(|| not_found("Action"))?;
    Ok(ok_raw(&s.cat.action_json[i]))
}

async fn popular_matches(State(s): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    s.tenant_of(&headers)?;
    let params = Params::parse(q.as_deref());
    let page = Paging::from(&params)?;
    let app = params.get("appId");
    let items = s
        .cat
        .popular
        .iter()
        .zip(&s.cat.popular_json)
        .filter(|(pm, _)| app.is_none_or(|a| pm.trigger_app_id == a || pm.action_app_id == a));
    paged_raw(items.map(|(_, json)| json.as_str()), page)
}

async fn popular_match(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    s.tenant_of(&headers)?;
    let i = *s
        .cat
        .popular_index
        .get(&id)
        .ok_or_else(|| not_found("Popular match"))?;
    Ok(ok_raw(&s.cat.popular_detail_json[i]))
}

async fn connect_account(
    State(s): Shared,
    headers: HeaderMap,
    Path((auth_type, app_id, seo_link)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    if !data::AUTH_TYPES.contains(&auth_type.as_str()) {
        return Err(fail(
            StatusCode::NOT_FOUND,
            404,
            "The specified method could not be found.",
        ));
    }
    let t = s.tenant_of(&headers)?;
    let app = s
        .cat
        .app(&app_id)
        .filter(|a| a.seo_link == seo_link)
        .ok_or_else(|| not_found("App"))?;
    if app.auth_type != auth_type {
        return Err(bad_request(&format!("{} uses {}", app.name, app.auth_type)));
    }
    let map = body_object(&body)?;
    let callback = string_field(&map, "appypie-partner-cb")?.to_string();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut store = s.lock();
    let token = store.rng.alnum(32);
    store.tenants[t].sessions.insert(
        token.clone(),
        Session {
            app_id: app.app_id.clone(),
            callback,
            account_id: None,
        },
    );
    ok(json!({ "url": format!("http://{host}/__sandbox/authorize?t={token}") }))
}

/// Stands in for the end user finishing authorization at the URL from endpoint 5.
async fn authorize(State(s): Shared, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let token = params
        .get("t")
        .ok_or_else(|| bad_request("t is required"))?;
    let mut guard = s.lock();
    let store = &mut *guard;
    let tenant = store
        .tenants
        .iter_mut()
        .find(|t| t.sessions.contains_key(token))
        .ok_or_else(|| not_found("Connection session"))?;
    let email = tenant.profile.email.clone();
    let Some(session) = tenant.sessions.get_mut(token) else {
        return Err(not_found("Connection session"));
    };
    if session.account_id.is_none() {
        let app = s.cat.app(&session.app_id).ok_or_else(|| not_found("App"))?;
        let now = iso(now_ms());
        let account = ConnectedAccount {
            id: store.rng.object_id(),
            app_id: app.app_id.clone(),
            created_at: now.clone(),
            updated_at: now,
            name: format!("{} ({email})", app.name),
            auth_type: app.auth_type,
            status: "active",
        };
        session.account_id = Some(account.id.clone());
        tenant.accounts.push(account);
    }
    let Some(session) = tenant.sessions.get(token) else {
        return Err(not_found("Connection session"));
    };
    let sep = if session.callback.contains('?') {
        '&'
    } else {
        '?'
    };
    let redirect = format!("{}{sep}t={token}", session.callback);
    Ok(
        axum::Json(json!({ "redirect": redirect, "accountId": session.account_id }))
            .into_response(),
    )
}

async fn account_by_token(
    State(s): Shared,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let t = s.tenant_of(&headers)?;
    let params = Params::parse(q.as_deref());
    let map = body_object(&body).unwrap_or_default();
    let token = params
        .get("t")
        .or_else(|| map.get("t").and_then(Value::as_str))
        .ok_or_else(|| bad_request("t is required"))?;
    let store = s.lock();
    let tenant = &store.tenants[t];
    let account = tenant
        .sessions
        .get(token)
        .and_then(|sess| sess.account_id.as_deref())
        .and_then(|id| tenant.account(id))
        .ok_or_else(|| not_found("Connected account"))?;
    ok(account)
}

async fn accounts(State(s): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    let t = s.tenant_of(&headers)?;
    let params = Params::parse(q.as_deref());
    let app = params.get("appId").filter(|v| !v.is_empty());
    let account = params.get("accountId").filter(|v| !v.is_empty());
    if app.is_none() && account.is_none() {
        return Err(bad_request("Pass appId or accountId"));
    }
    let store = s.lock();
    let found: Vec<&ConnectedAccount> = store.tenants[t]
        .accounts
        .iter()
        .filter(|a| app.is_none_or(|x| a.app_id == x) && account.is_none_or(|x| a.id == x))
        .collect();
    ok(found)
}

async fn create_connect(State(s): Shared, headers: HeaderMap, body: Bytes) -> Reply {
    let t = s.tenant_of(&headers)?;
    let map = body_object(&body)?;
    let pm_id = string_field(&map, "popularMatchId")?;
    let trigger_account = string_field(&map, "triggerAccountId")?;
    let action_account = string_field(&map, "actionAccountId")?;
    let pm = s
        .cat
        .popular_match(pm_id)
        .ok_or_else(|| not_found("Popular match"))?;
    let mut store = s.lock();
    let store = &mut *store;
    let tenant = &mut store.tenants[t];
    for (id, app) in [
        (trigger_account, &pm.trigger_app_id),
        (action_account, &pm.action_app_id),
    ] {
        let account = tenant
            .account(id)
            .ok_or_else(|| not_found("Connected account"))?;
        if &account.app_id != app {
            return Err(bad_request(&format!(
                "Account {id} does not belong to app {app}"
            )));
        }
    }
    let now = iso(now_ms());
    let connect = Connect {
        id: store.rng.object_id(),
        name: map
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&pm.title)
            .to_string(),
        status: "off",
        popular_match_id: Some(pm.id.clone()),
        trigger_app_id: pm.trigger_app_id.clone(),
        trigger_id: pm.trigger_id.clone(),
        trigger_account_id: trigger_account.to_string(),
        trigger_options: Map::new(),
        action_app_id: pm.action_app_id.clone(),
        action_id: pm.action_id.clone(),
        action_account_id: action_account.to_string(),
        action_options: Map::new(),
        created_at: now.clone(),
        updated_at: now,
    };
    tenant.history.insert(connect.id.clone(), Vec::new());
    tenant.connects.insert(0, connect.clone());
    ok(connect)
}

async fn connect_list(State(s): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    let t = s.tenant_of(&headers)?;
    let params = Params::parse(q.as_deref());
    let page = Paging::from(&params)?;
    let status = params.get("status").filter(|v| !v.is_empty());
    if status.is_some_and(|v| v != "on" && v != "off") {
        return Err(bad_request("status must be on or off"));
    }
    let store = s.lock();
    let found: Vec<&Connect> = store.tenants[t]
        .connects
        .iter()
        .filter(|c| status.is_none_or(|v| c.status == v))
        .collect();
    paged(&found, page)
}

/// Runs `f` on the caller's connect `id`, or answers 404.
fn with_connect<R>(
    s: &AppyPie,
    headers: &HeaderMap,
    id: &str,
    f: impl FnOnce(&mut Store, usize, usize) -> Result<R, Response>,
) -> Result<R, Response> {
    let t = s.tenant_of(headers)?;
    let mut store = s.lock();
    let c = store.tenants[t]
        .connects
        .iter()
        .position(|c| c.id == id)
        .ok_or_else(|| not_found("Connect"))?;
    f(&mut store, t, c)
}

async fn delete_connect(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    with_connect(&s, &headers, &id, |store, t, c| {
        let tenant = &mut store.tenants[t];
        tenant.connects.remove(c);
        tenant.history.remove(&id);
        ok(json!({ "_id": id, "deleted": true }))
    })
}

fn side_step<'a>(cat: &'a Catalogue, connect: &Connect, side: &str) -> Result<&'a Step, Response> {
    let step = match side {
        "trigger" => cat.trigger(&connect.trigger_id),
        "action" => cat.action(&connect.action_id),
        _ => return Err(bad_request("side must be trigger or action")),
    };
    step.ok_or_else(|| not_found("Step"))
}

async fn dropdown_options(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let params = Params::parse(q.as_deref());
    let side = params.get("side").unwrap_or_default().to_string();
    let key = params
        .get("fieldKey")
        .ok_or_else(|| bad_request("fieldKey is required"))?
        .to_string();
    with_connect(&s, &headers, &id, |store, t, c| {
        let step = side_step(&s.cat, &store.tenants[t].connects[c], &side)?;
        let field = step
            .fields
            .iter()
            .find(|f| f.key == key)
            .ok_or_else(|| not_found("Field"))?;
        if field.kind != "select" {
            return Err(bad_request(&format!("{key} is not a select field")));
        }
        let options: Vec<Value> = data::dropdown_choices(&key)
            .into_iter()
            .map(|(label, value)| json!({ "label": label, "value": value }))
            .collect();
        ok(options)
    })
}

async fn edit_trigger(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    edit_side(&s, &headers, &id, &body, "trigger")
}

async fn edit_action(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    edit_side(&s, &headers, &id, &body, "action")
}

fn edit_side(s: &AppyPie, headers: &HeaderMap, id: &str, body: &Bytes, side: &str) -> Reply {
    let map = body_object(body)?;
    let options = match map.get("options") {
        Some(Value::Object(o)) if o.values().all(Value::is_string) => o.clone(),
        _ => return Err(bad_request("options must be an object of strings")),
    };
    let account_id = map
        .get("accountId")
        .and_then(Value::as_str)
        .map(str::to_string);
    with_connect(s, headers, id, |store, t, c| {
        let tenant = &mut store.tenants[t];
        let step = side_step(&s.cat, &tenant.connects[c], side)?;
        if let Some(unknown) = options
            .keys()
            .find(|k| !step.fields.iter().any(|f| &f.key == *k))
        {
            return Err(bad_request(&format!("Unknown field {unknown}")));
        }
        if let Some(acc) = &account_id {
            let account = tenant
                .account(acc)
                .ok_or_else(|| not_found("Connected account"))?;
            if account.app_id != step.app_id {
                return Err(bad_request(&format!(
                    "Account {acc} does not belong to app {}",
                    step.app_id
                )));
            }
        }
        let connect = &mut tenant.connects[c];
        let (target, account) = if side == "trigger" {
            (
                &mut connect.trigger_options,
                &mut connect.trigger_account_id,
            )
        } else {
            (&mut connect.action_options, &mut connect.action_account_id)
        };
        target.extend(options);
        if let Some(acc) = account_id {
            *account = acc;
        }
        connect.updated_at = iso(now_ms());
        ok(&*connect)
    })
}

/// The first required field left empty on either side, if any.
fn missing_field(cat: &Catalogue, connect: &Connect) -> Option<String> {
    let sides = [
        (cat.trigger(&connect.trigger_id), &connect.trigger_options),
        (cat.action(&connect.action_id), &connect.action_options),
    ];
    sides.into_iter().find_map(|(step, options)| {
        step?
            .fields
            .iter()
            .find(|f| f.required && !options.contains_key(&f.key))
            .map(|f| f.label.clone())
    })
}

async fn test_connect(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    with_connect(&s, &headers, &id, |store, t, c| {
        let connect = store.tenants[t].connects[c].clone();
        let missing = missing_field(&s.cat, &connect);
        let status = if missing.is_some() {
            "failed"
        } else {
            "success"
        };
        let message = match &missing {
            Some(label) => format!("Required field \"{label}\" is empty"),
            None => data::run_message(status).to_string(),
        };
        let entry = HistoryEntry {
            id: store.rng.object_id(),
            connect_id: id.clone(),
            status,
            is_test: true,
            message: message.clone(),
            created_at: iso(now_ms()),
        };
        let history_id = entry.id.clone();
        store.tenants[t]
            .history
            .entry(id.clone())
            .or_default()
            .insert(0, entry);
        let sample: Map<String, Value> = connect.trigger_options.clone();
        ok(json!({
            "connectId": id,
            "result": status,
            "historyId": history_id,
            "triggerSample": { "id": format!("sample-{}", &history_id[..8]), "fields": sample },
            "actionResponse": if missing.is_none() { json!({ "id": format!("res-{}", &history_id[..8]), "status": "ok" }) } else { Value::Null },
            "message": message,
        }))
    })
}

async fn turn_on(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    with_connect(&s, &headers, &id, |store, t, c| {
        let connect = &mut store.tenants[t].connects[c];
        if let Some(label) = missing_field(&s.cat, connect) {
            return Err(bad_request(&format!(
                "Cannot turn on: required field \"{label}\" is empty"
            )));
        }
        set_status(connect, "on")
    })
}

async fn turn_off(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    with_connect(&s, &headers, &id, |store, t, c| {
        set_status(&mut store.tenants[t].connects[c], "off")
    })
}

fn set_status(connect: &mut Connect, status: &'static str) -> Reply {
    if connect.status != status {
        connect.status = status;
        connect.updated_at = iso(now_ms());
    }
    ok(json!({ "_id": connect.id, "status": status }))
}

async fn rename(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let map = body_object(&body)?;
    let name = string_field(&map, "name")?.to_string();
    with_connect(&s, &headers, &id, |store, t, c| {
        let connect = &mut store.tenants[t].connects[c];
        connect.name = name;
        connect.updated_at = iso(now_ms());
        ok(json!({ "_id": connect.id, "name": connect.name }))
    })
}

async fn history(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let page = Paging::from(&Params::parse(q.as_deref()))?;
    with_connect(&s, &headers, &id, |store, t, _| {
        let entries = store.tenants[t]
            .history
            .get(&id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        paged(entries, page)
    })
}
