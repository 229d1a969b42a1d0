//! The mutation root: every upstream write, each sent once (never retried).

use super::account::{mixer_account, Account};
use super::automation::{Automation, Connect, ConnectSide, Flow};
use super::node::{GlobalId, Kind};
use super::query::{connect, AppmixerUser};
use super::{data, mixer, pie, Provider};
use crate::error::{Code, Gql};
use crate::upstream::appmixer::model as mm;
use crate::upstream::appypie::model as pm;
use async_graphql::{Context, InputObject, Json, Object, Result, SimpleObject, ID};
use std::sync::Arc;

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
#[derive(SimpleObject)]
pub struct CreateAppyPieAccessTokenPayload {
    /// Send it in the Appy Pie credential header.
    pub access_token: String,
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
#[derive(SimpleObject)]
pub struct AppmixerSignInPayload {
    /// Send it in the Appmixer credential header.
    pub token: String,
    /// The signed-in user.
    pub user: AppmixerUser,
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
#[derive(SimpleObject)]
pub struct ConnectAppyPieAccountPayload {
    /// Where to send the user to authorize.
    pub authorization_url: String,
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
#[derive(SimpleObject)]
pub struct ConnectPayload {
    /// The connect after the change.
    pub connect: Connect,
}

/// Input of `updateConnectOptions`.
#[derive(InputObject)]
pub struct UpdateConnectOptionsInput {
    /// The connect.
    pub connect_id: ID,
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
    pub connect_id: ID,
}

/// Result of `testConnect`.
#[derive(SimpleObject)]
pub struct TestConnectPayload {
    /// Whether the test run succeeded.
    pub success: bool,
    /// What happened.
    pub message: Option<String>,
    /// The sample the trigger produced.
    pub trigger_sample: Json<serde_json::Value>,
    /// What the action app answered.
    pub action_response: Option<Json<serde_json::Value>>,
    /// The connect, whose history now holds this run.
    pub connect: Option<Connect>,
}

/// Input naming one automation (flow or connect).
#[derive(InputObject)]
pub struct AutomationIdInput {
    /// The flow or connect.
    pub id: ID,
}

/// A payload holding one automation.
#[derive(SimpleObject)]
pub struct AutomationPayload {
    /// The automation after the change.
    pub automation: Automation,
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
#[derive(SimpleObject)]
pub struct DeletePayload {
    /// The id of what was deleted.
    pub deleted_id: ID,
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
    /// Update a running flow too (`forceUpdate`).
    #[graphql(default)]
    pub force: bool,
}

/// A payload holding one flow.
#[derive(SimpleObject)]
pub struct FlowPayload {
    /// The flow after the change.
    pub flow: Flow,
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
}

/// A payload holding one account.
#[derive(SimpleObject)]
pub struct AccountPayload {
    /// The account after the change.
    pub account: Option<Account>,
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

/// Result of `testAccount`.
#[derive(SimpleObject)]
pub struct TestAccountPayload {
    /// One verdict per token.
    pub tokens: Vec<TokenCheck>,
}

/// Result of `createAuthTicket`.
#[derive(SimpleObject)]
pub struct AuthTicketPayload {
    /// The session ticket.
    pub ticket: String,
}

/// Input of `appmixerAuthUrl`.
#[derive(InputObject)]
pub struct AuthUrlInput {
    /// Component type, e.g. `appmixer.slack.SendMessage`.
    pub component_type: String,
    /// The ticket from `createAuthTicket`.
    pub ticket: String,
    /// The component instance the account is for.
    pub component_id: Option<String>,
}

/// Result of `appmixerAuthUrl`.
#[derive(SimpleObject)]
pub struct AuthUrlPayload {
    /// Where the user authenticates.
    pub auth_url: String,
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
#[derive(SimpleObject)]
pub struct StartAuthSessionPayload {
    /// The service being authenticated, e.g. `appmixer:slack`.
    pub service: String,
}

/// Input of `assignAccount`.
#[derive(InputObject)]
pub struct AssignAccountInput {
    /// The component instance id in a flow.
    pub component_id: String,
    /// The Appmixer account.
    pub account_id: ID,
}

/// Input of `unassignAccount`.
#[derive(InputObject)]
pub struct UnassignAccountInput {
    /// The component instance id in a flow.
    pub component_id: String,
}

/// Result of assigning or clearing a component's account.
#[derive(SimpleObject)]
pub struct AssignmentPayload {
    /// The component instance id.
    pub component_id: String,
    /// The account now assigned (none after unassigning).
    pub account: Option<Account>,
}

fn expect_provider(g: &GlobalId, p: Provider) -> Result<()> {
    if g.provider != p {
        return Err(Code::BadUserInput.error(format!("this mutation takes a {p:?} id")));
    }
    Ok(())
}

async fn fresh_flow(ctx: &Context<'_>, id: &str) -> Result<Flow> {
    Ok(Flow(Arc::new(mixer(ctx)?.session.flow(id).await.gql()?)))
}

/// The connect as cached for this request, or NOT_FOUND.
async fn cached_connect(ctx: &Context<'_>, id: &str) -> Result<Connect> {
    connect(ctx, id)
        .await?
        .ok_or_else(|| Code::NotFound.error("no such connect"))
}

fn automation_id(id: &ID) -> Result<GlobalId> {
    let g = GlobalId::decode(id)?;
    match g.kind {
        Kind::Flow | Kind::Connect => Ok(g),
        _ => Err(Code::BadUserInput.error("expected a Flow or Connect id")),
    }
}

async fn set_enabled(ctx: &Context<'_>, id: &ID, on: bool) -> Result<AutomationPayload> {
    let g = automation_id(id)?;
    let automation = if g.kind == Kind::Flow {
        let s = &mixer(ctx)?.session;
        if on {
            s.start_flow(&g.native).await.gql()?;
        } else {
            s.stop_flow(&g.native, false).await.gql()?;
        }
        Automation::Flow(fresh_flow(ctx, &g.native).await?)
    } else {
        let status = if on {
            pm::ConnectStatus::On
        } else {
            pm::ConnectStatus::Off
        };
        let changed = pie(ctx)?
            .session
            .set_connect_status(&g.native, status)
            .await
            .gql()?;
        let mut c = cached_connect(ctx, &g.native).await?;
        Arc::make_mut(&mut c.0).status = changed.status;
        Automation::Connect(c)
    };
    Ok(AutomationPayload { automation })
}

/// Writes to both vendors; each is sent upstream once and never retried.
#[Object]
impl Mutation {
    /// Appy Pie A0: exchanges a token key and secret key for an access token.
    async fn create_appy_pie_access_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: CreateAppyPieAccessTokenInput,
    ) -> Result<CreateAppyPieAccessTokenPayload> {
        let token = data(ctx)?
            .appypie_client
            .create_access_token(&input.token_key, &input.secret_key)
            .await
            .gql()?;
        Ok(CreateAppyPieAccessTokenPayload {
            access_token: token.expose().to_string(),
        })
    }

    /// Appmixer sign-in with a username (or email) and password.
    async fn appmixer_sign_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AppmixerSignInInput,
    ) -> Result<AppmixerSignInPayload> {
        let signed = data(ctx)?
            .appmixer_client
            .sign_in(&input.username, &input.password)
            .await
            .gql()?;
        let u = signed.user;
        let user = AppmixerUser {
            id: u.id,
            username: u.username,
            email: u.email,
            plan: u.plan,
            scope: vec!["user".into()],
        };
        Ok(AppmixerSignInPayload {
            token: signed.token,
            user,
        })
    }

    /// Starts connecting an Appy Pie account: returns the URL the user must visit.
    async fn connect_appy_pie_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: ConnectAppyPieAccountInput,
    ) -> Result<ConnectAppyPieAccountPayload> {
        let g = GlobalId::expect(&input.app_id, Kind::App)?;
        expect_provider(&g, Provider::Appypie)?;
        let app = super::app::pie_app(ctx, &g.native)
            .await?
            .ok_or_else(|| Code::NotFound.error("no such app"))?;
        let super::App::AppyPie(app) = app else {
            return Err(Code::BadUserInput.error("not an Appy Pie app"));
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
            authorization_url: url.url,
        })
    }

    /// Creates an Appy Pie connect (off) from a popular match.
    async fn create_connect(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: CreateConnectInput,
    ) -> Result<ConnectPayload> {
        let pm_id = GlobalId::expect(&input.popular_match_id, Kind::PopularMatch)?;
        let trigger = GlobalId::expect(&input.trigger_account_id, Kind::Account)?;
        let action = GlobalId::expect(&input.action_account_id, Kind::Account)?;
        for g in [&pm_id, &trigger, &action] {
            expect_provider(g, Provider::Appypie)?;
        }
        let new = pm::NewConnect {
            popular_match_id: pm_id.native,
            trigger_account_id: trigger.native,
            action_account_id: action.native,
            name: input.name,
        };
        let connect = pie(ctx)?.session.create_connect(&new).await.gql()?;
        Ok(ConnectPayload {
            connect: Connect(Arc::new(connect)),
        })
    }

    /// Sets a connect's trigger or action options (and optionally that side's account).
    async fn update_connect_options(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: UpdateConnectOptionsInput,
    ) -> Result<ConnectPayload> {
        let c = GlobalId::expect(&input.connect_id, Kind::Connect)?;
        let account_id = match &input.account_id {
            Some(id) => Some(GlobalId::expect(id, Kind::Account)?.native),
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
            connect: Connect(Arc::new(connect)),
        })
    }

    /// Runs a test of a connect; the run is added to its history.
    async fn test_connect(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: ConnectIdInput,
    ) -> Result<TestConnectPayload> {
        let c = GlobalId::expect(&input.connect_id, Kind::Connect)?;
        let r = pie(ctx)?.session.test_connect(&c.native).await.gql()?;
        Ok(TestConnectPayload {
            success: r.result == pm::RunStatus::Success,
            message: r.message,
            trigger_sample: Json(r.trigger_sample),
            action_response: r.action_response.map(Json),
            connect: connect(ctx, &c.native).await?,
        })
    }

    /// Starts a flow or turns a connect on.
    async fn enable_automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AutomationIdInput,
    ) -> Result<AutomationPayload> {
        set_enabled(ctx, &input.id, true).await
    }

    /// Stops a flow or turns a connect off.
    async fn disable_automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AutomationIdInput,
    ) -> Result<AutomationPayload> {
        set_enabled(ctx, &input.id, false).await
    }

    /// Renames a flow or a connect.
    async fn rename_automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: RenameAutomationInput,
    ) -> Result<AutomationPayload> {
        let g = automation_id(&input.id)?;
        let automation = if g.kind == Kind::Flow {
            let change = mm::FlowInput {
                name: Some(input.name),
                ..mm::FlowInput::default()
            };
            mixer(ctx)?
                .session
                .update_flow(&g.native, &change, input.force)
                .await
                .gql()?;
            Automation::Flow(fresh_flow(ctx, &g.native).await?)
        } else {
            let changed = pie(ctx)?
                .session
                .rename_connect(&g.native, &input.name)
                .await
                .gql()?;
            let mut c = cached_connect(ctx, &g.native).await?;
            Arc::make_mut(&mut c.0).name = changed.name;
            Automation::Connect(c)
        };
        Ok(AutomationPayload { automation })
    }

    /// Deletes a flow or a connect.
    async fn delete_automation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AutomationIdInput,
    ) -> Result<DeletePayload> {
        let g = automation_id(&input.id)?;
        if g.kind == Kind::Flow {
            mixer(ctx)?.session.delete_flow(&g.native).await.gql()?;
        } else {
            pie(ctx)?.session.delete_connect(&g.native).await.gql()?;
        }
        Ok(DeletePayload {
            deleted_id: input.id,
        })
    }

    /// Creates an Appmixer flow (stopped).
    async fn create_flow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: CreateFlowInput,
    ) -> Result<FlowPayload> {
        let body = mm::FlowInput {
            name: Some(input.name),
            flow: input.descriptor.map(|d| d.0),
            custom_fields: input.custom_fields.map(|c| c.0),
            ..mm::FlowInput::default()
        };
        let id = mixer(ctx)?.session.create_flow(&body).await.gql()?;
        Ok(FlowPayload {
            flow: fresh_flow(ctx, &id).await?,
        })
    }

    /// Updates an Appmixer flow; a running flow needs `force`.
    async fn update_flow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: UpdateFlowInput,
    ) -> Result<FlowPayload> {
        let g = GlobalId::expect(&input.id, Kind::Flow)?;
        let body = mm::FlowInput {
            name: input.name,
            flow: input.descriptor.map(|d| d.0),
            custom_fields: input.custom_fields.map(|c| c.0),
            ..mm::FlowInput::default()
        };
        mixer(ctx)?
            .session
            .update_flow(&g.native, &body, input.force)
            .await
            .gql()?;
        Ok(FlowPayload {
            flow: fresh_flow(ctx, &g.native).await?,
        })
    }

    /// Creates an Appmixer account from credentials the caller already holds.
    async fn create_appmixer_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: CreateAppmixerAccountInput,
    ) -> Result<AccountPayload> {
        let body = mm::NewAccount {
            service: input.service,
            token: input.token.0,
            name: input.name,
            display_name: input.display_name,
            profile_info: None,
        };
        let created = mixer(ctx)?
            .session
            .create_account(&body, false, true)
            .await
            .gql()?;
        Ok(AccountPayload {
            account: Some(Account::Appmixer(Arc::new(created.account))),
        })
    }

    /// Sets an Appmixer account's display name.
    async fn update_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: UpdateAccountInput,
    ) -> Result<AccountPayload> {
        let g = GlobalId::expect(&input.id, Kind::Account)?;
        expect_provider(&g, Provider::Appmixer)?;
        let s = &mixer(ctx)?.session;
        s.update_account(&g.native, input.display_name.as_deref())
            .await
            .gql()?;
        let fresh = s
            .accounts(&[format!("accountId:{}", g.native)])
            .await
            .gql()?;
        Ok(AccountPayload {
            account: fresh
                .into_iter()
                .next()
                .map(|a| Account::Appmixer(Arc::new(a))),
        })
    }

    /// Checks whether an Appmixer account's tokens are still valid.
    async fn test_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AccountIdInput,
    ) -> Result<TestAccountPayload> {
        let g = GlobalId::expect(&input.id, Kind::Account)?;
        expect_provider(&g, Provider::Appmixer)?;
        let verdicts = mixer(ctx)?.session.test_account(&g.native).await.gql()?;
        let tokens = verdicts
            .into_iter()
            .map(|(token_id, v)| TokenCheck {
                token_id,
                valid: v == "valid",
            })
            .collect();
        Ok(TestAccountPayload { tokens })
    }

    /// Removes an Appmixer account; the flows using it stop.
    async fn remove_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AccountIdInput,
    ) -> Result<DeletePayload> {
        let g = GlobalId::expect(&input.id, Kind::Account)?;
        expect_provider(&g, Provider::Appmixer)?;
        mixer(ctx)?.session.remove_account(&g.native).await.gql()?;
        Ok(DeletePayload {
            deleted_id: input.id,
        })
    }

    /// Starts an Appmixer authentication session.
    async fn create_auth_ticket(&self, ctx: &Context<'_>) -> Result<AuthTicketPayload> {
        Ok(AuthTicketPayload {
            ticket: mixer(ctx)?.session.auth_ticket().await.gql()?,
        })
    }

    /// The URL where the user authenticates for a component type.
    async fn appmixer_auth_url(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AuthUrlInput,
    ) -> Result<AuthUrlPayload> {
        let url = mixer(ctx)?
            .session
            .auth_url(
                &input.component_type,
                &input.ticket,
                input.component_id.as_deref(),
            )
            .await
            .gql()?;
        Ok(AuthUrlPayload { auth_url: url })
    }

    /// Starts the authentication session of a ticket.
    async fn start_auth_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: StartAuthSessionInput,
    ) -> Result<StartAuthSessionPayload> {
        let service = mixer(ctx)?
            .session
            .start_auth_session(&input.component_type, &input.ticket)
            .await
            .gql()?;
        Ok(StartAuthSessionPayload { service })
    }

    /// Assigns an Appmixer account to a component instance of a flow.
    async fn assign_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: AssignAccountInput,
    ) -> Result<AssignmentPayload> {
        let g = GlobalId::expect(&input.account_id, Kind::Account)?;
        expect_provider(&g, Provider::Appmixer)?;
        let a = mixer(ctx)?
            .session
            .assign_account(&input.component_id, &g.native)
            .await
            .gql()?;
        Ok(AssignmentPayload {
            component_id: a.component_id,
            account: mixer_account(ctx, &a.account_id).await?,
        })
    }

    /// Clears the account of a component instance.
    async fn unassign_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: UnassignAccountInput,
    ) -> Result<AssignmentPayload> {
        let id = mixer(ctx)?
            .session
            .unassign_account(&input.component_id)
            .await
            .gql()?;
        Ok(AssignmentPayload {
            component_id: id,
            account: None,
        })
    }
}
