//! Automations (Appmixer flows and Appy Pie connects), their runs, and Appy Pie popular matches.

use crate::error::Gql;
use crate::loaders::load_once;
use crate::loaders::model::appmixer as mm;
use crate::loaders::model::appypie as pm;
use crate::loaders::FlowPermission;
use crate::schema::accounts::{mixer_account, pie_account, Account};
use crate::schema::catalog::{
    component_app, mixer_app, mixer_step, pie_action, pie_app, pie_trigger, Action, App, Trigger,
};
use crate::schema::lean::{plain_fields, Plain};
use crate::schema::node::{GlobalId, Kind};
use crate::schema::runs::{self, Run, RunFilter, RunPage, RunSort};
use crate::schema::{mixer, nullable, pie, DateTime, Provider};
use async_graphql::Value;
use async_graphql::{Context, Enum, Interface, Json, Object, Result, SimpleObject, ID};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Whether an automation is live.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AutomationStatus {
    /// Running (Appmixer `running`, Appy Pie `on`).
    Running,
    /// Stopped (Appmixer `stopped`, Appy Pie `off`).
    Stopped,
}

/// Something that runs by itself: an Appmixer flow or an Appy Pie connect.
// The derive's `field(...)` lists repeat keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(Interface, Clone)]
#[graphql(
    field(name = "id", ty = "ID", desc = "Global id."),
    field(name = "provider", ty = "Provider", desc = "The vendor."),
    field(name = "native_id", ty = "&str", desc = "The vendor's own id."),
    field(name = "name", ty = "&str", desc = "Display name."),
    field(name = "status", ty = "AutomationStatus", desc = "Running or stopped."),
    field(
        name = "apps",
        ty = "Option<Vec<App>>",
        desc = "The apps it uses, each once."
    ),
    field(
        name = "accounts",
        ty = "Option<Vec<Account>>",
        desc = "The caller's accounts it uses."
    ),
    field(name = "created_at", ty = "Option<DateTime>", desc = "Creation time."),
    field(name = "updated_at", ty = "Option<DateTime>", desc = "Last change."),
    field(
        name = "runs",
        ty = "Option<RunPage>",
        desc = "Its runs, newest first unless `sort` says otherwise.",
        arg(
            name = "first",
            ty = "Option<i32>",
            desc = "Most runs to return (default 20, at most 100)."
        ),
        arg(
            name = "after",
            ty = "Option<String>",
            desc = "Continue after this cursor."
        ),
        arg(
            name = "filter",
            ty = "Option<RunFilter>",
            desc = "Which runs; every filter given must hold."
        ),
        arg(
            name = "sort",
            ty = "Option<RunSort>",
            desc = "Their order (default `NEWEST_FIRST`)."
        )
    ),
    field(name = "last_run", ty = "Option<Run>", desc = "Its newest run."),
    field(
        name = "last_error",
        ty = "Option<Run>",
        desc = "Its newest failed run among its recent ones."
    )
)]
pub enum Automation {
    Flow(Flow),
    Connect(Connect),
}

impl Plain for Automation {
    fn plain(&self, ctx: &Context<'_>, name: &str) -> Option<Value> {
        match self {
            Automation::Flow(f) => f.plain(ctx, name),
            Automation::Connect(c) => c.plain(ctx, name),
        }
    }
}

plain_fields!(Flow, Connect => {
    "id" => now(id),
    "provider" => word(provider),
    "nativeId" => now(native_id),
    "name" => now(name),
    "status" => word(status),
    "createdAt" => now(created_at),
    "updatedAt" => now(updated_at),
});

impl Automation {
    pub fn updated(&self) -> &str {
        match self {
            Automation::Flow(f) => f.0.mtime.as_deref().unwrap_or(""),
            Automation::Connect(c) => &c.0.updated_at,
        }
    }
}

/// An Appmixer flow.
#[derive(Clone)]
pub struct Flow(pub Arc<mm::Flow>);

/// One component placed in a flow.
#[derive(Clone)]
pub struct FlowComponent {
    flow_id: String,
    id: String,
    component: mm::FlowComponent,
}

impl FlowComponent {
    /// Component `id` of `flow`, if the flow has it.
    pub fn of(flow: &mm::Flow, id: &str) -> Option<FlowComponent> {
        let component = flow.flow.as_ref()?.get(id)?.clone();
        Some(FlowComponent {
            flow_id: flow.flow_id.clone(),
            id: id.to_string(),
            component,
        })
    }
}

/// One component placed in an Appmixer flow.
#[Object]
impl FlowComponent {
    /// Global id (what `assignAccount` and `usableAccounts` take).
    pub async fn id(&self) -> ID {
        GlobalId::nested(
            Kind::FlowComponent,
            Provider::Appmixer,
            &self.flow_id,
            &self.id,
        )
    }

    /// The component instance id within the flow.
    pub async fn native_id(&self) -> &str {
        &self.id
    }

    /// The component type, e.g. `appmixer.slack.SendMessage`.
    pub async fn component_type(&self) -> &str {
        &self.component.component_type
    }

    /// Label in the designer.
    pub async fn label(&self) -> Option<&str> {
        self.component.label.as_deref()
    }

    /// The app the component belongs to.
    pub async fn app(&self, ctx: &Context<'_>) -> Result<Option<App>> {
        mixer_app(ctx, component_app(&self.component.component_type)).await
    }

    /// The component as a trigger, when it is one.
    pub async fn trigger(&self, ctx: &Context<'_>) -> Result<Option<Trigger>> {
        Ok(mixer_step(ctx, &self.component.component_type, true)
            .await?
            .map(Trigger))
    }

    /// The component as an action, when it is one.
    pub async fn action(&self, ctx: &Context<'_>) -> Result<Option<Action>> {
        Ok(mixer_step(ctx, &self.component.component_type, false)
            .await?
            .map(Action))
    }
}

/// Progress of stopping a flow.
#[derive(SimpleObject, Clone)]
pub struct StopStatus {
    /// Whether the stop is done.
    pub state: StopState,
    /// Appmixer's own word for it (e.g. `completed`).
    pub detail: String,
    /// Steps the stop involves.
    pub steps_total: u32,
}

/// Where a flow's stop stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum StopState {
    /// The flow has stopped (Appmixer `completed`).
    Completed,
    /// The stop is still going on (any other status).
    InProgress,
}

/// Someone a flow is shared with.
#[derive(SimpleObject, Clone)]
pub struct FlowShare {
    /// Their email address.
    pub email: String,
    /// What they may do (permissions Appmixer adds later are left out).
    pub permissions: Vec<FlowPermission>,
}

/// An Appmixer flow.
#[Object]
impl Flow {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::encode(Kind::Flow, Provider::Appmixer, &self.0.flow_id)
    }

    /// Always `APPMIXER`.
    pub async fn provider(&self) -> Provider {
        Provider::Appmixer
    }

    /// The Appmixer `flowId`.
    pub async fn native_id(&self) -> &str {
        &self.0.flow_id
    }

    /// Display name.
    pub async fn name(&self) -> &str {
        self.0.name.as_deref().unwrap_or("")
    }

    /// Running or stopped.
    pub async fn status(&self) -> AutomationStatus {
        if self.0.stage == Some(mm::Stage::Running) {
            AutomationStatus::Running
        } else {
            AutomationStatus::Stopped
        }
    }

    /// Creation time (`btime`).
    pub async fn created_at(&self) -> Option<DateTime> {
        self.0.btime.as_deref().and_then(DateTime::from_vendor)
    }

    /// Last modification (`mtime`).
    pub async fn updated_at(&self) -> Option<DateTime> {
        self.0.mtime.as_deref().and_then(DateTime::from_vendor)
    }

    /// Last start.
    pub async fn started_at(&self) -> Option<DateTime> {
        self.0.started.as_deref().and_then(DateTime::from_vendor)
    }

    /// Free-form metadata.
    pub async fn custom_fields(&self) -> Option<Json<serde_json::Value>> {
        self.0.custom_fields.clone().map(Json)
    }

    /// The raw flow descriptor (component id -> component), as JSON.
    pub async fn descriptor(&self) -> Option<Json<mm::FlowDescriptor>> {
        self.0.flow.clone().map(Json)
    }

    /// The components placed in the flow.
    pub async fn components(&self) -> Vec<FlowComponent> {
        self.0
            .flow
            .iter()
            .flatten()
            .map(|(id, c)| FlowComponent {
                flow_id: self.0.flow_id.clone(),
                id: id.clone(),
                component: c.clone(),
            })
            .collect()
    }

    /// The apps the flow uses, each once.
    pub async fn apps(&self, ctx: &Context<'_>) -> Result<Option<Vec<App>>> {
        nullable(Box::pin(async move {
            let names: BTreeSet<&str> = self
                .0
                .flow
                .iter()
                .flatten()
                .map(|(_, c)| component_app(&c.component_type))
                .collect();
            let mut apps = Vec::new();
            for name in names {
                apps.extend(mixer_app(ctx, name).await?);
            }
            Ok(apps)
        }))
        .await
    }

    /// Accounts assigned to the flow's components.
    pub async fn accounts(&self, ctx: &Context<'_>) -> Result<Option<Vec<Account>>> {
        nullable(Box::pin(async move {
            let l = mixer(ctx)?;
            let all = load_once(&l.accounts).await.gql()?;
            let ids: Vec<String> = all.iter().map(|a| a.account_id.clone()).collect();
            let uses = l.account_flows.load_many(ids).await.gql()?;
            Ok(all
                .iter()
                .filter(|a| {
                    uses.get(&a.account_id)
                        .is_some_and(|refs| refs.iter().any(|r| r.0.flow_id == self.0.flow_id))
                })
                .cloned()
                .map(Account::Appmixer)
                .collect())
        }))
        .await
    }

    /// Its runs, newest first: log entries grouped by the message they followed through the
    /// flow (Appmixer's correlation id); paged over its newest 1,000 log entries.
    pub async fn runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Most runs to return (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
        #[graphql(desc = "Which runs; every filter given must hold.")] filter: Option<RunFilter>,
        #[graphql(desc = "Their order (default `NEWEST_FIRST`).")] sort: Option<RunSort>,
    ) -> Result<Option<RunPage>> {
        let asked = runs::asked(first, after, filter, sort);
        nullable(Box::pin(runs::flow_runs(ctx, &self.0.flow_id, asked))).await
    }

    /// Its newest run.
    pub async fn last_run(&self, ctx: &Context<'_>) -> Result<Option<Run>> {
        let (recent, _) = Box::pin(runs::flow_recent(ctx, &self.0.flow_id)).await?;
        Ok(runs::newest(recent, false))
    }

    /// Its newest failed run among its recent ones (its newest 50 log entries).
    pub async fn last_error(&self, ctx: &Context<'_>) -> Result<Option<Run>> {
        let (recent, _) = Box::pin(runs::flow_recent(ctx, &self.0.flow_id)).await?;
        Ok(runs::newest(recent, true))
    }

    /// Progress of the last stop.
    pub async fn stop_status(&self, ctx: &Context<'_>) -> Result<Option<StopStatus>> {
        let s = mixer(ctx)?
            .stop_status
            .load_one(self.0.flow_id.clone())
            .await
            .gql()?;
        Ok(s.map(|s| StopStatus {
            state: if s.status == "completed" {
                StopState::Completed
            } else {
                StopState::InProgress
            },
            detail: s.status,
            steps_total: s.steps_total,
        }))
    }

    /// Its picture, a `data:` URI (read per flow when the list it came from left it out).
    pub async fn thumbnail(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        if let Some(t) = &self.0.thumbnail {
            return Ok(Some(t.clone()));
        }
        let id = self.0.flow_id.clone();
        let flow = mixer(ctx)?.flow.load_one(id).await.gql()?;
        Ok(flow.and_then(|f| f.thumbnail.clone()))
    }

    /// The people it is shared with.
    pub async fn shared_with(&self) -> Vec<FlowShare> {
        let shares = self.0.shared_with.iter().flatten();
        shares
            .map(|s| FlowShare {
                email: s.email.clone(),
                permissions: s
                    .permissions
                    .iter()
                    .filter_map(|p| FlowPermission::parse(p))
                    .collect(),
            })
            .collect()
    }
}

/// An Appy Pie connect: one trigger app feeding one action app.
#[derive(Clone)]
pub struct Connect(pub Arc<pm::Connect>);

/// Which half of a connect.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConnectSide {
    /// The trigger half.
    Trigger,
    /// The action half.
    Action,
}

impl From<ConnectSide> for pm::Side {
    fn from(s: ConnectSide) -> Self {
        match s {
            ConnectSide::Trigger => pm::Side::Trigger,
            ConnectSide::Action => pm::Side::Action,
        }
    }
}

/// One choice of a select field.
#[derive(SimpleObject, Clone)]
pub struct DropdownOption {
    /// Shown to people.
    pub label: String,
    /// Stored in the options.
    pub value: String,
}

/// An Appy Pie connect: one trigger app feeding one action app.
#[Object]
impl Connect {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::encode(Kind::Connect, Provider::AppyPie, &self.0.id)
    }

    /// Always `APPYPIE`.
    pub async fn provider(&self) -> Provider {
        Provider::AppyPie
    }

    /// The Appy Pie connect id.
    pub async fn native_id(&self) -> &str {
        &self.0.id
    }

    /// Display name.
    pub async fn name(&self) -> &str {
        &self.0.name
    }

    /// Running (on) or stopped (off).
    pub async fn status(&self) -> AutomationStatus {
        if self.0.status == pm::ConnectStatus::On {
            AutomationStatus::Running
        } else {
            AutomationStatus::Stopped
        }
    }

    /// Creation time.
    pub async fn created_at(&self) -> Option<DateTime> {
        DateTime::from_vendor(&self.0.created_at)
    }

    /// Last change.
    pub async fn updated_at(&self) -> Option<DateTime> {
        DateTime::from_vendor(&self.0.updated_at)
    }

    /// The app whose event starts the connect.
    pub async fn trigger_app(&self, ctx: &Context<'_>) -> Result<Option<App>> {
        pie_app(ctx, &self.0.trigger_app_id).await
    }

    /// The trigger.
    pub async fn trigger(&self, ctx: &Context<'_>) -> Result<Option<Trigger>> {
        pie_trigger(ctx, Some(&self.0.trigger_app_id), &self.0.trigger_id).await
    }

    /// Its trigger's app and its action's app, each once.
    pub async fn apps(&self, ctx: &Context<'_>) -> Result<Option<Vec<App>>> {
        nullable(Box::pin(async move {
            let c = &self.0;
            let mut ids = vec![&c.trigger_app_id, &c.action_app_id];
            ids.dedup();
            let mut apps = Vec::new();
            for id in ids {
                apps.extend(pie_app(ctx, id).await?);
            }
            Ok(apps)
        }))
        .await
    }

    /// The accounts its trigger and its action use, each once.
    pub async fn accounts(&self, ctx: &Context<'_>) -> Result<Option<Vec<Account>>> {
        nullable(Box::pin(async move {
            let c = &self.0;
            let trigger = pie_account(ctx, Some(&c.trigger_app_id), &c.trigger_account_id);
            let mut accounts: Vec<Account> = trigger.await?.into_iter().collect();
            if c.action_account_id != c.trigger_account_id {
                let action = pie_account(ctx, Some(&c.action_app_id), &c.action_account_id);
                accounts.extend(action.await?);
            }
            Ok(accounts)
        }))
        .await
    }

    /// The account the trigger uses.
    pub async fn trigger_account(&self, ctx: &Context<'_>) -> Result<Option<Account>> {
        pie_account(
            ctx,
            Some(&self.0.trigger_app_id),
            &self.0.trigger_account_id,
        )
        .await
    }

    /// Values of the trigger's fields.
    pub async fn trigger_options(&self) -> Json<serde_json::Map<String, serde_json::Value>> {
        Json(self.0.trigger_options.clone())
    }

    /// The app the connect acts on.
    pub async fn action_app(&self, ctx: &Context<'_>) -> Result<Option<App>> {
        pie_app(ctx, &self.0.action_app_id).await
    }

    /// The action.
    pub async fn action(&self, ctx: &Context<'_>) -> Result<Option<Action>> {
        pie_action(ctx, Some(&self.0.action_app_id), &self.0.action_id).await
    }

    /// The account the action uses.
    pub async fn action_account(&self, ctx: &Context<'_>) -> Result<Option<Account>> {
        pie_account(ctx, Some(&self.0.action_app_id), &self.0.action_account_id).await
    }

    /// Values of the action's fields.
    pub async fn action_options(&self) -> Json<serde_json::Map<String, serde_json::Value>> {
        Json(self.0.action_options.clone())
    }

    /// The popular match it was made from, if any.
    pub async fn popular_match(&self, ctx: &Context<'_>) -> Result<Option<PopularMatch>> {
        match &self.0.popular_match_id {
            Some(id) => popular_match(ctx, id).await,
            None => Ok(None),
        }
    }

    /// Its runs (history entries), newest first, paged through the vendor's history.
    pub async fn runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Most runs to return (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
        #[graphql(desc = "Which runs; every filter given must hold.")] filter: Option<RunFilter>,
        #[graphql(desc = "Their order (default `NEWEST_FIRST`).")] sort: Option<RunSort>,
    ) -> Result<Option<RunPage>> {
        let asked = runs::asked(first, after, filter, sort);
        nullable(Box::pin(runs::connect_runs(ctx, &self.0.id, asked))).await
    }

    /// Its newest run.
    pub async fn last_run(&self, ctx: &Context<'_>) -> Result<Option<Run>> {
        let recent = Box::pin(runs::connect_recent(ctx, &self.0.id)).await?;
        Ok(runs::newest(recent, false))
    }

    /// Its newest failed run among its recent ones (the first history page).
    pub async fn last_error(&self, ctx: &Context<'_>) -> Result<Option<Run>> {
        let recent = Box::pin(runs::connect_recent(ctx, &self.0.id)).await?;
        Ok(runs::newest(recent, true))
    }

    /// Choices of a select field on one side, fetched with that side's account.
    pub async fn dropdown_options(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which half of the connect.")] side: ConnectSide,
        #[graphql(desc = "The key of the select field.")] field_key: String,
    ) -> Result<Option<Vec<DropdownOption>>> {
        nullable(Box::pin(async move {
            let options = pie(ctx)?
                .dropdown_options(&self.0.id, side.into(), &field_key)
                .await
                .gql()?;
            Ok(options
                .into_iter()
                .map(|o| DropdownOption {
                    label: o.label,
                    value: o.value,
                })
                .collect())
        }))
        .await
    }
}

/// An Appy Pie popular match: a ready-made trigger/action pair.
#[derive(Clone)]
pub struct PopularMatch(pub pm::PopularMatch);

/// A popular match by id, from the list (one call per request).
pub async fn popular_match(ctx: &Context<'_>, id: &str) -> Result<Option<PopularMatch>> {
    let all = load_once(&pie(ctx)?.popular_matches).await.gql()?;
    Ok(all.iter().find(|p| p.id == id).cloned().map(PopularMatch))
}

/// An Appy Pie popular match: a ready-made trigger/action pair.
#[Object]
impl PopularMatch {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::encode(Kind::PopularMatch, Provider::AppyPie, &self.0.id)
    }

    /// The Appy Pie id.
    pub async fn native_id(&self) -> &str {
        &self.0.id
    }

    /// Title, e.g. "Create Contact in HubSpot for new response in Typeform".
    pub async fn title(&self) -> &str {
        &self.0.title
    }

    /// Longer description (one detail call per match).
    pub async fn description(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let detail = pie(ctx)?
            .popular_match
            .load_one(self.0.id.clone())
            .await
            .gql()?;
        Ok(detail.map(|d| d.description))
    }

    /// The trigger app.
    pub async fn trigger_app(&self, ctx: &Context<'_>) -> Result<Option<App>> {
        pie_app(ctx, &self.0.trigger_app_id).await
    }

    /// The trigger.
    pub async fn trigger(&self, ctx: &Context<'_>) -> Result<Option<Trigger>> {
        pie_trigger(ctx, Some(&self.0.trigger_app_id), &self.0.trigger_id).await
    }

    /// The action app.
    pub async fn action_app(&self, ctx: &Context<'_>) -> Result<Option<App>> {
        pie_app(ctx, &self.0.action_app_id).await
    }

    /// The action.
    pub async fn action(&self, ctx: &Context<'_>) -> Result<Option<Action>> {
        pie_action(ctx, Some(&self.0.action_app_id), &self.0.action_id).await
    }
}

/// An Appy Pie account by its id, for the id-only paths (node look-ups).
pub async fn account_node(ctx: &Context<'_>, g: &GlobalId) -> Result<Option<Account>> {
    match g.provider {
        Provider::AppyPie => pie_account(ctx, None, &g.native).await,
        Provider::Appmixer => mixer_account(ctx, &g.native).await,
    }
}
