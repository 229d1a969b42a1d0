//! Automations: Appmixer flows and Appy Pie connects, one list over both.

mod automation;
mod list;
pub use automation::*;
pub use list::*;

use crate::error::{Code, Gql};
use crate::loaders::load_once;
use crate::loaders::model::appmixer as mm;
use crate::loaders::model::appypie as pm;
use crate::loaders::{ConnectDraft, FlowChange, FlowPermission, FlowSort};
use crate::schema::access::{authenticated, Authenticated};
use crate::schema::lean::{Lean, LeanPage};
use crate::schema::node::id_of;
use crate::schema::payload::{after_write, at_field, payloads, settle, UserError};
use crate::schema::relay::{limit, page, start_after, Total, MAX_PAGE};
use crate::schema::{mixer, nullable, pie, GlobalId, Kind, Provider};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{ComplexObject, Context, InputObject, Json, Object, Result, SimpleObject, ID};
use std::sync::Arc;

/// An Appy Pie connect by id, from the caller's connect list (one call per request).
pub async fn connect(ctx: &Context<'_>, id: &str) -> Result<Option<Connect>> {
    let all = load_once(&pie(ctx)?.connects).await.gql()?;
    Ok(all.iter().find(|c| c.id == id).cloned().map(Connect))
}

/// Input of `createConnect`.
#[derive(InputObject)]
pub struct CreateConnectInput {
    /// The popular match to start from.
    pub popular_match_id: ID,
    /// The caller's account for the trigger app.
    pub trigger_account_id: ID,
    /// The caller's account for the action app.
    pub action_account_id: ID,
    /// Name; defaults to the match's title.
    pub name: Option<String>,
}

/// A payload holding one connect.
#[derive(SimpleObject, Default)]
pub struct ConnectPayload {
    /// The connect after the change, as the vendor answered the write.
    pub connect: Option<Connect>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

/// Input of `updateConnectOptions`.
#[derive(InputObject)]
pub struct UpdateConnectOptionsInput {
    /// The connect.
    pub id: ID,
    /// Which side's options.
    pub side: ConnectSide,
    /// Field key -> value (strings).
    pub options: Json<serde_json::Map<String, serde_json::Value>>,
    /// A different account for that side.
    pub account_id: Option<ID>,
}

/// Input naming one automation (flow or connect).
#[derive(InputObject)]
pub struct AutomationIdInput {
    /// The flow or connect.
    pub id: ID,
}

/// A payload holding one automation.
#[derive(SimpleObject, Default)]
#[graphql(complex)]
pub struct AutomationPayload {
    /// The id of the automation written.
    pub id: Option<ID>,
    /// Flows: Appmixer's ticket for the start or stop (for a stop in the background, the flow's
    /// id; `Flow.stopStatus` follows it).
    pub ticket: Option<String>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

#[ComplexObject]
impl AutomationPayload {
    /// The automation after the change, read fresh from its vendor.
    async fn automation(&self, ctx: &Context<'_>) -> Result<Option<Automation>> {
        let Some(id) = &self.id else { return Ok(None) };
        let g = GlobalId::decode(id)?;
        after_write(async {
            Ok(match g.kind {
                Kind::Flow => Some(Automation::Flow(fresh_flow(ctx, &g.native).await?)),
                _ => fresh_connect(ctx, &g.native)
                    .await?
                    .map(Automation::Connect),
            })
        })
        .await
    }
}

/// Input of `renameAutomation`.
#[derive(InputObject)]
pub struct RenameAutomationInput {
    /// The flow or connect.
    pub id: ID,
    /// The new name.
    pub name: String,
    /// Appmixer: rename a running flow too (`forceUpdate`).
    #[graphql(default)]
    pub force: bool,
}

/// Result of a delete.
#[derive(SimpleObject, Default)]
pub struct DeletePayload {
    /// The id of what was deleted.
    pub deleted_id: Option<ID>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

/// Input of `createFlow`.
#[derive(InputObject)]
pub struct CreateFlowInput {
    /// Name.
    pub name: String,
    /// Flow descriptor (component id -> component), as JSON.
    pub descriptor: Option<Json<mm::FlowDescriptor>>,
    /// Free-form metadata.
    pub custom_fields: Option<Json<serde_json::Value>>,
    /// Its picture, a `data:` URI.
    pub thumbnail: Option<String>,
}

/// Someone to share a flow with.
#[derive(InputObject)]
pub struct FlowShareInput {
    /// Their email address.
    pub email: String,
    /// What they may do.
    pub permissions: Vec<FlowPermission>,
}

/// Input of `cloneFlow`.
#[derive(InputObject)]
pub struct CloneFlowInput {
    /// The flow to copy.
    pub id: ID,
    /// Put before the copy's name (Appmixer's default when absent).
    pub prefix: Option<String>,
    /// Give the copy's components the accounts of the original's.
    #[graphql(default)]
    pub connect_accounts: bool,
}

/// Input of `disableAutomation`.
#[derive(InputObject)]
pub struct DisableAutomationInput {
    /// The flow or connect.
    pub id: ID,
    /// Flows only: answer at once and stop in the background; `Flow.stopStatus` follows it.
    #[graphql(default)]
    pub background: bool,
}

/// Input of `updateFlow`.
#[derive(InputObject)]
pub struct UpdateFlowInput {
    /// The flow.
    pub id: ID,
    /// New name.
    pub name: Option<String>,
    /// New descriptor.
    pub descriptor: Option<Json<mm::FlowDescriptor>>,
    /// New metadata.
    pub custom_fields: Option<Json<serde_json::Value>>,
    /// New picture, a `data:` URI.
    pub thumbnail: Option<String>,
    /// Who it is shared with, replacing the whole list.
    pub shared_with: Option<Vec<FlowShareInput>>,
    /// Update a running flow too (`forceUpdate`).
    #[graphql(default)]
    pub force: bool,
}

/// A payload holding one flow.
#[derive(SimpleObject, Default)]
#[graphql(complex)]
pub struct FlowPayload {
    /// The id of the flow written.
    pub id: Option<ID>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

#[ComplexObject]
impl FlowPayload {
    /// The flow after the change, read fresh.
    async fn flow(&self, ctx: &Context<'_>) -> Result<Option<Flow>> {
        let Some(id) = &self.id else { return Ok(None) };
        let g = GlobalId::decode(id)?;
        after_write(fresh_flow(ctx, &g.native)).await.map(Some)
    }
}

impl FlowPayload {
    fn written(id: &str) -> FlowPayload {
        FlowPayload {
            id: Some(GlobalId::encode(Kind::Flow, Provider::Appmixer, id)),
            user_errors: Vec::new(),
        }
    }
}

fn automation_id(id: &ID) -> Result<GlobalId> {
    let g = GlobalId::decode(id).map_err(|e| at_field(e, "id"))?;
    match g.kind {
        Kind::Flow | Kind::Connect => Ok(g),
        _ => Err(at_field(
            Code::BadUserInput.error("expected a Flow or Connect id"),
            "id",
        )),
    }
}

async fn fresh_flow(ctx: &Context<'_>, id: &str) -> Result<Flow> {
    Ok(Flow(Arc::new(mixer(ctx)?.fresh_flow(id).await.gql()?)))
}

/// A connect read fresh from Appy Pie.
pub(crate) async fn fresh_connect(ctx: &Context<'_>, id: &str) -> Result<Option<Connect>> {
    let found = pie(ctx)?.fresh_connect(id).await.gql()?;
    Ok(found.map(Connect))
}

/// Starts or stops (in the background if asked) a flow, or turns a connect on or off.
async fn set_enabled(
    ctx: &Context<'_>,
    id: &ID,
    on: bool,
    background: bool,
) -> Result<AutomationPayload> {
    let g = automation_id(id)?;
    if g.kind == Kind::Flow {
        let l = mixer(ctx)?;
        let ticket = if on {
            l.start_flow(&g.native).await.gql()?
        } else {
            l.stop_flow(&g.native, background).await.gql()?
        };
        return Ok(AutomationPayload {
            ticket: Some(ticket),
            ..AutomationPayload::written(id)
        });
    }
    if background {
        let e = Code::BadUserInput.error("only a flow stops in the background");
        return Err(at_field(e, "background"));
    }
    pie(ctx)?.switch_connect(&g.native, on).await.gql()?;
    Ok(AutomationPayload::written(id))
}

impl AutomationPayload {
    fn written(id: &ID) -> AutomationPayload {
        AutomationPayload {
            id: Some(id.clone()),
            ..AutomationPayload::default()
        }
    }
}

#[derive(Default)]
pub struct AutomationsQuery;

/// Reads of automations.
#[Object]
impl AutomationsQuery {
    /// Appmixer flows and Appy Pie connects in one list, filtered and sorted (most recently
    /// changed first unless `sort` says otherwise). A cursor names a place in the order, so it
    /// stays valid as automations come and go.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn automations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which automations; every filter given must hold.")] filter: Option<
            AutomationFilter,
        >,
        #[graphql(desc = "The order (default `UPDATED_DESC`).")] sort: Option<AutomationSort>,
        #[graphql(desc = "Most items to return.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<AutomationPage>> {
        let (filter, sort) = (filter.unwrap_or_default(), sort.unwrap_or_default());
        let take = limit(first, 20, MAX_PAGE);
        nullable(Box::pin(list::list(ctx, filter, sort, take, after))).await
    }

    /// Appmixer flows, filtered and sorted upstream, paged upstream.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn flows(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which flows; every filter given must hold.")] filter: Option<FlowFilter>,
        #[graphql(desc = "Their order (default: most recently changed first).")] sort: Option<
            FlowSort,
        >,
        #[graphql(desc = "Most items to return.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<LeanPage<usize, Flow>>> {
        let search = flow_search(filter.unwrap_or_default(), sort.unwrap_or_default())?;
        let thumbnails = ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("thumbnail")
            .exists();
        nullable(Box::pin(async move {
            let start = start_after(after.as_deref())?;
            let take = limit(first, 20, MAX_PAGE);
            let search = crate::loaders::FlowSearch {
                offset: start as u32,
                limit: take as u32 + 1,
                thumbnails,
                ..search
            };
            let (mut flows, total) = mixer(ctx)?.flows_page(&search).await.gql()?;
            let has_next = flows.len() > take;
            flows.truncate(take);
            let mut conn = Connection::with_additional_fields(
                start > 0,
                has_next,
                Total { total_count: total },
            );
            conn.edges.extend(
                flows
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| Edge::new(start + i, Lean(Flow(Arc::new(f))))),
            );
            Ok(LeanPage(conn))
        }))
        .await
    }

    /// Appy Pie connects, optionally only those on (`enabled: true`) or off.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn connects(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only running ones (true) or only stopped ones (false).")] enabled: Option<
            bool,
        >,
        #[graphql(desc = "Most items to return.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<LeanPage<usize, Connect>>> {
        nullable(Box::pin(async move {
            let all = load_once(&pie(ctx)?.connects).await.gql()?;
            let list: Vec<Lean<Connect>> = all
                .iter()
                .filter(|c| enabled.is_none_or(|e| (c.status == pm::ConnectStatus::On) == e))
                .cloned()
                .map(|c| Lean(Connect(c)))
                .collect();
            page(list, first, after).map(LeanPage)
        }))
        .await
    }
}

#[derive(Default)]
pub struct AutomationsMutation;

/// Writes to flows and connects.
#[Object(guard = "crate::schema::access::Writes")]
impl AutomationsMutation {
    /// Creates an Appy Pie connect (off) from a popular match.
    async fn create_connect(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: CreateConnectInput,
    ) -> Result<ConnectPayload> {
        settle(Box::pin(async {
            let pie_id = |id: &ID, kind, field| id_of(id, kind, Some(Provider::AppyPie), field);
            let new = ConnectDraft {
                popular_match_id: pie_id(
                    &input.popular_match_id,
                    Kind::PopularMatch,
                    "popularMatchId",
                )?
                .native,
                trigger_account_id: pie_id(
                    &input.trigger_account_id,
                    Kind::Account,
                    "triggerAccountId",
                )?
                .native,
                action_account_id: pie_id(
                    &input.action_account_id,
                    Kind::Account,
                    "actionAccountId",
                )?
                .native,
                name: input.name,
            };
            let connect = pie(ctx)?.create_connect(new).await.gql()?;
            Ok(ConnectPayload {
                connect: Some(Connect(Arc::new(connect))),
                ..Default::default()
            })
        }))
        .await
    }

    /// Sets a connect's trigger or action options (and optionally that side's account).
    async fn update_connect_options(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: UpdateConnectOptionsInput,
    ) -> Result<ConnectPayload> {
        settle(Box::pin(async {
            let c = id_of(&input.id, Kind::Connect, None, "id")?;
            let account_id = match &input.account_id {
                Some(id) => {
                    Some(id_of(id, Kind::Account, Some(Provider::AppyPie), "accountId")?.native)
                }
                None => None,
            };
            let connect = pie(ctx)?
                .set_options(&c.native, input.side.into(), account_id, input.options.0)
                .await
                .gql()?;
            Ok(ConnectPayload {
                connect: Some(Connect(Arc::new(connect))),
                ..Default::default()
            })
        }))
        .await
    }

    /// Starts a flow or turns a connect on.
    async fn enable_automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AutomationIdInput,
    ) -> Result<AutomationPayload> {
        settle(Box::pin(set_enabled(ctx, &input.id, true, false))).await
    }

    /// Stops a flow or turns a connect off.
    async fn disable_automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: DisableAutomationInput,
    ) -> Result<AutomationPayload> {
        let background = input.background;
        settle(Box::pin(set_enabled(ctx, &input.id, false, background))).await
    }

    /// Renames a flow or a connect.
    async fn rename_automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: RenameAutomationInput,
    ) -> Result<AutomationPayload> {
        settle(Box::pin(async {
            let g = automation_id(&input.id)?;
            if input.name.trim().is_empty() {
                return Err(at_field(
                    Code::BadUserInput.error("a name cannot be empty"),
                    "name",
                ));
            }
            if g.kind == Kind::Flow {
                let change = FlowChange {
                    name: Some(input.name),
                    ..FlowChange::default()
                };
                let l = mixer(ctx)?;
                l.update_flow(&g.native, change, input.force).await.gql()?;
            } else {
                pie(ctx)?
                    .rename_connect(&g.native, &input.name)
                    .await
                    .gql()?;
            }
            Ok(AutomationPayload::written(&input.id))
        }))
        .await
    }

    /// Deletes a flow or a connect.
    async fn delete_automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AutomationIdInput,
    ) -> Result<DeletePayload> {
        settle(Box::pin(async {
            let g = automation_id(&input.id)?;
            if g.kind == Kind::Flow {
                mixer(ctx)?.delete_flow(&g.native).await.gql()?;
            } else {
                pie(ctx)?.delete_connect(&g.native).await.gql()?;
            }
            Ok(DeletePayload {
                deleted_id: Some(input.id),
                ..Default::default()
            })
        }))
        .await
    }

    /// Creates an Appmixer flow (stopped).
    async fn create_flow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: CreateFlowInput,
    ) -> Result<FlowPayload> {
        settle(Box::pin(async {
            if input.name.trim().is_empty() {
                return Err(at_field(
                    Code::BadUserInput.error("a name cannot be empty"),
                    "name",
                ));
            }
            let change = FlowChange {
                name: Some(input.name),
                descriptor: input.descriptor.map(|d| d.0),
                custom_fields: input.custom_fields.map(|c| c.0),
                thumbnail: input.thumbnail,
                shared_with: None,
            };
            let id = mixer(ctx)?.create_flow(change).await.gql()?;
            Ok(FlowPayload::written(&id))
        }))
        .await
    }

    /// Updates an Appmixer flow; a running flow needs `force`.
    async fn update_flow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: UpdateFlowInput,
    ) -> Result<FlowPayload> {
        settle(Box::pin(async {
            let g = id_of(&input.id, Kind::Flow, None, "id")?;
            let shares = input
                .shared_with
                .map(|all| all.into_iter().map(|s| (s.email, s.permissions)).collect());
            let change = FlowChange {
                name: input.name,
                descriptor: input.descriptor.map(|d| d.0),
                custom_fields: input.custom_fields.map(|c| c.0),
                thumbnail: input.thumbnail,
                shared_with: shares,
            };
            let l = mixer(ctx)?;
            l.update_flow(&g.native, change, input.force).await.gql()?;
            Ok(FlowPayload::written(&g.native))
        }))
        .await
    }

    /// Copies an Appmixer flow (stopped), optionally with the original's accounts.
    async fn clone_flow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: CloneFlowInput,
    ) -> Result<FlowPayload> {
        settle(Box::pin(async {
            let g = id_of(&input.id, Kind::Flow, None, "id")?;
            let (prefix, with_accounts) = (input.prefix, input.connect_accounts);
            let l = mixer(ctx)?;
            let id = l.clone_flow(&g.native, prefix, with_accounts).await.gql()?;
            Ok(FlowPayload::written(&id))
        }))
        .await
    }
}

payloads!(
    ConnectPayload,
    AutomationPayload,
    DeletePayload,
    FlowPayload,
);
