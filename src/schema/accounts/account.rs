//! Connected accounts of both vendors.

use crate::error::Gql;
use crate::loaders::load_once;
use crate::loaders::model::appmixer as mm;
use crate::loaders::model::appypie as pm;
use crate::schema::automations::AutomationPage;
use crate::schema::automations::{Automation, Connect, Flow};
use crate::schema::catalog::{account_matches_app, pie_app, App};
use crate::schema::lean::{plain_fields, Lean, LeanPage};
use crate::schema::node::{GlobalId, Kind};
use crate::schema::relay::page_with;
use crate::schema::DateTime;
use crate::schema::{mixer, nullable, pie, Provider};
use async_graphql::{Context, Enum, Json, Object, Result, ID};

/// Whether an account can be used, both vendors alike.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    /// The vendor says it works (Appy Pie `active`).
    Active,
    /// Its authorization ran out; the user must connect it again (Appy Pie `expired`).
    Expired,
    /// The vendor lists it without saying (Appmixer); `testAppmixerAccount` checks its tokens.
    Unchecked,
}
use std::sync::Arc;

/// An account the caller connected: an Appy Pie connected account or an Appmixer account.
#[derive(Clone)]
pub enum Account {
    AppyPie(pm::ConnectedAccount),
    Appmixer(Arc<mm::Account>),
}

/// An Appmixer account by id, from the caller's account list (one call per request).
pub async fn mixer_account(ctx: &Context<'_>, id: &str) -> Result<Option<Account>> {
    let all = load_once(&mixer(ctx)?.accounts).await.gql()?;
    Ok(all
        .iter()
        .find(|a| a.account_id == id)
        .cloned()
        .map(Account::Appmixer))
}

/// An Appmixer account read fresh (not the request's list): after a write, or once an
/// authentication session has made one.
pub async fn fresh_mixer_account(ctx: &Context<'_>, id: &str) -> Result<Option<Account>> {
    let found = mixer(ctx)?.fresh_account(id).await.gql()?;
    Ok(found.map(Account::Appmixer))
}

/// An Appy Pie account by id, through its app's accounts when the app is known.
pub async fn pie_account(
    ctx: &Context<'_>,
    app_id: Option<&str>,
    id: &str,
) -> Result<Option<Account>> {
    let l = pie(ctx)?;
    if let Some(app) = app_id {
        let list = l.accounts_by_app.load_one(app.to_string()).await.gql()?;
        return Ok(list
            .and_then(|l| l.iter().find(|a| a.id == id).cloned())
            .map(Account::AppyPie));
    }
    Ok(l.account
        .load_one(id.to_string())
        .await
        .gql()?
        .map(Account::AppyPie))
}

plain_fields!(Account => {
    "id" => now(id),
    "provider" => word(provider),
    "nativeId" => now(native_id),
    "name" => now(name),
    "displayName" => now(display_name),
    "status" => word(status),
    "service" => now(service),
    "createdAt" => now(created_at),
});

/// An account the caller connected at a vendor.
#[Object]
impl Account {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::encode(Kind::Account, self.vendor(), self.native())
    }

    /// The vendor.
    pub async fn provider(&self) -> Provider {
        self.vendor()
    }

    /// The vendor's own account id.
    pub async fn native_id(&self) -> &str {
        self.native()
    }

    /// The account's name at the vendor.
    pub async fn name(&self) -> &str {
        match self {
            Account::AppyPie(a) => &a.name,
            Account::Appmixer(a) => &a.name,
        }
    }

    /// Name chosen by the user (Appmixer).
    pub async fn display_name(&self) -> Option<&str> {
        match self {
            Account::AppyPie(_) => None,
            Account::Appmixer(a) => a.display_name.as_deref(),
        }
    }

    /// Whether it can be used, as far as the vendor says without a test.
    pub async fn status(&self) -> AccountStatus {
        self.state()
    }

    /// Appmixer: the service it authenticates, e.g. `appmixer:slack`.
    pub async fn service(&self) -> Option<&str> {
        match self {
            Account::AppyPie(_) => None,
            Account::Appmixer(a) => Some(&a.service),
        }
    }

    /// When it was connected (Appy Pie).
    pub async fn created_at(&self) -> Option<DateTime> {
        match self {
            Account::AppyPie(a) => DateTime::from_vendor(&a.created_at),
            Account::Appmixer(_) => None,
        }
    }

    /// Profile the vendor keeps for the account (Appmixer), as JSON.
    pub async fn profile_info(&self) -> Option<Json<serde_json::Value>> {
        match self {
            Account::AppyPie(_) => None,
            Account::Appmixer(a) => a.profile_info.as_ref().map(|p| Json(p.value())),
        }
    }

    /// The apps this account serves (one for Appy Pie; every module of the service for Appmixer).
    pub async fn apps(&self, ctx: &Context<'_>) -> Result<Option<Vec<App>>> {
        nullable(Box::pin(async move {
            match self {
                Account::AppyPie(a) => Ok(pie_app(ctx, &a.app_id).await?.into_iter().collect()),
                Account::Appmixer(a) => {
                    let apps = load_once(&mixer(ctx)?.apps).await.gql()?;
                    Ok(apps
                        .values()
                        .filter(|app| account_matches_app(&a.service, &app.name))
                        .cloned()
                        .map(App::Appmixer)
                        .collect())
                }
            }
        }))
        .await
    }

    /// Automations that use this account.
    pub async fn automations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Most items to return (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<AutomationPage>> {
        let all = nullable(Box::pin(self.all_automations(ctx))).await?;
        let all = all.map(|all| all.into_iter().map(Lean).collect());
        all.map(|all| page_with(all, first, after, |i| i.to_string()).map(LeanPage))
            .transpose()
    }
}

impl Account {
    async fn all_automations(&self, ctx: &Context<'_>) -> Result<Vec<Automation>> {
        match self {
            Account::AppyPie(a) => {
                let connects = load_once(&pie(ctx)?.connects).await.gql()?;
                Ok(connects
                    .iter()
                    .filter(|c| c.trigger_account_id == a.id || c.action_account_id == a.id)
                    .cloned()
                    .map(|c| Automation::Connect(Connect(c)))
                    .collect())
            }
            Account::Appmixer(a) => {
                let l = mixer(ctx)?;
                let refs = l
                    .account_flows
                    .load_one(a.account_id.clone())
                    .await
                    .gql()?
                    .unwrap_or_default();
                if nodes_want_only(ctx, FLOW_REF_FIELDS) {
                    let used = refs.iter().map(|r| Automation::Flow(Flow(r.0.clone())));
                    return Ok(used.collect());
                }
                let flows = load_once(&l.flows).await.gql()?;
                Ok(refs
                    .iter()
                    .filter_map(|r| flows.iter().find(|f| f.flow_id == r.0.flow_id))
                    .cloned()
                    .map(|f| Automation::Flow(Flow(f)))
                    .collect())
            }
        }
    }
}

/// Fields of a flow that `GET /accounts/{id}/flows` already answers.
const FLOW_REF_FIELDS: &[&str] = &["__typename", "id", "nativeId", "name", "provider"];

/// Whether the nodes of the current connection field (under `nodes` or `edges { node }`,
/// fragments included) ask only for `fields`.
fn nodes_want_only(ctx: &Context<'_>, fields: &[&str]) -> bool {
    let only = |set: async_graphql::SelectionField<'_>| {
        set.selection_set().all(|f| fields.contains(&f.name()))
    };
    ctx.field().selection_set().all(|f| match f.name() {
        "nodes" => only(f),
        "edges" => f.selection_set().all(|e| e.name() != "node" || only(e)),
        _ => true,
    })
}

impl Account {
    /// Its status (see `status`).
    pub fn state(&self) -> AccountStatus {
        match self {
            Account::AppyPie(a) => match a.status {
                pm::AccountStatus::Active => AccountStatus::Active,
                pm::AccountStatus::Expired => AccountStatus::Expired,
            },
            Account::Appmixer(_) => AccountStatus::Unchecked,
        }
    }

    /// Whether its name or display name holds `lowercase` text.
    pub fn names_hold(&self, lowercase: &str) -> bool {
        let (name, display) = match self {
            Account::AppyPie(a) => (&a.name, None),
            Account::Appmixer(a) => (&a.name, a.display_name.as_ref()),
        };
        [Some(name), display]
            .into_iter()
            .flatten()
            .any(|n| n.to_lowercase().contains(lowercase))
    }

    pub fn vendor(&self) -> Provider {
        match self {
            Account::AppyPie(_) => Provider::AppyPie,
            Account::Appmixer(_) => Provider::Appmixer,
        }
    }

    pub fn native(&self) -> &str {
        match self {
            Account::AppyPie(a) => &a.id,
            Account::Appmixer(a) => &a.account_id,
        }
    }
}
