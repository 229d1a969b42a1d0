//! The caller's accounts with both vendors, and connecting new ones.

mod account;
mod link;
pub use account::*;
pub use link::{AccountLinkMutation, AccountLinkQuery};

use crate::error::{Code, Gql};
use crate::loaders::load_once;
use crate::loaders::AccountDraft;
use crate::schema::access::{authenticated, Authenticated};
use crate::schema::automations::DeletePayload;
use crate::schema::catalog::{account_matches_app, app_by_id, pie_app};
use crate::schema::lean::{Lean, LeanPage};
use crate::schema::node::id_of;
use crate::schema::payload::{after_write, at_field, payloads, settle, UserError};
use crate::schema::relay::page;
use crate::schema::{half, mixer, nullable, pie, wants, App, GlobalId, Kind, Provider};
use async_graphql::{ComplexObject, Context, InputObject, Json, Object, Result, SimpleObject, ID};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Which accounts `accounts` lists; every filter given must hold.
#[derive(InputObject, Default)]
pub struct AccountFilter {
    /// Only this vendor's.
    pub provider: Option<Provider>,
    /// Only those of this app (global id).
    pub app_id: Option<ID>,
    /// Only those in this state.
    pub status: Option<AccountStatus>,
    /// Only those whose name or display name holds this text, in any case.
    pub search: Option<String>,
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

#[derive(Default)]
pub struct AccountsQuery;

/// Reads of accounts.
#[Object]
impl AccountsQuery {
    /// The caller's accounts. Appy Pie lists accounts per app only, so without `appId` its half
    /// holds the accounts the caller's connects use.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which accounts; every filter given must hold.")] filter: Option<
            AccountFilter,
        >,
        #[graphql(desc = "Most items to return.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<LeanPage<usize, Account>>> {
        let AccountFilter {
            provider,
            app_id,
            status,
            search,
        } = filter.unwrap_or_default();
        let search = search.map(|s| s.to_lowercase());
        let keep = move |a: &Account| {
            status.is_none_or(|s| a.state() == s)
                && search.as_deref().is_none_or(|s| a.names_hold(s))
        };
        let all = nullable(Box::pin(async move {
            if let Some(id) = app_id {
                let g = GlobalId::expect(&id, Kind::App)?;
                return match app_by_id(ctx, &g).await? {
                    Some(_) if g.provider == Provider::AppyPie => {
                        let list = pie(ctx)?.accounts_by_app.load_one(g.native).await.gql()?;
                        Ok(list.map_or_else(Vec::new, |l| {
                            l.iter().cloned().map(Account::AppyPie).collect()
                        }))
                    }
                    Some(App::Appmixer(a)) => {
                        let all = load_once(&mixer(ctx)?.accounts).await.gql()?;
                        Ok(all
                            .iter()
                            .filter(|x| account_matches_app(&x.service, &a.name))
                            .cloned()
                            .map(Account::Appmixer)
                            .collect())
                    }
                    _ => Err(Code::NotFound.error("no such app")),
                };
            }
            let mut out = Vec::new();
            if wants(provider, Provider::Appmixer) {
                let loaded = async {
                    Ok(load_once(&mixer(ctx)?.accounts)
                        .await
                        .gql()?
                        .iter()
                        .cloned()
                        .map(Account::Appmixer)
                        .collect())
                };
                out.extend(half(ctx, loaded.await));
            }
            if wants(provider, Provider::AppyPie) {
                let loaded = async {
                    let connects = load_once(&pie(ctx)?.connects).await.gql()?;
                    let mut seen = BTreeSet::new();
                    let wanted: Vec<(&String, &String)> = connects
                        .iter()
                        .flat_map(|c| {
                            [
                                (&c.trigger_app_id, &c.trigger_account_id),
                                (&c.action_app_id, &c.action_account_id),
                            ]
                        })
                        .filter(|(_, id)| seen.insert(id.to_string()))
                        .collect();
                    let found = futures_util::future::join_all(
                        wanted
                            .into_iter()
                            .map(|(app, id)| pie_account(ctx, Some(app), id)),
                    )
                    .await;
                    let mut accounts = Vec::new();
                    for account in found {
                        accounts.extend(account?);
                    }
                    Ok(accounts)
                };
                out.extend(half(ctx, loaded.await));
            }
            Ok(out)
        }))
        .await?;
        let all = all.map(|all| all.into_iter().filter(keep).map(Lean).collect());
        all.map(|all| page(all, first, after).map(LeanPage))
            .transpose()
    }

    /// The Appy Pie account connected with the one-time token `t` from the partner callback.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn appy_pie_account_by_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The connected account's token.")] token: String,
    ) -> Result<Option<Account>> {
        nullable(Box::pin(async move {
            let a = pie(ctx)?.account_by_token(&token).await.gql()?;
            Ok(Account::AppyPie(a))
        }))
        .await
    }
}

#[derive(Default)]
pub struct AccountsMutation;

/// Writes to accounts.
#[Object(guard = "crate::schema::access::Writes")]
impl AccountsMutation {
    /// Starts connecting an Appy Pie account: returns the URL the user must visit.
    async fn connect_appy_pie_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: ConnectAppyPieAccountInput,
    ) -> Result<ConnectAppyPieAccountPayload> {
        settle(Box::pin(async {
            let g = id_of(&input.app_id, Kind::App, Some(Provider::AppyPie), "appId")?;
            let no_app = || at_field(Code::NotFound.error("no such app"), "appId");
            let app = pie_app(ctx, &g.native).await?.ok_or_else(no_app)?;
            let super::App::AppyPie(app) = app else {
                return Err(no_app());
            };
            let l = pie(ctx)?;
            let url = l.connect_account(&app, &input.callback_url).await.gql()?;
            Ok(ConnectAppyPieAccountPayload {
                authorization_url: Some(url),
                ..Default::default()
            })
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
            let draft = AccountDraft {
                service: input.service,
                token: input.token.0,
                name: input.name,
                display_name: input.display_name,
                profile_info: input.profile_info.map(|p| p.0),
                validate_scope: input.validate_scope,
                request_profile_info: input.request_profile_info,
            };
            let created = mixer(ctx)?.create_account(draft).await.gql()?;
            let id = GlobalId::encode(Kind::Account, Provider::Appmixer, &created.account_id);
            Ok(AccountPayload {
                id: Some(id),
                answered: Some(Account::Appmixer(Arc::new(created))),
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
            let name = input.display_name.as_deref();
            mixer(ctx)?.rename_account(&g.native, name).await.gql()?;
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
            let verdicts = mixer(ctx)?.test_account(&g.native).await.gql()?;
            let tokens = verdicts
                .into_iter()
                .map(|(token_id, valid)| TokenCheck { token_id, valid })
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
            mixer(ctx)?.remove_account(&g.native).await.gql()?;
            Ok(DeletePayload {
                deleted_id: Some(input.id),
                ..Default::default()
            })
        }))
        .await
    }
}

payloads!(
    ConnectAppyPieAccountPayload,
    AccountPayload,
    TestAccountPayload,
);
