//! The mutation root: every upstream write, each sent once (never retried).

use super::account::{fresh_mixer_account, Account};
use super::automation::{Automation, Connect, ConnectSide, Flow, FlowPermission};
use super::node::{GlobalId, Kind};
use super::payload::{after_write, at_field, payloads, settle, UserError};
use super::query::AppmixerUser;
use super::{data, mixer, pie, Provider};
use crate::error::{Code, Gql};
use crate::upstream::appmixer::model as mm;
use crate::upstream::appypie::all_pages;
use crate::upstream::appypie::model as pm;
use async_graphql::{ComplexObject, Context, InputObject, Json, Object, Result, SimpleObject, ID};
use std::sync::Arc;

#[derive(Default)]
pub struct Mutation;

/// Input of `createAppyPieAccessToken`.
#[derive(InputObject)]
pub struct CreateAppyPieAccessTokenInput {
    /// Appy Pie token key.
    pub token_key: String,
    /// Appy Pie secret key.
    pub secret_key: String,
}

/// Result of `createAppyPieAccessToken`.
#[derive(SimpleObject, Default)]
pub struct CreateAppyPieAccessTokenPayload {
    /// Send it in the Appy Pie credential header.
    pub access_token: Option<String>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

/// Input of `appmixerSignIn`.
#[derive(InputObject)]
pub struct AppmixerSignInInput {
    /// Username or email address.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Result of `appmixerSignIn`.
#[derive(SimpleObject, Default)]
pub struct AppmixerSignInPayload {
    /// Send it in the Appmixer credential header.
    pub token: Option<String>,
    /// The signed-in user.
    pub user: Option<AppmixerUser>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

/// Input of `connectAppyPieAccount`.
#[derive(InputObject)]
pub struct ConnectAppyPieAccountInput {
    /// The Appy Pie app to connect an account of.
    pub app_id: ID,
    /// The partner callback Appy Pie returns the user to, with a one-time token `t`.
    pub callback_url: String,
}

/// Result of `connectAppyPieAccount`.
#[derive(SimpleObject, Default)]
pub struct ConnectAppyPieAccountPayload {
    /// Where to send the user to authorize.
    pub authorization_url: Option<String>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
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

/// Input naming one connect.
#[derive(InputObject)]
pub struct ConnectIdInput {
    /// The connect.
    pub id: ID,
}

/// Result of `testConnect`.
#[derive(SimpleObject, Default)]
#[graphql(complex)]
pub struct TestConnectPayload {
    /// Whether the test run succeeded.
    pub success: Option<bool>,
    /// What happened.
    pub message: Option<String>,
    /// The sample the trigger produced.
    pub trigger_sample: Option<Json<serde_json::Value>>,
    /// What the action app answered.
    pub action_response: Option<Json<serde_json::Value>>,
    /// The history entry of this run.
    pub history_id: Option<String>,
    #[graphql(skip)]
    pub connect_id: Option<String>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

#[ComplexObject]
impl TestConnectPayload {
    /// The connect, read after the run (its history now holds it).
    async fn connect(&self, ctx: &Context<'_>) -> Result<Option<Connect>> {
        match &self.connect_id {
            Some(id) => after_write(fresh_connect(ctx, id)).await,
            None => Ok(None),
        }
    }
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

/// Input of `createAppmixerAccount`.
#[derive(InputObject)]
pub struct CreateAppmixerAccountInput {
    /// Service, e.g. `appmixer:github`.
    pub service: String,
    /// The service's credentials (OAuth tokens, API key...), as JSON.
    pub token: Json<serde_json::Value>,
    /// Name.
    pub name: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// The profile to store with it, instead of asking the service (see `requestProfileInfo`).
    pub profile_info: Option<Json<serde_json::Value>>,
    /// Have Appmixer check the token's scopes against the service's (`validateScope`).
    #[graphql(default)]
    pub validate_scope: bool,
    /// Have Appmixer ask the service for the profile (`requestProfileInfo`).
    #[graphql(default = true)]
    pub request_profile_info: bool,
}

/// A payload holding one account.
#[derive(SimpleObject, Default)]
#[graphql(complex)]
pub struct AccountPayload {
    /// The id of the account written.
    pub id: Option<ID>,
    /// The account as the vendor answered the write, when it did.
    #[graphql(skip)]
    pub answered: Option<Account>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

#[ComplexObject]
impl AccountPayload {
    /// The account after the change (read fresh unless the write answered it).
    async fn account(&self, ctx: &Context<'_>) -> Result<Option<Account>> {
        if let Some(account) = &self.answered {
            return Ok(Some(account.clone()));
        }
        let Some(id) = &self.id else { return Ok(None) };
        let g = GlobalId::decode(id)?;
        after_write(fresh_mixer_account(ctx, &g.native)).await
    }
}

/// Input of `updateAccount`.
#[derive(InputObject)]
pub struct UpdateAccountInput {
    /// The Appmixer account.
    pub id: ID,
    /// New display name; null clears it.
    pub display_name: Option<String>,
}

/// Input naming one account.
#[derive(InputObject)]
pub struct AccountIdInput {
    /// The account.
    pub id: ID,
}

/// One token's verdict.
#[derive(SimpleObject)]
pub struct TokenCheck {
    /// Appmixer token id.
    pub token_id: String,
    /// Whether it is still valid.
    pub valid: bool,
}

/// Result of `testAppmixerAccount`.
#[derive(SimpleObject, Default)]
pub struct TestAccountPayload {
    /// One verdict per token.
    pub tokens: Vec<TokenCheck>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

/// Result of `createAuthTicket`.
#[derive(SimpleObject, Default)]
pub struct AuthTicketPayload {
    /// The session ticket.
    pub ticket: Option<String>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

/// Input of `appmixerAuthUrl`.
#[derive(InputObject)]
pub struct AuthUrlInput {
    /// Component type, e.g. `appmixer.slack.SendMessage`.
    pub component_type: String,
    /// The ticket from `createAuthTicket`.
    pub ticket: String,
    /// The `FlowComponent` the account is for.
    pub component_id: Option<ID>,
}

/// Result of `appmixerAuthUrl`.
#[derive(SimpleObject, Default)]
pub struct AuthUrlPayload {
    /// Where the user authenticates.
    pub auth_url: Option<String>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

/// Input of `startAuthSession`.
#[derive(InputObject)]
pub struct StartAuthSessionInput {
    /// Component type.
    pub component_type: String,
    /// The ticket from `createAuthTicket`.
    pub ticket: String,
}

/// Result of `startAuthSession`.
#[derive(SimpleObject, Default)]
pub struct StartAuthSessionPayload {
    /// The service being authenticated, e.g. `appmixer:slack`.
    pub service: Option<String>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

/// Input of `assignAccount`.
#[derive(InputObject)]
pub struct AssignAccountInput {
    /// The `FlowComponent`.
    pub component_id: ID,
    /// The Appmixer account.
    pub account_id: ID,
}

/// Input of `unassignAccount`.
#[derive(InputObject)]
pub struct UnassignAccountInput {
    /// The `FlowComponent`.
    pub component_id: ID,
}

/// Result of assigning or clearing a component's account.
#[derive(SimpleObject, Default)]
#[graphql(complex)]
pub struct AssignmentPayload {
    /// The `FlowComponent`.
    pub component_id: Option<ID>,
    #[graphql(skip)]
    pub account_id: Option<String>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

#[ComplexObject]
impl AssignmentPayload {
    /// The account now assigned (none after unassigning), read fresh.
    async fn account(&self, ctx: &Context<'_>) -> Result<Option<Account>> {
        match &self.account_id {
            Some(id) => after_write(fresh_mixer_account(ctx, id)).await,
            None => Ok(None),
        }
    }
}

payloads!(
    CreateAppyPieAccessTokenPayload,
    AppmixerSignInPayload,
    ConnectAppyPieAccountPayload,
    ConnectPayload,
    TestConnectPayload,
    AutomationPayload,
    DeletePayload,
    FlowPayload,
    AccountPayload,
    TestAccountPayload,
    AuthTicketPayload,
    AuthUrlPayload,
    StartAuthSessionPayload,
    AssignmentPayload,
);

/// The id in input field `field`, of type `kind` and (if given) of `provider`.
fn id_of(id: &ID, kind: Kind, provider: Option<Provider>, field: &str) -> Result<GlobalId> {
    let g = GlobalId::expect(id, kind).map_err(|e| at_field(e, field))?;
    match provider {
        Some(p) if g.provider != p => {
            let e = Code::BadUserInput.error(format!("this mutation takes a {p:?} id"));
            Err(at_field(e, field))
        }
        _ => Ok(g),
    }
}

/// The component instance id of the `FlowComponent` in input field `componentId`.
fn component_of(id: &ID) -> Result<String> {
    let (_, _, component) =
        GlobalId::expect_nested(id, Kind::FlowComponent).map_err(|e| at_field(e, "componentId"))?;
    Ok(component)
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
    Ok(Flow(Arc::new(mixer(ctx)?.session.flow(id).await.gql()?)))
}

/// A connect read fresh from Appy Pie (its list: there is no read of one connect).
async fn fresh_connect(ctx: &Context<'_>, id: &str) -> Result<Option<Connect>> {
    let s = &pie(ctx)?.session;
    let all = all_pages(CONNECT_PAGE, |p| s.connects(None, p))
        .await
        .gql()?;
    Ok(all
        .into_iter()
        .find(|c| c.id == id)
        .map(|c| Connect(Arc::new(c))))
}

const CONNECT_PAGE: u32 = 100;

fn share(input: FlowShareInput) -> mm::Share {
    mm::Share {
        email: input.email,
        permissions: input
            .permissions
            .iter()
            .map(|p| p.wire().to_string())
            .collect(),
    }
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
        let s = &mixer(ctx)?.session;
        let answer = if on {
            s.start_flow(&g.native).await.gql()?
        } else {
            s.stop_flow(&g.native, background).await.gql()?
        };
        return Ok(AutomationPayload {
            ticket: Some(answer.ticket),
            ..AutomationPayload::written(id)
        });
    }
    if background {
        let e = Code::BadUserInput.error("only a flow stops in the background");
        return Err(at_field(e, "background"));
    }
    let status = if on {
        pm::ConnectStatus::On
    } else {
        pm::ConnectStatus::Off
    };
    let session = &pie(ctx)?.session;
    session.set_connect_status(&g.native, status).await.gql()?;
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

/// Writes to both vendors; each is sent upstream once and never retried. What the caller can
/// fix comes back in `userErrors`; the written object is read fresh.
#[Object(name = "CoreMutation")]
impl Mutation {
    /// Appy Pie A0: exchanges a token key and secret key for an access token.
    async fn create_appy_pie_access_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: CreateAppyPieAccessTokenInput,
    ) -> Result<CreateAppyPieAccessTokenPayload> {
        settle(Box::pin(async {
            let token = data(ctx)?
                .appypie_client
                .create_access_token(&input.token_key, &input.secret_key)
                .await
                .gql()?;
            Ok(CreateAppyPieAccessTokenPayload {
                access_token: Some(token.expose().to_string()),
                ..Default::default()
            })
        }))
        .await
    }

    /// Appmixer sign-in with a username (or email) and password.
    async fn appmixer_sign_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AppmixerSignInInput,
    ) -> Result<AppmixerSignInPayload> {
        settle(Box::pin(async {
            let signed = data(ctx)?
                .appmixer_client
                .sign_in(&input.username, &input.password)
                .await
                .gql()?;
            let u = signed.user;
            let user = AppmixerUser {
                native_id: u.id,
                username: u.username,
                email: u.email,
                plan: u.plan,
                scope: vec!["user".into()],
            };
            Ok(AppmixerSignInPayload {
                token: Some(signed.token),
                user: Some(user),
                ..Default::default()
            })
        }))
        .await
    }

    /// Starts connecting an Appy Pie account: returns the URL the user must visit.
    async fn connect_appy_pie_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: ConnectAppyPieAccountInput,
    ) -> Result<ConnectAppyPieAccountPayload> {
        settle(Box::pin(async {
            let g = id_of(&input.app_id, Kind::App, Some(Provider::Appypie), "appId")?;
            let no_app = || at_field(Code::NotFound.error("no such app"), "appId");
            let app = super::app::pie_app(ctx, &g.native)
                .await?
                .ok_or_else(no_app)?;
            let super::App::AppyPie(app) = app else {
                return Err(no_app());
            };
            let url = pie(ctx)?
                .session
                .connect_account(
                    app.auth_type,
                    &app.app_id,
                    &app.seo_link,
                    &input.callback_url,
                )
                .await
                .gql()?;
            Ok(ConnectAppyPieAccountPayload {
                authorization_url: Some(url.url),
                ..Default::default()
            })
        }))
        .await
    }

    /// Creates an Appy Pie connect (off) from a popular match.
    async fn create_connect(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: CreateConnectInput,
    ) -> Result<ConnectPayload> {
        settle(Box::pin(async {
            let pie_id = |id: &ID, kind, field| id_of(id, kind, Some(Provider::Appypie), field);
            let new = pm::NewConnect {
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
            let connect = pie(ctx)?.session.create_connect(&new).await.gql()?;
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
                    Some(id_of(id, Kind::Account, Some(Provider::Appypie), "accountId")?.native)
                }
                None => None,
            };
            let body = pm::StepOptions {
                account_id,
                options: input.options.0,
            };
            let connect = pie(ctx)?
                .session
                .edit_options(&c.native, input.side.into(), &body)
                .await
                .gql()?;
            Ok(ConnectPayload {
                connect: Some(Connect(Arc::new(connect))),
                ..Default::default()
            })
        }))
        .await
    }

    /// Runs a test of a connect; the run is added to its history.
    async fn test_connect(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: ConnectIdInput,
    ) -> Result<TestConnectPayload> {
        settle(Box::pin(async {
            let c = id_of(&input.id, Kind::Connect, None, "id")?;
            let r = pie(ctx)?.session.test_connect(&c.native).await.gql()?;
            Ok(TestConnectPayload {
                success: Some(r.result == pm::RunStatus::Success),
                message: r.message,
                trigger_sample: Some(Json(r.trigger_sample)),
                action_response: r.action_response.map(Json),
                history_id: Some(r.history_id),
                connect_id: Some(c.native),
                user_errors: Vec::new(),
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
                let change = mm::FlowInput {
                    name: Some(input.name),
                    ..mm::FlowInput::default()
                };
                let s = &mixer(ctx)?.session;
                s.update_flow(&g.native, &change, input.force).await.gql()?;
            } else {
                let s = &pie(ctx)?.session;
                s.rename_connect(&g.native, &input.name).await.gql()?;
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
                mixer(ctx)?.session.delete_flow(&g.native).await.gql()?;
            } else {
                pie(ctx)?.session.delete_connect(&g.native).await.gql()?;
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
            let body = mm::FlowInput {
                name: Some(input.name),
                flow: input.descriptor.map(|d| d.0),
                custom_fields: input.custom_fields.map(|c| c.0),
                thumbnail: input.thumbnail,
                shared_with: None,
            };
            let id = mixer(ctx)?.session.create_flow(&body).await.gql()?;
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
                .map(|all| all.into_iter().map(share).collect());
            let body = mm::FlowInput {
                name: input.name,
                flow: input.descriptor.map(|d| d.0),
                custom_fields: input.custom_fields.map(|c| c.0),
                thumbnail: input.thumbnail,
                shared_with: shares,
            };
            let s = &mixer(ctx)?.session;
            s.update_flow(&g.native, &body, input.force).await.gql()?;
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
            let options = mm::CloneOptions {
                prefix: input.prefix,
                connect_accounts: input.connect_accounts,
            };
            let s = &mixer(ctx)?.session;
            let id = s.clone_flow(&g.native, &options).await.gql()?;
            Ok(FlowPayload::written(&id))
        }))
        .await
    }

    /// Creates an Appmixer account from credentials the caller already holds.
    async fn create_appmixer_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: CreateAppmixerAccountInput,
    ) -> Result<AccountPayload> {
        settle(Box::pin(async {
            let body = mm::NewAccount {
                service: input.service,
                token: input.token.0,
                name: input.name,
                display_name: input.display_name,
                profile_info: input.profile_info.map(|p| p.0),
            };
            let s = &mixer(ctx)?.session;
            let (scope, profile) = (input.validate_scope, input.request_profile_info);
            let created = s.create_account(&body, scope, profile).await.gql()?;
            let id = GlobalId::encode(
                Kind::Account,
                Provider::Appmixer,
                &created.account.account_id,
            );
            Ok(AccountPayload {
                id: Some(id),
                answered: Some(Account::Appmixer(Arc::new(created.account))),
                ..Default::default()
            })
        }))
        .await
    }

    /// Sets an Appmixer account's display name.
    async fn update_appmixer_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: UpdateAccountInput,
    ) -> Result<AccountPayload> {
        settle(Box::pin(async {
            let g = id_of(&input.id, Kind::Account, Some(Provider::Appmixer), "id")?;
            let s = &mixer(ctx)?.session;
            s.update_account(&g.native, input.display_name.as_deref())
                .await
                .gql()?;
            Ok(AccountPayload {
                id: Some(input.id),
                ..Default::default()
            })
        }))
        .await
    }

    /// Checks whether an Appmixer account's tokens are still valid.
    async fn test_appmixer_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AccountIdInput,
    ) -> Result<TestAccountPayload> {
        settle(Box::pin(async {
            let g = id_of(&input.id, Kind::Account, Some(Provider::Appmixer), "id")?;
            let verdicts = mixer(ctx)?.session.test_account(&g.native).await.gql()?;
            let tokens = verdicts
                .into_iter()
                .map(|(token_id, v)| TokenCheck {
                    token_id,
                    valid: v == "valid",
                })
                .collect();
            Ok(TestAccountPayload {
                tokens,
                ..Default::default()
            })
        }))
        .await
    }

    /// Removes an Appmixer account; the flows using it stop.
    async fn remove_appmixer_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AccountIdInput,
    ) -> Result<DeletePayload> {
        settle(Box::pin(async {
            let g = id_of(&input.id, Kind::Account, Some(Provider::Appmixer), "id")?;
            mixer(ctx)?.session.remove_account(&g.native).await.gql()?;
            Ok(DeletePayload {
                deleted_id: Some(input.id),
                ..Default::default()
            })
        }))
        .await
    }

    /// Starts an Appmixer authentication session.
    async fn create_auth_ticket(&self, ctx: &Context<'_>) -> Result<AuthTicketPayload> {
        settle(Box::pin(async {
            Ok(AuthTicketPayload {
                ticket: Some(mixer(ctx)?.session.auth_ticket().await.gql()?),
                ..Default::default()
            })
        }))
        .await
    }

    /// The URL where the user authenticates for a component type.
    async fn appmixer_auth_url(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AuthUrlInput,
    ) -> Result<AuthUrlPayload> {
        settle(Box::pin(async {
            let component = match &input.component_id {
                Some(id) => Some(component_of(id)?),
                None => None,
            };
            let url = mixer(ctx)?
                .session
                .auth_url(&input.component_type, &input.ticket, component.as_deref())
                .await
                .gql()?;
            Ok(AuthUrlPayload {
                auth_url: Some(url),
                ..Default::default()
            })
        }))
        .await
    }

    /// Starts the authentication session of a ticket.
    async fn start_auth_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: StartAuthSessionInput,
    ) -> Result<StartAuthSessionPayload> {
        settle(Box::pin(async {
            let service = mixer(ctx)?
                .session
                .start_auth_session(&input.component_type, &input.ticket)
                .await
                .gql()?;
            Ok(StartAuthSessionPayload {
                service: Some(service),
                ..Default::default()
            })
        }))
        .await
    }

    /// Assigns an Appmixer account to a component instance of a flow.
    async fn assign_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AssignAccountInput,
    ) -> Result<AssignmentPayload> {
        settle(Box::pin(async {
            let g = id_of(
                &input.account_id,
                Kind::Account,
                Some(Provider::Appmixer),
                "accountId",
            )?;
            let component = component_of(&input.component_id)?;
            let a = mixer(ctx)?
                .session
                .assign_account(&component, &g.native)
                .await
                .gql()?;
            Ok(AssignmentPayload {
                component_id: Some(input.component_id),
                account_id: Some(a.account_id),
                ..Default::default()
            })
        }))
        .await
    }

    /// Clears the account of a component instance.
    async fn unassign_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: UnassignAccountInput,
    ) -> Result<AssignmentPayload> {
        settle(Box::pin(async {
            let component = component_of(&input.component_id)?;
            mixer(ctx)?
                .session
                .unassign_account(&component)
                .await
                .gql()?;
            Ok(AssignmentPayload {
                component_id: Some(input.component_id),
                ..Default::default()
            })
        }))
        .await
    }
}
