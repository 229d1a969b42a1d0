//! The `automations` list: flows and connects together, filtered, sorted, and paged with
//! cursors that name a position in the order (the sort key and the id), so a cursor stays
//! valid when automations are added or removed before it.

use crate::error::{Code, Gql};
use crate::loaders::load_once;
use crate::loaders::model::appmixer::Stage;
use crate::loaders::model::appypie::ConnectStatus;
use crate::loaders::{FlowPermission, FlowSearch, FlowSort};
use crate::schema::automations::{Automation, AutomationStatus, Connect, Flow};
use crate::schema::catalog::component_app;
use crate::schema::lean::{Lean, LeanPage};
use crate::schema::node::{GlobalId, Kind};
use crate::schema::payload::at_field;
use crate::schema::relay::Total;
use crate::schema::{mixer, note_error, pie, DateTime, Provider};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, InputObject, Result, ID};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::cmp::Ordering;
use std::collections::HashSet;

/// Which automations `automations` lists; every filter given must hold.
#[derive(InputObject, Default)]
pub struct AutomationFilter {
    /// Only this vendor's.
    pub provider: Option<Provider>,
    /// Only running or only stopped ones.
    pub status: Option<AutomationStatus>,
    /// Only those whose name holds this text, in any case.
    pub search: Option<String>,
    /// Only those using this app (a global id).
    pub app_id: Option<ID>,
    /// Only those using this account (a global id).
    pub account_id: Option<ID>,
}

/// The order of `automations`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum AutomationSort {
    /// Most recently changed first.
    #[default]
    UpdatedDesc,
    /// Least recently changed first.
    UpdatedAsc,
    /// Most recently created first.
    CreatedDesc,
    /// By name, A to Z.
    NameAsc,
}

/// Which flows `flows` lists; every filter given must hold.
#[derive(InputObject, Default)]
pub struct FlowFilter {
    /// Only running or only stopped ones.
    pub status: Option<AutomationStatus>,
    /// Only those whose name or id holds this text.
    pub search: Option<String>,
    /// Only those whose custom fields hold these values.
    pub custom_fields: Option<Vec<CustomFieldMatch>>,
    /// Only flows shared with the caller with at least these permissions.
    pub shared_with_permissions: Option<Vec<FlowPermission>>,
}

/// A custom field's value to match.
#[derive(InputObject)]
pub struct CustomFieldMatch {
    /// The field's path in `customFields`, dots between levels (e.g. `category`).
    pub path: String,
    /// The value it must have.
    pub value: String,
}

/// The flows a filter and an order ask for (the page is set by the caller).
pub fn flow_search(filter: FlowFilter, sort: FlowSort) -> Result<FlowSearch> {
    let mut custom_fields = Vec::new();
    for m in filter.custom_fields.into_iter().flatten() {
        let bad = |c: char| c == ':' || c.is_whitespace();
        if m.path.is_empty() || m.path.contains(bad) {
            let e = Code::BadUserInput.error("a custom field path has no spaces or colons");
            return Err(at_field(e, "filter.customFields.path"));
        }
        custom_fields.push((m.path, m.value));
    }
    Ok(FlowSearch {
        running: filter.status.map(|s| s == AutomationStatus::Running),
        text: filter.search,
        custom_fields,
        shared_with: filter.shared_with_permissions,
        sort,
        ..FlowSearch::default()
    })
}

/// A page of automations, with string cursors.
pub type AutomationPage = LeanPage<String, Automation>;

/// One listed automation and where it sorts.
struct Placed {
    key: String,
    id: String,
    automation: Automation,
}

pub async fn list(
    ctx: &Context<'_>,
    filter: AutomationFilter,
    sort: AutomationSort,
    take: usize,
    after: Option<String>,
) -> Result<AutomationPage> {
    let cursor = after.map(|c| decode(&c, sort)).transpose()?;
    let mut all: Vec<Placed> = matching(ctx, &filter).await?;
    all.iter_mut()
        .for_each(|p| p.key = key(&p.automation, sort));
    let order = |a: (&str, &str), b: (&str, &str)| match sort {
        AutomationSort::UpdatedAsc | AutomationSort::NameAsc => a.cmp(&b),
        AutomationSort::UpdatedDesc | AutomationSort::CreatedDesc => b.cmp(&a),
    };
    all.sort_by(|a, b| order((&a.key, &a.id), (&b.key, &b.id)));
    let total = all.len();
    let start = match &cursor {
        Some((key, id)) => all
            .iter()
            .take_while(|p| order((&p.key, &p.id), (key, id)) != Ordering::Greater)
            .count(),
        None => 0,
    };
    let has_next = total > start + take;
    let mut page =
        Connection::with_additional_fields(start > 0, has_next, Total { total_count: total });
    let edges = all.into_iter().skip(start).take(take);
    page.edges
        .extend(edges.map(|p| Edge::new(encode(sort, &p), Lean(p.automation))));
    Ok(LeanPage(page))
}

fn sort_tag(sort: AutomationSort) -> &'static str {
    match sort {
        AutomationSort::UpdatedDesc => "ud",
        AutomationSort::UpdatedAsc => "ua",
        AutomationSort::CreatedDesc => "cd",
        AutomationSort::NameAsc => "na",
    }
}

fn encode(sort: AutomationSort, p: &Placed) -> String {
    let text = format!("{}\n{}\n{}", sort_tag(sort), p.key, p.id);
    URL_SAFE_NO_PAD.encode(text)
}

fn decode(cursor: &str, sort: AutomationSort) -> Result<(String, String)> {
    let bad = || Code::BadUserInput.error("after is not a cursor of this list in this order");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '\n');
    let (Some(tag), Some(key), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if tag != sort_tag(sort) {
        return Err(bad());
    }
    Ok((key.to_string(), id.to_string()))
}

/// The automations `filter` keeps, each with its sort key and id.
async fn matching(ctx: &Context<'_>, filter: &AutomationFilter) -> Result<Vec<Placed>> {
    let app = filter
        .app_id
        .as_ref()
        .map(|id| GlobalId::expect(id, Kind::App))
        .transpose()?;
    let account = filter
        .account_id
        .as_ref()
        .map(|id| GlobalId::expect(id, Kind::Account))
        .transpose()?;
    let search = filter.search.as_ref().map(|s| s.to_lowercase());
    let wants = |p: Provider| {
        filter.provider.is_none_or(|x| x == p)
            && app.as_ref().is_none_or(|g| g.provider == p)
            && account.as_ref().is_none_or(|g| g.provider == p)
    };
    let mut all = Vec::new();
    if wants(Provider::Appmixer) {
        match flows(ctx, app.as_ref(), account.as_ref()).await {
            Ok(flows) => all.extend(flows),
            Err(e) => note_error(ctx, e),
        }
    }
    if wants(Provider::AppyPie) {
        match connects(ctx, app.as_ref(), account.as_ref()).await {
            Ok(connects) => all.extend(connects),
            Err(e) => note_error(ctx, e),
        }
    }
    all.retain(|a| {
        filter.status.is_none_or(|s| status(a) == s)
            && search
                .as_ref()
                .is_none_or(|s| name(a).to_lowercase().contains(s))
    });
    Ok(all.into_iter().map(place).collect())
}

fn place(automation: Automation) -> Placed {
    let id = match &automation {
        Automation::Flow(f) => format!("f:{}", f.0.flow_id),
        Automation::Connect(c) => format!("c:{}", c.0.id),
    };
    Placed {
        key: String::new(),
        id,
        automation,
    }
}

/// Where an automation sorts: its name, or a time as RFC 3339 (UTC times compare as text).
fn key(a: &Automation, sort: AutomationSort) -> String {
    let time = |t: Option<&str>| {
        t.and_then(DateTime::from_vendor)
            .map(|d| d.as_str().to_string())
    };
    match (a, sort) {
        (a, AutomationSort::NameAsc) => Some(name(a).to_lowercase()),
        (Automation::Flow(f), AutomationSort::CreatedDesc) => time(f.0.btime.as_deref()),
        (Automation::Connect(c), AutomationSort::CreatedDesc) => time(Some(&c.0.created_at)),
        (a, _) => time(Some(a.updated())),
    }
    .unwrap_or_default()
}

fn status(a: &Automation) -> AutomationStatus {
    let running = match a {
        Automation::Flow(f) => f.0.stage == Some(Stage::Running),
        Automation::Connect(c) => c.0.status == ConnectStatus::On,
    };
    if running {
        AutomationStatus::Running
    } else {
        AutomationStatus::Stopped
    }
}

fn name(a: &Automation) -> &str {
    match a {
        Automation::Flow(f) => f.0.name.as_deref().unwrap_or(""),
        Automation::Connect(c) => &c.0.name,
    }
}

async fn flows(
    ctx: &Context<'_>,
    app: Option<&GlobalId>,
    account: Option<&GlobalId>,
) -> Result<Vec<Automation>> {
    let l = mixer(ctx)?;
    let all = load_once(&l.flows).await.gql()?;
    let users: Option<HashSet<String>> = match account {
        Some(g) => {
            let refs = l.account_flows.load_one(g.native.clone()).await.gql()?;
            Some(
                refs.iter()
                    .flat_map(|r| r.iter())
                    .map(|r| r.0.flow_id.clone())
                    .collect(),
            )
        }
        None => None,
    };
    Ok(all
        .iter()
        .filter(|f| users.as_ref().is_none_or(|u| u.contains(&f.flow_id)))
        .filter(|f| {
            app.is_none_or(|g| {
                let mut parts = f.flow.iter().flatten();
                parts.any(|(_, c)| component_app(&c.component_type) == g.native)
            })
        })
        .map(|f| Automation::Flow(Flow(f.clone())))
        .collect())
}

async fn connects(
    ctx: &Context<'_>,
    app: Option<&GlobalId>,
    account: Option<&GlobalId>,
) -> Result<Vec<Automation>> {
    let all = load_once(&pie(ctx)?.connects).await.gql()?;
    Ok(all
        .iter()
        .filter(|c| app.is_none_or(|g| c.trigger_app_id == g.native || c.action_app_id == g.native))
        .filter(|c| {
            account
                .is_none_or(|g| c.trigger_account_id == g.native || c.action_account_id == g.native)
        })
        .map(|c| Automation::Connect(Connect(c.clone())))
        .collect())
}
