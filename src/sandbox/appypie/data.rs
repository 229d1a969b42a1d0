//! The Appy Pie sandbox's own models (written from the contract, not shared with the client)
//! and its seeded fixtures.

use crate::sandbox::fixtures::{
    cycled, slug, FixtureConfig, APPYPIE_APPS, APPYPIE_CATEGORIES, DEMO_USERS, EPOCH_MS,
    FIELD_POOL, YEAR_MS,
};
use crate::sandbox::support::{icon, iso, Rng};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub const AUTH_TYPES: [&str; 3] = ["O_AUTH_V2", "API_KEY", "BASIC_AUTH"];

#[derive(Clone, Debug, Serialize)]
pub struct Category {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub slug: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub app_id: String,
    pub name: String,
    pub seo_link: String,
    pub auth_type: &'static str,
    pub logo: String,
    pub category_id: String,
    #[serde(skip)]
    pub description: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Field {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub required: bool,
    pub dynamic: bool,
}

/// A trigger (with `type`) or an action (without).
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "appId")]
    pub app_id: String,
    pub name: String,
    pub description: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PopularMatch {
    #[serde(rename = "_id")]
    pub id: String,
    pub title: String,
    pub trigger_app_id: String,
    pub trigger_id: String,
    pub action_app_id: String,
    pub action_id: String,
    #[serde(skip)]
    pub description: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedAccount {
    #[serde(rename = "_id")]
    pub id: String,
    pub app_id: String,
    #[serde(rename = "_created_at")]
    pub created_at: String,
    #[serde(rename = "_updated_at")]
    pub updated_at: String,
    pub name: String,
    pub auth_type: &'static str,
    pub status: &'static str,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connect {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub popular_match_id: Option<String>,
    pub trigger_app_id: String,
    pub trigger_id: String,
    pub trigger_account_id: String,
    pub trigger_options: Map<String, Value>,
    pub action_app_id: String,
    pub action_id: String,
    pub action_account_id: String,
    pub action_options: Map<String, Value>,
    #[serde(rename = "_created_at")]
    pub created_at: String,
    #[serde(rename = "_updated_at")]
    pub updated_at: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    #[serde(rename = "_id")]
    pub id: String,
    pub connect_id: String,
    pub status: &'static str,
    pub is_test: bool,
    pub message: String,
    #[serde(rename = "_created_at")]
    pub created_at: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    #[serde(rename = "_id")]
    pub id: String,
    pub email: String,
    pub name: String,
    #[serde(rename = "_created_at")]
    pub created_at: String,
    #[serde(rename = "_updated_at")]
    pub updated_at: String,
}

/// The shared catalogue, immutable once built, with every item's JSON rendered once.
pub struct Catalogue {
    pub categories: Vec<Category>,
    pub apps: Vec<App>,
    pub app_json: Vec<String>,
    pub app_detail_json: Vec<String>,
    pub triggers: Vec<Step>,
    pub actions: Vec<Step>,
    pub trigger_json: Vec<String>,
    pub action_json: Vec<String>,
    pub popular: Vec<PopularMatch>,
    pub popular_json: Vec<String>,
    pub popular_detail_json: Vec<String>,
    pub app_index: HashMap<String, usize>,
    pub trigger_index: HashMap<String, usize>,
    pub action_index: HashMap<String, usize>,
    pub popular_index: HashMap<String, usize>,
    pub triggers_by_app: HashMap<String, Vec<usize>>,
    pub actions_by_app: HashMap<String, Vec<usize>>,
}

impl Catalogue {
    pub fn app(&self, id: &str) -> Option<&App> {
        self.app_index.get(id).map(|&i| &self.apps[i])
    }

    pub fn trigger(&self, id: &str) -> Option<&Step> {
        self.trigger_index.get(id).map(|&i| &self.triggers[i])
    }

    pub fn action(&self, id: &str) -> Option<&Step> {
        self.action_index.get(id).map(|&i| &self.actions[i])
    }

    pub fn popular_match(&self, id: &str) -> Option<&PopularMatch> {
        self.popular_index.get(id).map(|&i| &self.popular[i])
    }
}

/// One user's own data.
pub struct Tenant {
    pub profile: Profile,
    pub accounts: Vec<ConnectedAccount>,
    /// Newest first.
    pub connects: Vec<Connect>,
    /// Per connect, newest first.
    pub history: HashMap<String, Vec<HistoryEntry>>,
    /// Connect-account sessions: one-time token `t` -> (app id, callback, account once authorized).
    pub sessions: HashMap<String, Session>,
}

pub struct Session {
    pub app_id: String,
    pub callback: String,
    pub account_id: Option<String>,
}

impl Tenant {
    pub fn account(&self, id: &str) -> Option<&ConnectedAccount> {
        self.accounts.iter().find(|a| a.id == id)
    }
}

pub fn build_catalogue(cfg: &FixtureConfig, rng: &mut Rng) -> Catalogue {
    let categories: Vec<Category> = APPYPIE_CATEGORIES
        .iter()
        .map(|(name, _)| Category {
            id: rng.object_id(),
            name: name.to_string(),
            slug: slug(name),
        })
        .collect();
    let mut apps = Vec::new();
    let mut triggers = Vec::new();
    let mut actions = Vec::new();
    for n in 0..cfg.scaled(APPYPIE_APPS.len(), 4) {
        let (base, cat) = APPYPIE_APPS[n % APPYPIE_APPS.len()];
        let name = cycled(base, n / APPYPIE_APPS.len());
        let app = App {
            app_id: rng.alnum(12),
            seo_link: slug(&name),
            auth_type: AUTH_TYPES[rng.range(0, AUTH_TYPES.len() - 1)],
            logo: icon(&name, rng.next_u64()),
            category_id: categories[cat].id.clone(),
            description: format!(
                "Connect {name} with hundreds of apps: automate {} work without code.",
                APPYPIE_CATEGORIES[cat].0.to_lowercase()
            ),
            name,
        };
        let nouns = APPYPIE_CATEGORIES[cat].1;
        for _ in 0..rng.range(2, 6) {
            triggers.push(make_step(rng, &app, nouns, true));
        }
        for _ in 0..rng.range(2, 6) {
            actions.push(make_step(rng, &app, nouns, false));
        }
        apps.push(app);
    }
    let popular = (0..cfg.scaled(30, 2))
        .map(|_| make_popular(rng, &apps, &triggers, &actions))
        .collect();
    index_catalogue(categories, apps, triggers, actions, popular)
}

fn make_step(rng: &mut Rng, app: &App, nouns: &[&str], trigger: bool) -> Step {
    let noun = rng.pick(nouns);
    let (name, description) = if trigger {
        let verb = *rng.pick(&["New", "Updated", "Deleted"]);
        (
            format!("{verb} {noun}"),
            format!(
                "Triggers when a {} {} appears in {}.",
                verb.to_lowercase(),
                noun.to_lowercase(),
                app.name
            ),
        )
    } else {
        let verb = *rng.pick(&crate::sandbox::fixtures::ACTION_VERBS);
        (
            format!("{verb} {noun}"),
            format!("{verb}s a {} in {}.", noun.to_lowercase(), app.name),
        )
    };
    let mut fields: Vec<Field> = Vec::new();
    for _ in 0..rng.range(1, 4) {
        let (key, label, select, dynamic) = *rng.pick(&FIELD_POOL);
        if fields.iter().any(|f| f.key == key) {
            continue;
        }
        fields.push(Field {
            key: key.to_string(),
            label: label.to_string(),
            kind: if select { "select" } else { "string" },
            required: rng.chance(60),
            dynamic,
        });
    }
    Step {
        id: rng.object_id(),
        app_id: app.app_id.clone(),
        name,
        description,
        kind: trigger.then(|| *rng.pick(&["polling", "webhook"])),
        fields,
    }
}

fn make_popular(rng: &mut Rng, apps: &[App], triggers: &[Step], actions: &[Step]) -> PopularMatch {
    let trigger = rng.pick(triggers);
    let action = loop {
        let a = rng.pick(actions);
        if a.app_id != trigger.app_id {
            break a;
        }
    };
    let name_of = |id: &str| {
        apps.iter()
            .find(|a| a.app_id == id)
            .map(|a| a.name.clone())
            .unwrap_or_default()
    };
    let (tname, aname) = (name_of(&trigger.app_id), name_of(&action.app_id));
    PopularMatch {
        id: rng.object_id(),
        title: format!(
            "{} in {aname} for {} in {tname}",
            action.name,
            trigger.name.to_lowercase()
        ),
        trigger_app_id: trigger.app_id.clone(),
        trigger_id: trigger.id.clone(),
        action_app_id: action.app_id.clone(),
        action_id: action.id.clone(),
        description: format!(
            "When {tname} reports \"{}\", {aname} runs \"{}\".",
            trigger.name, action.name
        ),
    }
}

fn index_of<T>(items: &[T], key: impl Fn(&T) -> &str) -> HashMap<String, usize> {
    items
        .iter()
        .enumerate()
        .map(|(i, t)| (key(t).to_string(), i))
        .collect()
}

fn group_by_app(steps: &[Step]) -> HashMap<String, Vec<usize>> {
    let mut map: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        map.entry(s.app_id.clone()).or_default().push(i);
    }
    map
}

fn render<T: Serialize>(items: &[T]) -> Vec<String> {
    items
        .iter()
        .map(|t| serde_json::to_string(t).unwrap_or_default())
        .collect()
}

fn index_catalogue(
    categories: Vec<Category>,
    apps: Vec<App>,
    triggers: Vec<Step>,
    actions: Vec<Step>,
    popular: Vec<PopularMatch>,
) -> Catalogue {
    let triggers_by_app = group_by_app(&triggers);
    let actions_by_app = group_by_app(&actions);
    let app_detail_json = apps
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).unwrap_or_default();
            v["description"] = json!(a.description);
            v["triggerCount"] = json!(triggers_by_app.get(&a.app_id).map_or(0, Vec::len));
            v["actionCount"] = json!(actions_by_app.get(&a.app_id).map_or(0, Vec::len));
            v.to_string()
        })
        .collect();
    let trigger_index = index_of(&triggers, |s| &s.id);
    let action_index = index_of(&actions, |s| &s.id);
    let popular_detail_json = popular
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(p).unwrap_or_default();
            v["trigger"] = json!(triggers[trigger_index[&p.trigger_id]]);
            v["action"] = json!(actions[action_index[&p.action_id]]);
            v["description"] = json!(p.description);
            v.to_string()
        })
        .collect();
    Catalogue {
        app_json: render(&apps),
        app_index: index_of(&apps, |a| &a.app_id),
        trigger_json: render(&triggers),
        action_json: render(&actions),
        popular_json: render(&popular),
        popular_index: index_of(&popular, |p| &p.id),
        app_detail_json,
        popular_detail_json,
        trigger_index,
        action_index,
        triggers_by_app,
        actions_by_app,
        categories,
        apps,
        triggers,
        actions,
        popular,
    }
}

/// Builds the demo tenants' data: tenant id -> tenant.
pub fn build_tenants(cfg: &FixtureConfig, rng: &mut Rng, cat: &Catalogue) -> Vec<Tenant> {
    DEMO_USERS
        .iter()
        .map(|user| {
            let created = EPOCH_MS - rng.range(30, 300) as i64 * 86_400_000;
            let mut tenant = Tenant {
                profile: Profile {
                    id: rng.object_id(),
                    email: user.email.to_string(),
                    name: user.name.to_string(),
                    created_at: iso(created),
                    updated_at: iso(created + 86_400_000),
                },
                accounts: Vec::new(),
                connects: Vec::new(),
                history: HashMap::new(),
                sessions: HashMap::new(),
            };
            for _ in 0..cfg.scaled(40, 3) {
                add_fixture_connect(rng, cat, &mut tenant);
            }
            tenant
                .connects
                .sort_by(|a, b| b.created_at.cmp(&a.created_at));
            tenant
        })
        .collect()
}

fn when(rng: &mut Rng) -> i64 {
    EPOCH_MS + (rng.next_u64() % YEAR_MS as u64) as i64
}

/// The user's account for `app`, created when there is none.
fn account_for(rng: &mut Rng, tenant: &mut Tenant, app: &App) -> String {
    if let Some(a) = tenant.accounts.iter().find(|a| a.app_id == app.app_id) {
        return a.id.clone();
    }
    let t = when(rng);
    let account = ConnectedAccount {
        id: rng.object_id(),
        app_id: app.app_id.clone(),
        created_at: iso(t),
        updated_at: iso(t + rng.range(0, 90) as i64 * 86_400_000),
        name: format!("{} ({})", app.name, tenant.profile.email),
        auth_type: app.auth_type,
        status: if rng.chance(10) { "expired" } else { "active" },
    };
    let id = account.id.clone();
    tenant.accounts.push(account);
    id
}

fn add_fixture_connect(rng: &mut Rng, cat: &Catalogue, tenant: &mut Tenant) {
    let (pm_id, trigger, action) = if rng.chance(50) && !cat.popular.is_empty() {
        let pm = rng.pick(&cat.popular);
        (
            Some(pm.id.clone()),
            cat.trigger(&pm.trigger_id),
            cat.action(&pm.action_id),
        )
    } else {
        let t = rng.pick(&cat.triggers);
        let a = rng.pick(&cat.actions);
        (None, Some(t), Some(a))
    };
    let (Some(trigger), Some(action)) = (trigger, action) else {
        return;
    };
    let (Some(tapp), Some(aapp)) = (cat.app(&trigger.app_id), cat.app(&action.app_id)) else {
        return;
    };
    let complete = rng.chance(80);
    let created = when(rng);
    let connect = Connect {
        id: rng.object_id(),
        name: format!("{} → {}", trigger.name, action.name),
        status: if complete && rng.chance(60) {
            "on"
        } else {
            "off"
        },
        popular_match_id: pm_id,
        trigger_app_id: tapp.app_id.clone(),
        trigger_id: trigger.id.clone(),
        trigger_account_id: account_for(rng, tenant, tapp),
        trigger_options: fill_options(rng, &trigger.fields, complete),
        action_app_id: aapp.app_id.clone(),
        action_id: action.id.clone(),
        action_account_id: account_for(rng, tenant, aapp),
        action_options: fill_options(rng, &action.fields, complete),
        created_at: iso(created),
        updated_at: iso(created + rng.range(0, 30) as i64 * 86_400_000),
    };
    let runs = (0..rng.range(0, 8))
        .map(|i| HistoryEntry {
            id: rng.object_id(),
            connect_id: connect.id.clone(),
            status: if rng.chance(85) { "success" } else { "failed" },
            is_test: i == 0,
            message: String::new(),
            created_at: iso(created + (i as i64 + 1) * 3_600_000 * rng.range(1, 48) as i64),
        })
        .map(|mut h| {
            h.message = run_message(h.status).to_string();
            h
        })
        .rev()
        .collect();
    tenant.history.insert(connect.id.clone(), runs);
    tenant.connects.push(connect);
}

pub fn run_message(status: &str) -> &'static str {
    if status == "success" {
        "Task completed successfully"
    } else {
        "Action app rejected the request: a required field was empty"
    }
}

fn fill_options(rng: &mut Rng, fields: &[Field], complete: bool) -> Map<String, Value> {
    let mut options = Map::new();
    for f in fields {
        if complete || !f.required || rng.chance(30) {
            options.insert(f.key.clone(), json!(sample_value(&f.key, rng.range(1, 3))));
        }
    }
    options
}

/// A plausible value for a field, e.g. a channel name for `channel`.
pub fn sample_value(key: &str, n: usize) -> String {
    match key {
        "email" => format!("user{n}@example.com"),
        "amount" => format!("{}.00", n * 25),
        _ => dropdown_choices(key)
            .get(n % 3)
            .map(|(label, _)| label.to_string())
            .unwrap_or_else(|| format!("{key} {n}")),
    }
}

/// Options of a select field, as (label, value).
pub fn dropdown_choices(key: &str) -> Vec<(&'static str, &'static str)> {
    match key {
        "folder" => vec![
            ("Inbox", "INBOX"),
            ("Archive", "ARCHIVE"),
            ("Receipts", "Label_12"),
        ],
        "channel" => vec![
            ("#general", "C01GENERAL"),
            ("#sales", "C02SALES"),
            ("#alerts", "C03ALERTS"),
        ],
        "list" => vec![
            ("Newsletter", "list_news"),
            ("Customers", "list_cust"),
            ("Leads", "list_leads"),
        ],
        "status" => vec![
            ("Active", "active"),
            ("Pending", "pending"),
            ("Closed", "closed"),
        ],
        _ => Vec::new(),
    }
}
