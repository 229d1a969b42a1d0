//! Signing in and authenticating services: Appy Pie access tokens, Appmixer sign-in, auth
//! tickets and sessions, and the account a flow's component uses.

use crate::error::Gql;
use crate::schema::access::{authenticated, Authenticated};
use crate::schema::accounts::fresh_mixer_account;
use crate::schema::node::id_of;
use crate::schema::payload::{after_write, at_field, payloads, settle, UserError};
use crate::schema::viewer::AppmixerUser;
use crate::schema::{data, mixer, nullable, Account, DateTime, GlobalId, Kind, Provider};
use async_graphql::{ComplexObject, Context, InputObject, Object, Result, SimpleObject, ID};

/// Status of an Appmixer authentication session.
#[derive(SimpleObject)]
pub struct AuthStatus {
    /// Whether the user finished authenticating.
    pub finished: bool,
    /// The account created, once finished.
    pub account: Option<Account>,
    /// When the session last changed.
    pub updated_at: Option<DateTime>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

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

/// The component instance id of the `FlowComponent` in input field `componentId`.
fn component_of(id: &ID) -> Result<String> {
    let (_, _, component) =
        GlobalId::expect_nested(id, Kind::FlowComponent).map_err(|e| at_field(e, "componentId"))?;
    Ok(component)
}

#[derive(Default)]
pub struct AuthQuery;

/// Reads of authentication sessions.
#[Object]
impl AuthQuery {
    /// Status of an Appmixer authentication session.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn appmixer_auth_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The ticket `startAuthSession` returned.")] ticket: String,
    ) -> Result<Option<AuthStatus>> {
        nullable(Box::pin(async move {
            let s = mixer(ctx)?.auth_status(&ticket).await.gql()?;
            let account = match &s.account_id {
                Some(id) => fresh_mixer_account(ctx, id).await?,
                None => None,
            };
            Ok(AuthStatus {
                finished: s.finished,
                account,
                updated_at: DateTime::from_vendor(&s.updated_at),
                error: s.error,
            })
        }))
        .await
    }
}

#[derive(Default)]
pub struct AuthMutation;

/// Sign-ins, auth sessions and component accounts.
#[Object(guard = "crate::schema::access::Writes")]
impl AuthMutation {
    /// Appy Pie A0: exchanges a token key and secret key for an access token.
    async fn create_appy_pie_access_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: CreateAppyPieAccessTokenInput,
    ) -> Result<CreateAppyPieAccessTokenPayload> {
        settle(Box::pin(async {
            let token = data(ctx)?
                .sign_in
                .appypie_access_token(&input.token_key, &input.secret_key)
                .await
                .gql()?;
            Ok(CreateAppyPieAccessTokenPayload {
                access_token: Some(token),
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
                .sign_in
                .appmixer(&input.username, &input.password)
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

    /// Starts an Appmixer authentication session.
    async fn create_auth_ticket(&self, ctx: &Context<'_>) -> Result<AuthTicketPayload> {
        settle(Box::pin(async {
            Ok(AuthTicketPayload {
                ticket: Some(mixer(ctx)?.auth_ticket().await.gql()?),
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
            let l = mixer(ctx)?;
            let assigned = l.assign_account(&component, &g.native).await.gql()?;
            Ok(AssignmentPayload {
                component_id: Some(input.component_id),
                account_id: Some(assigned),
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
            mixer(ctx)?.unassign_account(&component).await.gql()?;
            Ok(AssignmentPayload {
                component_id: Some(input.component_id),
                ..Default::default()
            })
        }))
        .await
    }
}

payloads!(
    CreateAppyPieAccessTokenPayload,
    AppmixerSignInPayload,
    AuthTicketPayload,
    AuthUrlPayload,
    StartAuthSessionPayload,
    AssignmentPayload,
);
