//! Connecting an account to an app, one way for both vendors: start (where to send the user,
//! and a handle), then poll `accountLink(handle)` or finish with `finishAccountLink`. Appy Pie
//! sends the user back to the caller's callback with a one-time token, which finishing needs;
//! Appmixer's sign-in page ends by itself, and polling sees the account appear.

use crate::error::{Code, Gql};
use crate::loaders::model::appmixer::ComponentManifest;
use crate::schema::access::{authenticated, Authenticated};
use crate::schema::accounts::{fresh_mixer_account, Account};
use crate::schema::catalog::{app_by_id, App};
use crate::schema::node::{GlobalId, Kind};
use crate::schema::payload::{at_field, payloads, settle, UserError};
use crate::schema::{mixer, pie, Provider};
use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, ID};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::sync::Arc;

/// How far connecting an account has come.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AccountLinkState {
    /// Waiting for the user to sign in at the vendor.
    Pending,
    /// The account exists.
    Connected,
    /// The vendor says the sign-in failed.
    Failed,
}

/// Connecting an account of an app, whichever vendor.
#[derive(SimpleObject, Clone)]
pub struct AccountLink {
    /// Pass it to `accountLink` and `finishAccountLink`.
    pub handle: ID,
    /// The vendor of the app.
    pub provider: Provider,
    /// How far it has come.
    pub state: AccountLinkState,
    /// Where to send the user to sign in (when started).
    pub redirect_url: Option<String>,
    /// The connected account, once there is one.
    pub account: Option<Account>,
    /// What the vendor said went wrong.
    pub error: Option<String>,
}

/// Input of `startAccountLink`.
#[derive(InputObject)]
pub struct StartAccountLinkInput {
    /// The app to connect an account of (a global id, either vendor).
    pub app_id: ID,
    /// Where Appy Pie sends the user back, with a one-time token `t` to finish with (required
    /// for Appy Pie apps; Appmixer's sign-in page closes by itself).
    pub callback_url: Option<String>,
}

/// Input of `finishAccountLink`.
#[derive(InputObject)]
pub struct FinishAccountLinkInput {
    /// The handle `startAccountLink` gave.
    pub handle: ID,
    /// Appy Pie: the one-time token `t` the callback received.
    pub token: Option<String>,
}

/// Result of `startAccountLink` and `finishAccountLink`.
#[derive(SimpleObject, Default)]
pub struct AccountLinkPayload {
    /// The link as it stands.
    pub link: Option<AccountLink>,
    /// What the caller can fix; empty when it went through.
    pub user_errors: Vec<UserError>,
}

payloads!(AccountLinkPayload);

/// What a handle holds: the vendor, and what its status needs.
enum Handle {
    AppyPie { app: String },
    Appmixer { ticket: String },
}

impl Handle {
    fn encode(&self) -> ID {
        let text = match self {
            Handle::AppyPie { app } => format!("appypie\n{app}"),
            Handle::Appmixer { ticket } => format!("appmixer\n{ticket}"),
        };
        ID(URL_SAFE_NO_PAD.encode(text))
    }

    fn decode(id: &ID) -> Result<Handle> {
        let bad = || {
            at_field(
                Code::BadUserInput.error("not a handle of an account link"),
                "handle",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(id.as_str()).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        match text.split_once('\n') {
            Some(("appypie", app)) => Ok(Handle::AppyPie { app: app.into() }),
            Some(("appmixer", ticket)) => Ok(Handle::Appmixer {
                ticket: ticket.into(),
            }),
            _ => Err(bad()),
        }
    }
}

fn link(handle: &Handle, state: AccountLinkState) -> AccountLink {
    AccountLink {
        handle: handle.encode(),
        provider: match handle {
            Handle::AppyPie { .. } => Provider::AppyPie,
            Handle::Appmixer { .. } => Provider::Appmixer,
        },
        state,
        redirect_url: None,
        account: None,
        error: None,
    }
}

/// Starts connecting an account of the app `input.app_id`.
pub async fn start(ctx: &Context<'_>, input: StartAccountLinkInput) -> Result<AccountLinkPayload> {
    let g = GlobalId::expect(&input.app_id, Kind::App).map_err(|e| at_field(e, "appId"))?;
    let no_app = || at_field(Code::NotFound.error("no such app"), "appId");
    let started = match app_by_id(ctx, &g).await?.ok_or_else(no_app)? {
        App::AppyPie(app) => {
            let callback = input.callback_url.ok_or_else(|| {
                let e = Code::BadUserInput.error("an Appy Pie app needs a callbackUrl");
                at_field(e, "callbackUrl")
            })?;
            let url = pie(ctx)?.connect_account(&app, &callback).await.gql()?;
            let handle = Handle::AppyPie {
                app: app.app_id.clone(),
            };
            AccountLink {
                redirect_url: Some(url),
                ..link(&handle, AccountLinkState::Pending)
            }
        }
        App::Appmixer(app) => {
            let component = signing_component(ctx, &app.name).await?.ok_or_else(|| {
                at_field(
                    Code::BadUserInput.error("this app needs no account"),
                    "appId",
                )
            })?;
            let l = mixer(ctx)?;
            let ticket = l.auth_ticket().await.gql()?;
            l.start_auth_session(&component, &ticket).await.gql()?;
            let url = l.auth_url(&component, &ticket, None).await.gql()?;
            AccountLink {
                redirect_url: Some(url),
                ..link(&Handle::Appmixer { ticket }, AccountLinkState::Pending)
            }
        }
    };
    Ok(AccountLinkPayload {
        link: Some(started),
        ..Default::default()
    })
}

/// A component of the Appmixer app `name` that signs in to its service.
async fn signing_component(ctx: &Context<'_>, name: &str) -> Result<Option<String>> {
    let l = mixer(ctx)?;
    let list: Option<Arc<Vec<ComponentManifest>>> =
        l.components_by_app.load_one(name.to_string()).await.gql()?;
    let list = list.unwrap_or_default();
    Ok(list
        .iter()
        .find(|c| c.auth.is_some())
        .map(|c| c.name.clone()))
}

/// Where a link stands; with `token` (Appy Pie), finishing it.
pub async fn status(ctx: &Context<'_>, handle: &ID, token: Option<&str>) -> Result<AccountLink> {
    let decoded = Handle::decode(handle)?;
    match &decoded {
        Handle::AppyPie { app } => {
            let Some(token) = token else {
                return Ok(link(&decoded, AccountLinkState::Pending));
            };
            let account = pie(ctx)?.account_by_token(token).await.gql()?;
            if account.app_id != *app {
                let e = Code::BadUserInput.error("this token connected an account of another app");
                return Err(at_field(e, "token"));
            }
            Ok(AccountLink {
                account: Some(Account::AppyPie(account)),
                ..link(&decoded, AccountLinkState::Connected)
            })
        }
        Handle::Appmixer { ticket } => {
            let seen = mixer(ctx)?.auth_status(ticket).await.gql()?;
            let account = match (&seen.account_id, seen.finished) {
                (Some(id), true) => fresh_mixer_account(ctx, id).await?,
                _ => None,
            };
            let state = match (&seen.error, seen.finished) {
                (Some(_), _) => AccountLinkState::Failed,
                (None, true) => AccountLinkState::Connected,
                (None, false) => AccountLinkState::Pending,
            };
            Ok(AccountLink {
                account,
                error: seen.error,
                ..link(&decoded, state)
            })
        }
    }
}

/// The account-link operations: the query and both mutations.
#[derive(Default)]
pub struct AccountLinkQuery;

#[Object]
impl AccountLinkQuery {
    /// Where connecting an account stands (Appmixer: pending until the user has signed in;
    /// Appy Pie: pending until `finishAccountLink` gets the callback's token).
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn account_link(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The handle `startAccountLink` gave.")] handle: ID,
    ) -> Result<AccountLink> {
        Box::pin(status(ctx, &handle, None)).await
    }
}

#[derive(Default)]
pub struct AccountLinkMutation;

#[Object(guard = "crate::schema::access::Writes")]
impl AccountLinkMutation {
    /// Starts connecting an account of an app, either vendor: where to send the user, and a
    /// handle to poll or finish with.
    async fn start_account_link(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: StartAccountLinkInput,
    ) -> Result<AccountLinkPayload> {
        settle(Box::pin(start(ctx, input))).await
    }

    /// Finishes connecting an account: Appy Pie with the callback's one-time token, Appmixer
    /// once the user has signed in (still `PENDING` before).
    async fn finish_account_link(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: FinishAccountLinkInput,
    ) -> Result<AccountLinkPayload> {
        settle(Box::pin(async move {
            let link = status(ctx, &input.handle, input.token.as_deref()).await?;
            if link.provider == Provider::AppyPie && input.token.is_none() {
                let e =
                    Code::BadUserInput.error("an Appy Pie link finishes with the callback's token");
                return Err(at_field(e, "token"));
            }
            Ok(AccountLinkPayload {
                link: Some(link),
                ..Default::default()
            })
        }))
        .await
    }
}
