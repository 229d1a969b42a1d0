//! The Appmixer sandbox's own models (written from the contract, not shared with the client)
//! and its seeded fixtures.

use crate::sandbox::fixtures::{
    cycled, FixtureConfig, ACTION_VERBS, APPMIXER_APPS, DEMO_USERS, EPOCH_MS, FLOW_PURPOSES,
    YEAR_MS,
};
use crate::sandbox::support::{icon, iso, Rng};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

pub struct AppEntry {
    pub name: String,
    pub label: String,
    pub category: String,
    pub description: String,
    pub icon: String,
    /// `vendor:service` of the accounts it needs; `None` for utilities.
    pub service: Option<String>,
}

pub struct Component {
    pub name: String,
    pub app: String,
    pub label: String,
    pub trigger: bool,
    pub service: Option<String>,
    pub manifest: Value,
}

/// The shared catalogue with its list responses rendered once.
pub struct Catalogue {
    pub apps: Vec<AppEntry>,
    pub apps_json: String,
    pub components: Vec<Component>,
    pub component_index: HashMap<String, usize>,
    pub by_app_json: HashMap<String, String>,
    pub names_json: String,
    pub manifests_json: String,
}

impl Catalogue {
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.component_index.get(name).map(|&i| &self.components[i])
    }

    pub fn service(&self, service: &str) -> Option<&AppEntry> {
        self.apps
            .iter()
            .find(|a| a.service.as_deref() == Some(service))
    }
}

pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub plan: &'static str,
}

pub struct Account {
    pub account_id: String,
    pub name: String,
    pub display_name: Option<String>,
    pub service: String,
    pub user_id: String,
    pub profile_info: Value,
    pub icon: String,
    pub label: String,
    pub token_id: String,
    pub valid: bool,
}

impl Account {
    pub fn json(&self) -> Value {
        json!({
            "accountId": self.account_id,
            "name": self.name,
            "displayName": self.display_name,
            "service": self.service,
            "userId": self.user_id,
            "profileInfo": self.profile_info,
            "icon": self.icon,
            "label": self.label,
        })
    }
}

#[derive(Clone)]
pub struct Flow {
    pub user_id: String,
    pub flow_id: String,
    pub name: String,
    pub stage: &'static str,
    pub btime: String,
    pub mtime: String,
    pub started: Option<String>,
    pub thumbnail: String,
    pub shared_with: Value,
    pub custom_fields: Value,
    pub flow: Map<String, Value>,
}

impl Flow {
    /// The flow as the API renders it, without the `excluded` fields.
    pub fn json(&self, excluded: &[&str]) -> Value {
        let mut v = json!({
            "userId": self.user_id,
            "flowId": self.flow_id,
            "name": self.name,
            "stage": self.stage,
            "btime": self.btime,
            "mtime": self.mtime,
            "mode": "module",
            "sharedWith": self.shared_with,
            "customFields": self.custom_fields,
        });
        if let Some(started) = &self.started {
            v["started"] = json!(started);
        }
        if !excluded.contains(&"thumbnail") {
            v["thumbnail"] = json!(self.thumbnail);
        }
        if !excluded.contains(&"flow") {
            v["flow"] = Value::Object(self.flow.clone());
        }
        if let Value::Object(map) = &mut v {
            map.retain(|k, _| !excluded.contains(&k.as_str()));
        }
        v
    }

    /// Component instance ids and their types.
    pub fn components(&self) -> impl Iterator<Item = (&String, &str)> {
        self.flow
            .iter()
            .map(|(id, c)| (id, c.get("type").and_then(Value::as_str).unwrap_or("")))
    }
}

pub struct LogEntry {
    pub flow_id: String,
    pub ts: i64,
    pub body: Value,
}

pub struct AuthTicket {
    pub component_type: Option<String>,
    pub component_id: Option<String>,
    pub service: Option<String>,
    pub account_id: Option<String>,
    pub token_id: Option<String>,
    pub finished: bool,
    pub updated_at: String,
}

pub struct Tenant {
    pub user: User,
    pub token: String,
    pub password: String,
    /// Created with `POST /user`: its sign-ins mint tokens that expire.
    pub created: bool,
    pub accounts: Vec<Account>,
    pub flows: Vec<Flow>,
    /// Flow component instance id -> account id.
    pub assignments: HashMap<String, String>,
    pub logs: Vec<LogEntry>,
    pub tickets: HashMap<String, AuthTicket>,
}

impl Tenant {
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.account_id == id)
    }

    pub fn flow_index(&self, id: &str) -> Option<usize> {
        self.flows.iter().position(|f| f.flow_id == id)
    }

    /// The type of a component instance in any of the user's flows.
    pub fn component_type(&self, component_id: &str) -> Option<&str> {
        self.flows
            .iter()
            .find_map(|f| f.components().find(|(id, _)| *id == component_id))
            .map(|(_, ty)| ty)
    }

    pub fn flows_using(&self, account_id: &str) -> Vec<usize> {
        (0..self.flows.len())
            .filter(|&i| {
                self.flows[i]
                    .components()
                    .any(|(id, _)| self.assignments.get(id).is_some_and(|a| a == account_id))
            })
            .collect()
    }
}

fn service_of(app: &str) -> Option<String> {
    let mut parts = app.split('.');
    let vendor = parts.next()?;
    let service = parts.next()?;
    (service != "utils").then(|| format!("{vendor}:{service}"))
}

fn service_label(app_label: &str, service: &str) -> String {
    match service {
        "appmixer:google" => "Google".to_string(),
        "appmixer:microsoft" => "Microsoft".to_string(),
        "appmixer:twilio" => "Twilio".to_string(),
        _ => app_label.to_string(),
    }
}

pub fn build_catalogue(cfg: &FixtureConfig, rng: &mut Rng) -> Catalogue {
    let mut apps = Vec::new();
    let mut components = Vec::new();
    for n in 0..cfg.scaled(APPMIXER_APPS.len(), 4) {
        let (base, label, category, nouns) = APPMIXER_APPS[n % APPMIXER_APPS.len()];
        let round = n / APPMIXER_APPS.len();
        let name = if round == 0 {
            base.to_string()
        } else {
            format!("{base}{}", round + 1)
        };
        let label = cycled(label, round);
        let service = service_of(&name);
        let app_icon = icon(&label, rng.next_u64());
        for i in 0..rng.range(1, 3) {
            let noun = nouns[i % nouns.len()];
            let verb = if i < nouns.len() { "New" } else { "Updated" };
            components.push(make_component(
                rng,
                &name,
                &format!("{verb}{noun}"),
                true,
                &service,
                &app_icon,
            ));
        }
        if name == "appmixer.utils.controls" {
            components.push(make_component(
                rng, &name, "OnStart", true, &None, &app_icon,
            ));
        }
        for i in 0..rng.range(2, 4) {
            let noun = nouns[i % nouns.len()];
            let verb = ACTION_VERBS[(i + n) % ACTION_VERBS.len()];
            components.push(make_component(
                rng,
                &name,
                &format!("{verb}{noun}"),
                false,
                &service,
                &app_icon,
            ));
        }
        apps.push(AppEntry {
            description: format!("{label} integration: triggers and actions for {category} work."),
            category: category.to_string(),
            icon: app_icon,
            service,
            name,
            label,
        });
    }
    components.dedup_by(|a, b| a.name == b.name);
    index_catalogue(apps, components)
}

fn words(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn make_component(
    rng: &mut Rng,
    app: &str,
    short: &str,
    trigger: bool,
    service: &Option<String>,
    icon: &str,
) -> Component {
    let name = format!("{app}.{short}");
    let label = words(short);
    let mut manifest = json!({
        "name": name,
        "label": label,
        "description": if trigger { format!("Fires on {}.", label.to_lowercase()) } else { format!("{label}.") },
        "author": "Appmixer <info@appmixer.com>",
        "icon": icon,
        "outPorts": [{ "name": "out", "options": [{ "label": "Id", "value": "id" }, { "label": "Created", "value": "createdAt" }] }],
        "properties": { "schema": { "type": "object", "properties": {} } },
    });
    if let Some(service) = service {
        manifest["auth"] = json!({ "service": service });
    }
    if trigger {
        let key = if rng.chance(50) { "webhook" } else { "tick" };
        manifest[key] = json!(true);
    } else {
        manifest["inPorts"] = json!([{
            "name": "in",
            "schema": { "type": "object", "properties": { "text": { "type": "string" } }, "required": ["text"] },
            "inspector": { "inputs": { "text": { "type": "text", "label": "Text", "index": 1 } } },
        }]);
    }
    Component {
        name,
        app: app.to_string(),
        label,
        trigger,
        service: service.clone(),
        manifest,
    }
}

fn index_catalogue(apps: Vec<AppEntry>, components: Vec<Component>) -> Catalogue {
    let map: Map<String, Value> = apps
        .iter()
        .map(|a| {
            let v = json!({ "name": a.name, "label": a.label, "category": a.category, "description": a.description, "icon": a.icon });
            (a.name.clone(), v)
        })
        .collect();
    let mut by_app: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for a in &apps {
        by_app.insert(a.name.clone(), Vec::new());
    }
    for c in &components {
        by_app.entry(c.app.clone()).or_default().push(&c.manifest);
    }
    let by_app_json = by_app
        .into_iter()
        .map(|(app, list)| (app, json!(list).to_string()))
        .collect();
    let names: Vec<&String> = components.iter().map(|c| &c.name).collect();
    let manifests: Vec<&Value> = components.iter().map(|c| &c.manifest).collect();
    Catalogue {
        apps_json: Value::Object(map).to_string(),
        names_json: json!(names).to_string(),
        manifests_json: json!(manifests).to_string(),
        component_index: components
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect(),
        by_app_json,
        apps,
        components,
    }
}

fn when(rng: &mut Rng) -> i64 {
    EPOCH_MS + (rng.next_u64() % YEAR_MS as u64) as i64
}

pub fn new_account(rng: &mut Rng, cat: &Catalogue, user: &User, service: &str) -> Account {
    let label = cat
        .service(service)
        .map(|a| service_label(&a.label, service))
        .unwrap_or_else(|| service.to_string());
    let workspace = *rng.pick(&["work", "sales", "ops", "personal", "support"]);
    Account {
        account_id: rng.object_id(),
        name: format!("{} ({workspace})", user.email),
        display_name: rng.chance(30).then(|| format!("{label} {workspace}")),
        service: service.to_string(),
        user_id: user.id.clone(),
        profile_info: json!({ "id": rng.alnum(10), "email": user.email, "name": user.username }),
        icon: icon(&label, rng.next_u64()),
        label,
        token_id: rng.object_id(),
        valid: !rng.chance(12),
    }
}

pub fn build_tenants(cfg: &FixtureConfig, rng: &mut Rng, cat: &Catalogue) -> Vec<Tenant> {
    let services: Vec<String> = {
        let mut s: Vec<String> = cat.apps.iter().filter_map(|a| a.service.clone()).collect();
        s.sort();
        s.dedup();
        s
    };
    DEMO_USERS
        .iter()
        .map(|demo| {
            let user = User {
                id: rng.object_id(),
                username: demo.username.to_string(),
                email: demo.email.to_string(),
                plan: "enterprise",
            };
            let mut tenant = Tenant {
                accounts: Vec::new(),
                flows: Vec::new(),
                assignments: HashMap::new(),
                logs: Vec::new(),
                tickets: HashMap::new(),
                token: demo.appmixer_token.to_string(),
                password: demo.password.to_string(),
                created: false,
                user,
            };
            for i in 0..cfg.scaled(25, 2) {
                let service = if i < services.len() {
                    &services[i]
                } else {
                    rng.pick(&services)
                };
                let account = new_account(rng, cat, &tenant.user, service);
                tenant.accounts.push(account);
            }
            for i in 0..cfg.scaled(40, 3) {
                add_fixture_flow(rng, cat, &mut tenant, i);
            }
            tenant
        })
        .collect()
}

/// Components the tenant can use: utilities, or those whose service it has an account for.
fn usable<'a>(cat: &'a Catalogue, tenant: &Tenant, trigger: bool) -> Vec<&'a Component> {
    cat.components
        .iter()
        .filter(|c| c.trigger == trigger)
        .filter(|c| {
            c.service
                .as_ref()
                .is_none_or(|s| tenant.accounts.iter().any(|a| &a.service == s))
        })
        .collect()
}

fn add_fixture_flow(rng: &mut Rng, cat: &Catalogue, tenant: &mut Tenant, n: usize) {
    let created = when(rng);
    let mut steps: Vec<&Component> = Vec::new();
    let draft = n % 17 == 16;
    if !draft {
        steps.push(*rng.pick(&usable(cat, tenant, true)));
        let actions = usable(cat, tenant, false);
        for _ in 0..rng.range(1, 3) {
            steps.push(*rng.pick(&actions));
        }
    }
    let mut descriptor = Map::new();
    let mut previous: Option<String> = None;
    for (i, c) in steps.iter().enumerate() {
        let id = rng.uuid();
        let source = match &previous {
            Some(prev) => json!({ "in": { prev.clone(): ["out"] } }),
            None => json!({}),
        };
        descriptor.insert(
            id.clone(),
            json!({ "type": c.name, "label": c.label, "source": source, "x": 120 + 220 * i, "y": 160, "config": {} }),
        );
        if let Some(service) = &c.service {
            let options: Vec<&Account> = tenant
                .accounts
                .iter()
                .filter(|a| &a.service == service)
                .collect();
            let account = rng.pick(&options).account_id.clone();
            tenant.assignments.insert(id.clone(), account);
        }
        previous = Some(id);
    }
    let running = !draft && rng.chance(50);
    let flow_id = rng.uuid();
    let app_label = steps
        .last()
        .map(|c| c.label.clone())
        .unwrap_or_else(|| "draft".to_string());
    let name = if draft {
        format!("Draft flow #{}", n + 1)
    } else {
        format!("{} {}", rng.pick(&FLOW_PURPOSES), app_label.to_lowercase())
    };
    let started = running.then(|| iso(created + 86_400_000));
    if !draft {
        add_fixture_logs(rng, tenant, &flow_id, &descriptor, created);
    }
    tenant.flows.push(Flow {
        user_id: tenant.user.id.clone(),
        flow_id,
        name,
        stage: if running { "running" } else { "stopped" },
        btime: iso(created),
        mtime: iso(created + rng.range(1, 60) as i64 * 3_600_000),
        started,
        thumbnail: icon("F", rng.next_u64()),
        shared_with: json!([]),
        custom_fields: json!({ "category": rng.pick(&["sales", "marketing", "support", "finance", "ops"]) }),
        flow: descriptor,
    });
}

fn add_fixture_logs(
    rng: &mut Rng,
    tenant: &mut Tenant,
    flow_id: &str,
    descriptor: &Map<String, Value>,
    created: i64,
) {
    let ids: Vec<(&String, &Value)> = descriptor.iter().collect();
    for _ in 0..rng.range(0, 6) {
        let ts = created + rng.range(1, 2000) as i64 * 3_600_000;
        let (component_id, component) = *rng.pick(&ids);
        let error = rng.chance(15);
        let body = json!({
            "id": rng.object_id(),
            "@timestamp": iso(ts),
            "gridTimestamp": iso(ts + 12),
            "severity": if error { "error" } else { "info" },
            "componentType": component["type"],
            "componentId": component_id,
            "portType": if rng.chance(50) { "in" } else { "out" },
            "port": if rng.chance(50) { "in" } else { "out" },
            "senderId": component_id,
            "senderType": component["type"],
            "correlationId": rng.uuid(),
            "flowId": flow_id,
            "userId": tenant.user.id,
            "msg": if error { "Request failed with status code 401" } else { "Message processed" },
        });
        tenant.logs.push(LogEntry {
            flow_id: flow_id.to_string(),
            ts,
            body,
        });
    }
}
