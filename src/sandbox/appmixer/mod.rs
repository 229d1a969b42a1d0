//! The Appmixer API sandbox: sign-in, user, flows, apps and components, accounts and auth,
//! and logs, over an in-memory, per-tenant store.

mod data;

use super::fixtures::FixtureConfig;
use super::hooks::{admin_routes, observe, Hooks, Vendor};
use super::support::{iso, json_object, now_ms, Params, Rng};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use data::{AuthTicket, Catalogue, Flow, Tenant};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

type Reply = Result<Response, Response>;

struct Store {
    tenants: Vec<Tenant>,
    /// Token -> its tenant and, for a minted one, when it expires (Unix seconds).
    tokens: HashMap<String, (usize, Option<u64>)>,
    rng: Rng,
    /// Lifetime of minted tokens, in seconds.
    token_lifetime: u64,
}

/// Every route key the router below serves, but its `/__sandbox` pages (`Hooks::count` refuses
/// any other).
pub const ROUTES: [&str; 28] = [
    "POST /user/auth",
    "POST /user",
    "GET /user",
    "GET /flows",
    "POST /flows",
    "GET /flows/count",
    "GET /flows/{id}",
    "PUT /flows/{id}",
    "DELETE /flows/{id}",
    "POST /flows/{id}/coordinator",
    "GET /flows/{id}/coordinator/status",
    "GET /apps",
    "GET /apps/components",
    "GET /components",
    "GET /accounts",
    "POST /accounts",
    "PUT /accounts/{id}",
    "DELETE /accounts/{id}",
    "POST /accounts/{id}/test",
    "GET /accounts/{id}/flows",
    "POST /auth/ticket",
    "GET /auth/status/{ticket}",
    "DELETE /auth/component/{component_id}",
    "PUT /auth/component/{component_id}/{account_id}",
    "GET /auth/{component_type}",
    "GET /auth/{component_type}/auth-url/{ticket}",
    "PUT /auth/{component_type}/ticket/{ticket}",
    "GET /logs",
];

/// The Appmixer sandbox: catalogue, tenants and hooks.
pub struct Appmixer {
    cat: Catalogue,
    store: Mutex<Store>,
    pub hooks: Arc<Hooks>,
}

impl Appmixer {
    pub fn new(cfg: &FixtureConfig) -> Arc<Self> {
        let mut rng = Rng::new(cfg.seed ^ 0xA99_313E);
        let cat = data::build_catalogue(cfg, &mut rng);
        let tenants = data::build_tenants(cfg, &mut rng, &cat);
        let tokens = tenants
            .iter()
            .enumerate()
            .map(|(i, t)| (t.token.clone(), (i, None)))
            .collect();
        Arc::new(Appmixer {
            cat,
            store: Mutex::new(Store {
                tenants,
                tokens,
                rng,
                token_lifetime: 30 * 24 * 3600,
            }),
            hooks: Hooks::new(Vendor::Appmixer, "", &ROUTES),
        })
    }

    /// Test aid: adds a log entry to a flow of the tenant holding `token`, at `ts` (Unix
    /// milliseconds); the body's other fields are the contract's `LogEntry`.
    pub fn add_log(&self, token: &str, flow_id: &str, ts: i64, mut body: Value) {
        let mut store = self.lock();
        let Some(&(t, _)) = store.tokens.get(token) else {
            return;
        };
        let id = store.rng.object_id();
        if let Some(map) = body.as_object_mut() {
            map.entry("id").or_insert(json!(id));
            map.insert("@timestamp".into(), json!(iso(ts)));
            map.insert("flowId".into(), json!(flow_id));
        }
        store.tenants[t].logs.push(data::LogEntry {
            flow_id: flow_id.to_string(),
            ts,
            body,
        });
    }

    /// Test aid: the lifetime of the tokens sign-ins of created users mint from now on.
    pub fn set_token_lifetime(&self, lifetime: std::time::Duration) {
        self.lock().token_lifetime = lifetime.as_secs().max(1);
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/user/auth", post(sign_in))
            .route("/user", get(current_user).post(create_user))
            .route("/flows", get(list_flows).post(create_flow))
            .route("/flows/count", get(count_flows))
            .route(
                "/flows/{id}",
                get(get_flow).put(update_flow).delete(delete_flow),
            )
            .route("/flows/{id}/clone", post(clone_flow))
            .route("/flows/{id}/coordinator", post(coordinator))
            .route("/flows/{id}/coordinator/status", get(stop_status))
            .route("/apps", get(apps))
            .route("/apps/components", get(app_components))
            .route("/components", get(components))
            .route("/accounts", get(list_accounts).post(create_account))
            .route("/accounts/{id}", put(update_account).delete(remove_account))
            .route("/accounts/{id}/test", post(test_account))
            .route("/accounts/{id}/flows", get(account_flows))
            .route("/auth/ticket", post(auth_ticket))
            .route("/auth/status/{ticket}", get(auth_status))
            .route(
                "/auth/component/{component_id}",
                axum::routing::delete(unassign),
            )
            .route("/auth/component/{component_id}/{account_id}", put(assign))
            .route("/auth/{component_type}", get(component_accounts))
            .route("/auth/{component_type}/auth-url/{ticket}", get(auth_url))
            .route("/auth/{component_type}/ticket/{ticket}", put(start_session))
            .route("/logs", get(logs))
            .route("/__sandbox/authorize/{ticket}", get(complete_auth))
            .fallback(|| async { fail(StatusCode::NOT_FOUND, "Not Found") })
            .method_not_allowed_fallback(|| async {
                fail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
            })
            .with_state(self.clone())
            .merge(admin_routes(self.hooks.clone()))
            .layer(axum::middleware::from_fn_with_state(
                self.hooks.clone(),
                observe,
            ))
    }

    fn tenant_of(&self, headers: &HeaderMap) -> Result<usize, Response> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "Missing authentication token"))?;
        let (tenant, expires) = self
            .lock()
            .tokens
            .get(token)
            .copied()
            .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "Invalid token"))?;
        match expires {
            Some(exp) if exp <= unix_now() => Err(fail(StatusCode::UNAUTHORIZED, "Token expired")),
            _ => Ok(tenant),
        }
    }

    /// Runs `f` with the caller's tenant, under the store lock.
    fn with_tenant<R>(
        &self,
        headers: &HeaderMap,
        f: impl FnOnce(&mut Tenant, &mut Rng) -> Result<R, Response>,
    ) -> Result<R, Response> {
        let t = self.tenant_of(headers)?;
        let mut guard = self.lock();
        let store = &mut *guard;
        f(&mut store.tenants[t], &mut store.rng)
    }
}

fn fail(status: StatusCode, message: &str) -> Response {
    Vendor::Appmixer.error(status, None, message)
}

fn not_found(what: &str) -> Response {
    fail(StatusCode::NOT_FOUND, &format!("{what} not found"))
}

fn bad_request(message: &str) -> Response {
    fail(StatusCode::BAD_REQUEST, message)
}

fn raw(body: &str) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok(v: Value) -> Reply {
    Ok(axum::Json(v).into_response())
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    json_object(body).ok_or_else(|| bad_request("Body must be a JSON object"))
}

type Shared = State<Arc<Appmixer>>;

async fn sign_in(State(s): Shared, body: Bytes) -> Reply {
    let map = body_object(&body)?;
    let password = map.get("password").and_then(Value::as_str);
    let login = map
        .get("username")
        .or_else(|| map.get("email"))
        .and_then(Value::as_str);
    let (Some(login), Some(password)) = (login, password) else {
        return Err(bad_request("password and username or email are required"));
    };
    let mut store = s.lock();
    let found = store
        .tenants
        .iter()
        .position(|t| (t.user.username == login || t.user.email == login) && t.password == password)
        .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "Invalid username or password"))?;
    let token = match store.tenants[found].created {
        true => mint(&mut store, found),
        false => store.tenants[found].token.clone(),
    };
    let tenant = &store.tenants[found];
    ok(json!({
        "user": {
            "id": tenant.user.id,
            "username": tenant.user.username,
            "isActive": true,
            "email": tenant.user.email,
            "plan": tenant.user.plan,
            "metadata": {},
            "vendor": null,
        },
        "token": token,
    }))
}

/// `POST /user`: a new user with no flows or accounts, and a token for it.
async fn create_user(State(s): Shared, body: Bytes) -> Reply {
    let map = body_object(&body)?;
    let field = |k: &str| map.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let (Some(username), Some(email), Some(password)) =
        (field("username"), field("email"), field("password"))
    else {
        return Err(bad_request("username, email and password are required"));
    };
    let mut store = s.lock();
    let taken = store
        .tenants
        .iter()
        .any(|t| t.user.username == username || t.user.email == email);
    if taken {
        return Err(bad_request("User already exists"));
    }
    let user = data::User {
        id: store.rng.object_id(),
        username: username.to_string(),
        email: email.to_string(),
        plan: "free",
    };
    store.tenants.push(Tenant {
        user,
        token: String::new(),
        password: password.to_string(),
        created: true,
        accounts: Vec::new(),
        flows: Vec::new(),
        assignments: HashMap::new(),
        logs: Vec::new(),
        tickets: HashMap::new(),
    });
    let index = store.tenants.len() - 1;
    let token = mint(&mut store, index);
    Ok((StatusCode::CREATED, axum::Json(json!({ "token": token }))).into_response())
}

/// A new token of tenant `index`, shaped as Appmixer's (a JWT with `id`, `scope`, `iat` and
/// `exp`), valid for the store's token lifetime.
fn mint(store: &mut Store, index: usize) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let now = unix_now();
    let exp = now + store.token_lifetime;
    let claims = json!({
        "id": store.tenants[index].user.id, "scope": ["user"], "iat": now, "exp": exp,
    });
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = URL_SAFE_NO_PAD.encode(store.rng.object_id());
    let token = format!("{header}.{payload}.{signature}");
    let now = unix_now();
    store
        .tokens
        .retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
    store.tokens.insert(token.clone(), (index, Some(exp)));
    token
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn current_user(State(s): Shared, headers: HeaderMap) -> Reply {
    s.with_tenant(&headers, |t, _| {
        ok(json!({
            "id": t.user.id,
            "username": t.user.username,
            "isActive": true,
            "email": t.user.email,
            "scope": ["user"],
            "metadata": {},
            "plan": t.user.plan,
        }))
    })
}

/// The value at a dotted path, rendered as text for `prop:value` filters.
fn text_at(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for key in path.split('.') {
        cur = cur.get(key)?;
    }
    Some(match cur {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// `prop:value` (or `prop:!value`) matched against `v`.
fn filter_matches(v: &Value, filter: &str) -> Result<bool, Response> {
    let (prop, value) = filter
        .split_once(':')
        .ok_or_else(|| bad_request("filter must look like prop:value"))?;
    let (negate, value) = match value.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let equal = text_at(v, prop).is_some_and(|t| t == value);
    Ok(equal != negate)
}

fn number(params: &Params, key: &str, default: usize) -> Result<usize, Response> {
    Ok(params
        .number(key)
        .map_err(|e| bad_request(&e))?
        .unwrap_or(default))
}

/// Applies `-a,-b` (exclude) or `a,b` (include only) to a flow's JSON.
fn project(mut v: Value, projection: Option<&str>) -> Value {
    let Some(p) = projection.filter(|p| !p.is_empty()) else {
        return v;
    };
    let fields: Vec<&str> = p.split(',').map(str::trim).collect();
    if let Value::Object(map) = &mut v {
        if fields.iter().all(|f| f.starts_with('-')) {
            for f in fields {
                map.remove(&f[1..]);
            }
        } else {
            map.retain(|k, _| k == "flowId" || fields.contains(&k.as_str()));
        }
    }
    v
}

fn sort_flows(items: &mut [Value], sort: Option<&str>) -> Result<(), Response> {
    let Some(sort) = sort.filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let mut keys = Vec::new();
    for part in sort.split(',') {
        let (field, dir) = part.split_once(':').unwrap_or((part, "1"));
        let desc = match dir {
            "1" | "asc" => false,
            "-1" | "desc" => true,
            _ => return Err(bad_request("sort must look like field:1 or field:-1")),
        };
        keys.push((field.to_string(), desc));
    }
    items.sort_by(|a, b| {
        keys.iter()
            .map(|(field, desc)| {
                let ord = text_at(a, field).cmp(&text_at(b, field));
                if *desc {
                    ord.reverse()
                } else {
                    ord
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(())
}

async fn list_flows(State(s): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let offset = number(&params, "offset", 0)?;
    let limit = number(&params, "limit", 100)?;
    if let Some(perms) = params.get("sharedWithPermissions") {
        if perms
            .split(',')
            .any(|p| !matches!(p, "read" | "start" | "stop"))
        {
            return Err(bad_request(
                "sharedWithPermissions takes read, start and stop",
            ));
        }
    }
    let pattern = params.get("pattern").map(str::to_lowercase);
    let filters = params.all("filter");
    let (sort, projection) = (params.get("sort"), params.get("projection"));
    // Without filters or sort, only the requested page is rendered, minus excluded fields.
    let whole = !filters.is_empty() || sort.is_some();
    let excluded: Vec<&str> = match projection {
        Some(p) if !whole && p.split(',').all(|f| f.trim().starts_with('-')) => p
            .split(',')
            .map(|f| f.trim().trim_start_matches('-'))
            .collect(),
        _ => Vec::new(),
    };
    let mut items = s.with_tenant(&headers, |t, _| {
        let mut out = Vec::new();
        let matching = t.flows.iter().filter(|flow| {
            pattern
                .as_deref()
                .is_none_or(|p| flow.name.to_lowercase().contains(p) || flow.flow_id.contains(p))
        });
        if !whole {
            return Ok(matching
                .skip(offset)
                .take(limit)
                .map(|f| f.json(&excluded))
                .collect());
        }
        for flow in matching {
            let v = flow.json(&[]);
            let mut keep = true;
            for f in &filters {
                keep = keep && filter_matches(&v, f)?;
            }
            if keep {
                out.push(v);
            }
        }
        Ok(out)
    })?;
    if whole {
        sort_flows(&mut items, sort)?;
        items = items.into_iter().skip(offset).take(limit).collect();
    }
    let page: Vec<Value> = items.into_iter().map(|v| project(v, projection)).collect();
    ok(Value::Array(page))
}

async fn count_flows(State(s): Shared, headers: HeaderMap) -> Reply {
    s.with_tenant(&headers, |t, _| ok(json!({ "count": t.flows.len() })))
}

async fn get_flow(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    s.with_tenant(&headers, |t, _| {
        let i = t.flow_index(&id).ok_or_else(|| not_found("Flow"))?;
        ok(t.flows[i].json(&[]))
    })
}

fn optional<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    check: fn(&Value) -> bool,
    kind: &str,
) -> Result<Option<&'a Value>, Response> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if check(v) => Ok(Some(v)),
        Some(_) => Err(bad_request(&format!("{key} must be {kind}"))),
    }
}

async fn create_flow(State(s): Shared, headers: HeaderMap, body: Bytes) -> Reply {
    let map = body_object(&body)?;
    let name = optional(&map, "name", Value::is_string, "a string")?;
    let descriptor = optional(&map, "flow", Value::is_object, "an object")?;
    let custom = optional(&map, "customFields", Value::is_object, "an object")?;
    let thumbnail = optional(&map, "thumbnail", Value::is_string, "a string")?;
    s.with_tenant(&headers, |t, rng| {
        let now = iso(now_ms());
        let flow = Flow {
            user_id: t.user.id.clone(),
            flow_id: rng.uuid(),
            name: name
                .and_then(Value::as_str)
                .unwrap_or("New flow")
                .to_string(),
            stage: "stopped",
            btime: now.clone(),
            mtime: now,
            started: None,
            thumbnail: thumbnail
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            shared_with: json!([]),
            custom_fields: custom.cloned().unwrap_or_else(|| json!({})),
            flow: descriptor
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        };
        let id = flow.flow_id.clone();
        t.flows.push(flow);
        ok(json!({ "flowId": id }))
    })
}

async fn update_flow(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let force = Params::parse(q.as_deref()).flag("forceUpdate");
    let map = body_object(&body)?;
    let name = optional(&map, "name", Value::is_string, "a string")?;
    let descriptor = optional(&map, "flow", Value::is_object, "an object")?;
    let custom = optional(&map, "customFields", Value::is_object, "an object")?;
    let thumbnail = optional(&map, "thumbnail", Value::is_string, "a string")?;
    let shared = optional(&map, "sharedWith", Value::is_array, "an array")?;
    s.with_tenant(&headers, |t, _| {
        let i = t.flow_index(&id).ok_or_else(|| not_found("Flow"))?;
        let flow = &mut t.flows[i];
        if flow.stage == "running" && !force {
            return Err(bad_request(
                "Flow is running; stop it or update with forceUpdate=true",
            ));
        }
        if let Some(v) = name.and_then(Value::as_str) {
            flow.name = v.to_string();
        }
        if let Some(v) = descriptor.and_then(Value::as_object) {
            flow.flow = v.clone();
        }
        if let Some(v) = custom {
            flow.custom_fields = v.clone();
        }
        if let Some(v) = thumbnail.and_then(Value::as_str) {
            flow.thumbnail = v.to_string();
        }
        if let Some(v) = shared {
            flow.shared_with = v.clone();
        }
        flow.mtime = iso(now_ms());
        ok(json!({ "flowId": id, "result": "updated" }))
    })
}

async fn delete_flow(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    s.with_tenant(&headers, |t, _| {
        let i = t.flow_index(&id).ok_or_else(|| not_found("Flow"))?;
        let flow = t.flows.remove(i);
        for (component, _) in flow.components() {
            t.assignments.remove(component);
        }
        ok(json!({ "flowId": id }))
    })
}

async fn clone_flow(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let map = body_object(&body)?;
    let prefix = optional(&map, "prefix", Value::is_string, "a string")?;
    let prefix = prefix
        .and_then(Value::as_str)
        .unwrap_or("Copy of ")
        .to_string();
    let connect = optional(&map, "connectAccounts", Value::is_boolean, "a boolean")?;
    let connect = connect.and_then(Value::as_bool).unwrap_or(false);
    s.with_tenant(&headers, |t, rng| {
        let i = t.flow_index(&id).ok_or_else(|| not_found("Flow"))?;
        let original = &t.flows[i];
        let renamed: HashMap<String, String> = original
            .flow
            .keys()
            .map(|old| (old.clone(), rng.uuid()))
            .collect();
        let now = iso(now_ms());
        let copy = Flow {
            flow_id: rng.uuid(),
            name: format!("{prefix}{}", original.name),
            stage: "stopped",
            btime: now.clone(),
            mtime: now,
            started: None,
            shared_with: json!([]),
            flow: renumbered(&original.flow, &renamed),
            ..original.clone()
        };
        if connect {
            for (old, new) in &renamed {
                if let Some(account) = t.assignments.get(old).cloned() {
                    t.assignments.insert(new.clone(), account);
                }
            }
        }
        let clone_id = copy.flow_id.clone();
        t.flows.push(copy);
        ok(json!({ "cloneId": clone_id }))
    })
}

/// A flow descriptor with its component ids replaced, wiring included.
fn renumbered(flow: &Map<String, Value>, renamed: &HashMap<String, String>) -> Map<String, Value> {
    let new_id = |old: &str| renamed.get(old).cloned().unwrap_or_else(|| old.to_string());
    flow.iter()
        .map(|(id, component)| {
            let mut component = component.clone();
            if let Some(Value::Object(ports)) = component.get_mut("source") {
                for sources in ports.values_mut() {
                    if let Value::Object(from) = sources {
                        *from = from
                            .iter()
                            .map(|(c, out)| (new_id(c), out.clone()))
                            .collect();
                    }
                }
            }
            (new_id(id), component)
        })
        .collect()
}

/// Why a flow cannot start, if it cannot.
fn start_problem(cat: &Catalogue, t: &Tenant, flow: &Flow) -> Option<String> {
    if flow.flow.is_empty() {
        return Some("Flow has no components".to_string());
    }
    flow.components()
        .find_map(|(id, ty)| match cat.component(ty) {
            None => Some(format!("Unknown component type {ty}")),
            Some(c) if c.service.is_some() && !t.assignments.contains_key(id) => {
                Some(format!("Component {} has no account assigned", c.label))
            }
            Some(_) => None,
        })
}

async fn coordinator(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let background = Params::parse(q.as_deref()).flag("background");
    let map = body_object(&body)?;
    let command = map
        .get("command")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if command != "start" && command != "stop" {
        return Err(bad_request("command must be start or stop"));
    }
    s.with_tenant(&headers, |t, rng| {
        let i = t.flow_index(&id).ok_or_else(|| not_found("Flow"))?;
        if command == "start" {
            if let Some(problem) = start_problem(&s.cat, t, &t.flows[i]) {
                return Err(bad_request(&problem));
            }
            let flow = &mut t.flows[i];
            flow.stage = "running";
            flow.started = Some(iso(now_ms()));
            let entry = start_log(flow, rng.object_id(), t.user.id.clone());
            t.logs.push(entry);
        } else {
            t.flows[i].stage = "stopped";
        }
        let ticket = if background && command == "stop" {
            id.clone()
        } else {
            rng.uuid()
        };
        ok(json!({ "flowId": id, "ticket": ticket }))
    })
}

/// The log line a flow's first component writes when the flow starts.
fn start_log(flow: &data::Flow, id: String, user_id: String) -> data::LogEntry {
    let ts = now_ms();
    let (component_id, component) = flow
        .flow
        .iter()
        .next()
        .map(|(id, c)| (id.clone(), c.clone()))
        .unwrap_or_default();
    data::LogEntry {
        flow_id: flow.flow_id.clone(),
        ts,
        body: json!({
            "id": id,
            "@timestamp": iso(ts),
            "gridTimestamp": iso(ts),
            "severity": "info",
            "componentType": component["type"],
            "componentId": component_id,
            "flowId": flow.flow_id,
            "userId": user_id,
            "msg": "Flow started",
        }),
    }
}

async fn stop_status(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    s.with_tenant(&headers, |t, _| {
        let i = t.flow_index(&id).ok_or_else(|| not_found("Flow"))?;
        let flow = &t.flows[i];
        let status = if flow.stage == "stopped" {
            "completed"
        } else {
            "running"
        };
        ok(json!({ "status": status, "stepsTotal": flow.flow.len() }))
    })
}

async fn apps(State(s): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    s.tenant_of(&headers)?;
    if Params::parse(q.as_deref()).flag("ignoreACL") {
        return Err(bad_request("ignoreACL is allowed for admin users only"));
    }
    Ok(raw(&s.cat.apps_json))
}

async fn app_components(State(s): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    s.tenant_of(&headers)?;
    let params = Params::parse(q.as_deref());
    let app = params
        .get("app")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad_request("app is required"))?;
    let json = s.cat.by_app_json.get(app).ok_or_else(|| not_found("App"))?;
    Ok(raw(json))
}

async fn components(State(s): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    s.tenant_of(&headers)?;
    let manifest = Params::parse(q.as_deref()).get("manifest") == Some("yes");
    Ok(raw(if manifest {
        &s.cat.manifests_json
    } else {
        &s.cat.names_json
    }))
}

async fn component_accounts(
    State(s): Shared,
    headers: HeaderMap,
    Path(component_type): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let params = Params::parse(q.as_deref());
    let component_id = params
        .get("componentId")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad_request("componentId is required"))?
        .to_string();
    s.with_tenant(&headers, |t, _| {
        let component = s
            .cat
            .component(&component_type)
            .ok_or_else(|| not_found("Component type"))?;
        let assigned = t.assignments.get(&component_id);
        let accounts: Map<String, Value> = t
            .accounts
            .iter()
            .filter(|a| component.service.as_deref() == Some(a.service.as_str()))
            .map(|a| {
                let is_assigned = assigned == Some(&a.account_id);
                let v = json!({
                    "accessTokenValid": a.valid,
                    "accountId": a.account_id,
                    "tokenId": a.token_id,
                    "componentAssigned": is_assigned,
                    "componentId": component_id,
                    "scopeValid": true,
                    "authorizedScope": ["read", "write"],
                    "name": a.name,
                    "displayName": a.display_name,
                });
                (a.account_id.clone(), v)
            })
            .collect();
        ok(json!({ "componentType": component_type, "auth": { "accounts": accounts } }))
    })
}

async fn list_accounts(State(s): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let filters = params.all("filter");
    s.with_tenant(&headers, |t, _| {
        let mut out = Vec::new();
        for account in &t.accounts {
            let v = account.json();
            let mut keep = true;
            for f in &filters {
                keep = keep && filter_matches(&v, f)?;
            }
            if keep {
                out.push(v);
            }
        }
        ok(Value::Array(out))
    })
}

async fn create_account(
    State(s): Shared,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let params = Params::parse(q.as_deref());
    let map = body_object(&body)?;
    let service = map
        .get("service")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_request("service is required"))?
        .to_string();
    if !map.get("token").is_some_and(Value::is_object) {
        return Err(bad_request("token must be an object"));
    }
    if s.cat.service(&service).is_none() {
        return Err(bad_request(&format!("Unknown service {service}")));
    }
    s.with_tenant(&headers, |t, rng| {
        let mut account = data::new_account(rng, &s.cat, &t.user, &service);
        account.valid = true;
        if let Some(name) = map.get("name").and_then(Value::as_str) {
            account.name = name.to_string();
        }
        account.display_name = map
            .get("displayName")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(info) = map.get("profileInfo").filter(|v| v.is_object()) {
            account.profile_info = info.clone();
        } else if params.get("requestProfileInfo") == Some("false") {
            account.profile_info = json!({});
        }
        let mut v = account.json();
        v["pre"] = json!({});
        v["revoked"] = json!(false);
        t.accounts.push(account);
        ok(v)
    })
}

async fn update_account(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let map = body_object(&body)?;
    let display = match map.get("displayName") {
        Some(Value::String(v)) => Some(v.clone()),
        Some(Value::Null) => None,
        _ => return Err(bad_request("displayName is required and must be a string")),
    };
    s.with_tenant(&headers, |t, _| {
        let account = t
            .accounts
            .iter_mut()
            .find(|a| a.account_id == id)
            .ok_or_else(|| not_found("Account"))?;
        account.display_name = display;
        Ok(StatusCode::OK.into_response())
    })
}

async fn test_account(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    s.with_tenant(&headers, |t, _| {
        let account = t.account(&id).ok_or_else(|| not_found("Account"))?;
        let verdict = if account.valid { "valid" } else { "invalid" };
        ok(json!({ account.token_id.clone(): verdict }))
    })
}

async fn remove_account(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    s.with_tenant(&headers, |t, _| {
        t.account(&id).ok_or_else(|| not_found("Account"))?;
        for i in t.flows_using(&id) {
            t.flows[i].stage = "stopped";
        }
        t.assignments.retain(|_, account| account != &id);
        t.accounts.retain(|a| a.account_id != id);
        ok(json!({ "accountId": id }))
    })
}

async fn account_flows(State(s): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    s.with_tenant(&headers, |t, _| {
        t.account(&id).ok_or_else(|| not_found("Account"))?;
        let flows: Vec<Value> = t
            .flows_using(&id)
            .into_iter()
            .map(|i| json!({ "flowId": t.flows[i].flow_id, "name": t.flows[i].name }))
            .collect();
        ok(Value::Array(flows))
    })
}

async fn auth_ticket(State(s): Shared, headers: HeaderMap) -> Reply {
    s.with_tenant(&headers, |t, rng| {
        let ticket = format!("{}:{}", t.user.id, rng.uuid());
        t.tickets.insert(
            ticket.clone(),
            AuthTicket {
                component_type: None,
                component_id: None,
                service: None,
                account_id: None,
                token_id: None,
                finished: false,
                updated_at: iso(now_ms()),
            },
        );
        ok(json!({ "ticket": ticket }))
    })
}

/// The auth service of a component type, or the 404/400 that explains why there is none.
fn auth_service(cat: &Catalogue, component_type: &str) -> Result<String, Response> {
    let component = cat
        .component(component_type)
        .ok_or_else(|| not_found("Component type"))?;
    component
        .service
        .clone()
        .ok_or_else(|| bad_request(&format!("{component_type} needs no authentication")))
}

async fn auth_url(
    State(s): Shared,
    headers: HeaderMap,
    Path((component_type, ticket)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Reply {
    let component_id = Params::parse(q.as_deref())
        .get("componentId")
        .map(str::to_string);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let service = auth_service(&s.cat, &component_type)?;
    s.with_tenant(&headers, |t, _| {
        let entry = t
            .tickets
            .get_mut(&ticket)
            .ok_or_else(|| not_found("Ticket"))?;
        entry.component_type = Some(component_type.clone());
        entry.service = Some(service);
        entry.component_id = component_id.or(entry.component_id.take());
        let encoded: String = url::form_urlencoded::byte_serialize(ticket.as_bytes()).collect();
        ok(json!({ "authUrl": format!("http://{host}/__sandbox/authorize/{encoded}") }))
    })
}

async fn start_session(
    State(s): Shared,
    headers: HeaderMap,
    Path((component_type, ticket)): Path<(String, String)>,
) -> Reply {
    let service = auth_service(&s.cat, &component_type)?;
    s.with_tenant(&headers, |t, _| {
        let entry = t
            .tickets
            .get_mut(&ticket)
            .ok_or_else(|| not_found("Ticket"))?;
        entry.component_type = Some(component_type.clone());
        entry.service = Some(service.clone());
        entry.updated_at = iso(now_ms());
        ok(json!({ "service": service }))
    })
}

async fn auth_status(State(s): Shared, headers: HeaderMap, Path(ticket): Path<String>) -> Reply {
    s.with_tenant(&headers, |t, _| {
        let entry = t.tickets.get(&ticket).ok_or_else(|| not_found("Ticket"))?;
        ok(json!({
            "accountId": entry.account_id,
            "tokenId": entry.token_id,
            "finished": entry.finished,
            "updatedAt": entry.updated_at,
            "error": null,
        }))
    })
}

/// Stands in for the end user finishing the OAuth dance at the URL from auth-url.
async fn complete_auth(State(s): Shared, Path(ticket): Path<String>) -> Reply {
    let mut guard = s.lock();
    let store = &mut *guard;
    let t = store
        .tenants
        .iter_mut()
        .find(|t| t.tickets.contains_key(&ticket))
        .ok_or_else(|| not_found("Ticket"))?;
    let entry = t.tickets.get(&ticket).ok_or_else(|| not_found("Ticket"))?;
    let service = entry
        .service
        .clone()
        .ok_or_else(|| bad_request("Authentication session was not started"))?;
    if !entry.finished {
        let mut account = data::new_account(&mut store.rng, &s.cat, &t.user, &service);
        account.valid = true;
        let (account_id, token_id) = (account.account_id.clone(), account.token_id.clone());
        if let Some(component) = entry.component_id.clone() {
            t.assignments.insert(component, account_id.clone());
        }
        t.accounts.push(account);
        if let Some(entry) = t.tickets.get_mut(&ticket) {
            entry.account_id = Some(account_id);
            entry.token_id = Some(token_id);
            entry.finished = true;
            entry.updated_at = iso(now_ms());
        }
    }
    ok(json!({ "message": format!("appmixer.auth.success.{ticket}") }))
}

async fn unassign(State(s): Shared, headers: HeaderMap, Path(component_id): Path<String>) -> Reply {
    s.with_tenant(&headers, |t, _| {
        t.component_type(&component_id)
            .ok_or_else(|| not_found("Component"))?;
        t.assignments.remove(&component_id);
        ok(json!({ "componentId": component_id }))
    })
}

async fn assign(
    State(s): Shared,
    headers: HeaderMap,
    Path((component_id, account_id)): Path<(String, String)>,
) -> Reply {
    s.with_tenant(&headers, |t, _| {
        let ty = t
            .component_type(&component_id)
            .ok_or_else(|| not_found("Component"))?
            .to_string();
        let account = t.account(&account_id).ok_or_else(|| not_found("Account"))?;
        let wanted = s.cat.component(&ty).and_then(|c| c.service.as_deref());
        if wanted != Some(account.service.as_str()) {
            return Err(bad_request(&format!(
                "Account {account_id} cannot be used by {ty}"
            )));
        }
        t.assignments
            .insert(component_id.clone(), account_id.clone());
        ok(json!({ "accountId": account_id, "componentId": component_id }))
    })
}

/// Appmixer's Lucene `query`, the part the gateway writes: terms joined by ` AND `, each
/// `field:value`, `field:(a OR b)`, `field:[from TO to]` (`*` for an open end), or a quoted
/// phrase found in any of the entry's text (in any case).
fn log_query_matches(body: &Value, query: Option<&str>) -> bool {
    let Some(query) = query.filter(|q| !q.trim().is_empty() && q.trim() != "*") else {
        return true;
    };
    lucene_terms(query)
        .iter()
        .all(|term| term_matches(body, term.trim()))
}

/// The terms of a query split at ` AND ` outside quotes, brackets and parentheses.
fn lucene_terms(query: &str) -> Vec<String> {
    let (mut terms, mut current) = (Vec::new(), String::new());
    let (mut quoted, mut depth, mut escaped) = (false, 0i32, false);
    let mut rest = query;
    while let Some(c) = rest.chars().next() {
        if !quoted && depth == 0 && rest.starts_with(" AND ") {
            terms.push(std::mem::take(&mut current));
            rest = &rest[5..];
            continue;
        }
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' | '[' if !quoted => depth += 1,
            ')' | ']' if !quoted => depth -= 1,
            _ => {}
        }
        current.push(c);
        rest = &rest[c.len_utf8()..];
    }
    terms.push(current);
    terms
}

/// A quoted phrase without its quotes and escapes.
fn unquote(text: &str) -> String {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    out
}

/// Whether any text in `v` holds `phrase` (lower case).
fn holds_text(v: &Value, phrase: &str) -> bool {
    match v {
        Value::String(t) => t.to_lowercase().contains(phrase),
        Value::Array(items) => items.iter().any(|i| holds_text(i, phrase)),
        Value::Object(map) => map.values().any(|i| holds_text(i, phrase)),
        _ => false,
    }
}

fn term_matches(body: &Value, term: &str) -> bool {
    let field_term = term.split_once(':').filter(|(f, _)| !f.starts_with('"'));
    let Some((field, value)) = field_term else {
        return holds_text(body, &unquote(term).to_lowercase());
    };
    let Some(text) = text_at(body, field) else {
        return false;
    };
    if let Some(any) = value.strip_prefix('(').and_then(|v| v.strip_suffix(')')) {
        return any.split(" OR ").any(|v| unquote(v.trim()) == text);
    }
    if let Some(range) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        let Some((from, to)) = range.split_once(" TO ") else {
            return false;
        };
        let (from, to) = (unquote(from.trim()), unquote(to.trim()));
        return (from == "*" || text >= from) && (to == "*" || text <= to);
    }
    text == unquote(value)
}

async fn logs(State(s): Shared, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let from = number(&params, "from", 0)?;
    let size = number(&params, "size", 50)?;
    let flow_ids = params.all("flowId");
    let ascending = match params.get("sort").unwrap_or("@timestamp:desc") {
        "@timestamp:desc" | "gridTimestamp:desc" => false,
        "@timestamp:asc" | "gridTimestamp:asc" => true,
        _ => {
            return Err(bad_request(
                "sort must be @timestamp:desc or @timestamp:asc",
            ))
        }
    };
    s.with_tenant(&headers, |t, _| {
        let mut hits: Vec<&data::LogEntry> = t
            .logs
            .iter()
            .filter(|l| flow_ids.is_empty() || flow_ids.contains(&l.flow_id.as_str()))
            .filter(|l| log_query_matches(&l.body, params.get("query")))
            .collect();
        hits.sort_by_key(|l| l.ts);
        if !ascending {
            hits.reverse();
        }
        let mut days: BTreeMap<i64, u64> = BTreeMap::new();
        for l in &hits {
            *days.entry(l.ts - l.ts.rem_euclid(86_400_000)).or_default() += 1;
        }
        let buckets: Vec<Value> = days
            .into_iter()
            .map(|(day, n)| json!({ "key_as_string": iso(day), "key": day, "doc_count": n }))
            .collect();
        let page: Vec<&Value> = hits.iter().skip(from).take(size).map(|l| &l.body).collect();
        ok(json!({ "buckets": buckets, "hits": page }))
    })
}
