//! The query root.

use super::account::{fresh_mixer_account, pie_account, Account, AccountStatus};
use super::app::{
    app_by_id, component, pie_action, pie_trigger, Action, App, Category, Step, Trigger,
};
use super::automation::{
    account_node, limit, popular_match, Connect, Flow, FlowComponent, PopularMatch,
};
use super::automations::{
    self, flow_query, AutomationFilter, AutomationPage, AutomationSort, FlowFilter, FlowSort,
};
use super::node::{GlobalId, Kind};
use super::runs::Run;
use super::DateTime;
use super::{mixer, note_error, nullable, pie, Provider};
use crate::error::{Code, Gql};
use crate::loaders::load_once;
use crate::upstream::appmixer::model::{ComponentManifest, FlowQuery};
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{
    ComplexObject, Context, InputObject, Interface, Object, OutputType, Result, SimpleObject,
    Union, ID,
};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Anything with a global id.
#[derive(Interface, Clone)]
#[graphql(field(name = "id", ty = "ID", desc = "Global id."))]
pub enum Node {
    App(App),
    Category(Category),
    Trigger(Trigger),
    Action(Action),
    Account(Account),
    Flow(Flow),
    Connect(Connect),
    PopularMatch(PopularMatch),
    FlowComponent(FlowComponent),
    AppmixerUser(AppmixerUser),
    AppyPieProfile(AppyPieProfile),
    Run(Run),
}

/// An Appmixer component: a trigger or an action.
#[derive(Union, Clone)]
pub enum Component {
    Trigger(Trigger),
    Action(Action),
}

/// Extra fields of a connection.
#[derive(SimpleObject)]
pub struct Total {
    /// How many items the whole list holds.
    pub total_count: usize,
}

/// Most items one page may hold.
const MAX_PAGE: usize = 100;

/// A Relay page of `items` after the cursor `after`, at most `first` long (default 20).
pub fn page<T: OutputType>(
    items: Vec<T>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<usize, T, Total, EmptyFields>> {
    let start = match after {
        Some(cursor) => {
            cursor
                .parse::<usize>()
                .map_err(|_| Code::BadUserInput.error("after is not a valid cursor"))?
                + 1
        }
        None => 0,
    };
    let take = limit(first, 20, MAX_PAGE);
    let total = items.len();
    let end = start.saturating_add(take).min(total);
    let mut conn =
        Connection::with_additional_fields(start > 0, end < total, Total { total_count: total });
    conn.edges.extend(
        items
            .into_iter()
            .enumerate()
            .skip(start)
            .take(end.saturating_sub(start))
            .map(|(i, item)| Edge::new(i, item)),
    );
    Ok(conn)
}

/// Keeps the items of one vendor's half of a two-vendor list, noting its error instead.
fn half<T>(ctx: &Context<'_>, result: Result<Vec<T>>) -> Vec<T> {
    result.unwrap_or_else(|e| {
        note_error(ctx, e);
        Vec::new()
    })
}

fn wants(provider: Option<Provider>, p: Provider) -> bool {
    provider.is_none_or(|x| x == p)
}

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

/// Who the caller is, per vendor.
pub struct Viewer;

/// The signed-in Appmixer user.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct AppmixerUser {
    /// Appmixer user id.
    pub native_id: String,
    /// Username.
    pub username: String,
    /// Email address.
    pub email: String,
    /// Plan name.
    pub plan: String,
    /// Scopes of the token.
    pub scope: Vec<String>,
}

/// The Appy Pie profile.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct AppyPieProfile {
    /// Appy Pie user id.
    pub native_id: String,
    /// Email address.
    pub email: String,
    /// Name.
    pub name: String,
    /// Sign-up time.
    pub created_at: Option<DateTime>,
}

#[ComplexObject]
impl AppmixerUser {
    /// Global id.
    async fn id(&self) -> ID {
        GlobalId::encode(Kind::User, Provider::Appmixer, &self.native_id)
    }
}

#[ComplexObject]
impl AppyPieProfile {
    /// Global id.
    async fn id(&self) -> ID {
        GlobalId::encode(Kind::User, Provider::Appypie, &self.native_id)
    }
}

async fn appmixer_user(ctx: &Context<'_>) -> Result<AppmixerUser> {
    let u = load_once(&mixer(ctx)?.user).await.gql()?;
    Ok(AppmixerUser {
        native_id: u.id,
        username: u.username,
        email: u.email,
        plan: u.plan,
        scope: u.scope,
    })
}

async fn appypie_profile(ctx: &Context<'_>) -> Result<AppyPieProfile> {
    let p = load_once(&pie(ctx)?.profile).await.gql()?;
    Ok(AppyPieProfile {
        native_id: p.id,
        email: p.email,
        name: p.name,
        created_at: DateTime::from_vendor(&p.created_at),
    })
}

/// Who the caller is, per vendor.
#[Object]
impl Viewer {
    /// The Appmixer user behind the `X-Appmixer-Token` credential.
    async fn appmixer(&self, ctx: &Context<'_>) -> Result<Option<AppmixerUser>> {
        nullable(Box::pin(appmixer_user(ctx))).await
    }

    /// The Appy Pie profile behind the `X-Appypie-Token` credential.
    async fn appypie(&self, ctx: &Context<'_>) -> Result<Option<AppyPieProfile>> {
        nullable(Box::pin(appypie_profile(ctx))).await
    }
}

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

async fn node(ctx: &Context<'_>, id: &str) -> Result<Option<Node>> {
    let g = GlobalId::decode(id)?;
    let native = g.native.as_str();
    Ok(match (g.kind, g.provider) {
        (Kind::App, _) => app_by_id(ctx, &g).await?.map(Node::App),
        (Kind::Category, Provider::Appmixer) => {
            Some(Node::Category(Category::Appmixer(native.to_string())))
        }
        (Kind::Category, Provider::Appypie) => {
            let cats = load_once(&pie(ctx)?.categories).await.gql()?;
            cats.iter()
                .find(|c| c.id == native)
                .cloned()
                .map(|c| Node::Category(Category::AppyPie(c)))
        }
        (Kind::Trigger, Provider::Appypie) => {
            pie_trigger(ctx, None, native).await?.map(Node::Trigger)
        }
        (Kind::Action, Provider::Appypie) => pie_action(ctx, None, native).await?.map(Node::Action),
        (Kind::Trigger, Provider::Appmixer) => component(ctx, native)
            .await?
            .filter(|c| c.is_trigger())
            .map(|c| Node::Trigger(Trigger(Step::Appmixer(c)))),
        (Kind::Action, Provider::Appmixer) => component(ctx, native)
            .await?
            .filter(|c| !c.is_trigger())
            .map(|c| Node::Action(Action(Step::Appmixer(c)))),
        (Kind::Account, _) => account_node(ctx, &g).await?.map(Node::Account),
        (Kind::Flow, Provider::Appmixer) => {
            let flows = load_once(&mixer(ctx)?.flows).await.gql()?;
            flows
                .iter()
                .find(|f| f.flow_id == native)
                .cloned()
                .map(|f| Node::Flow(Flow(f)))
        }
        (Kind::Connect, Provider::Appypie) => connect(ctx, native).await?.map(Node::Connect),
        (Kind::PopularMatch, Provider::Appypie) => {
            popular_match(ctx, native).await?.map(Node::PopularMatch)
        }
        (Kind::FlowComponent, Provider::Appmixer) => {
            let (_, flow, component) = GlobalId::expect_nested(id, Kind::FlowComponent)?;
            let flow = mixer(ctx)?.flow.load_one(flow).await.gql()?;
            flow.and_then(|f| FlowComponent::of(&f, &component))
                .map(Node::FlowComponent)
        }
        (Kind::User, Provider::Appmixer) => Some(appmixer_user(ctx).await?)
            .filter(|u| u.native_id == native)
            .map(Node::AppmixerUser),
        (Kind::User, Provider::Appypie) => Some(appypie_profile(ctx).await?)
            .filter(|p| p.native_id == native)
            .map(Node::AppyPieProfile),
        (Kind::Run, _) => super::runs::run_node(ctx, id).await?.map(Node::Run),
        (Kind::Flow | Kind::Connect | Kind::PopularMatch | Kind::FlowComponent, _) => None,
    })
}

/// An Appy Pie connect by id, from the caller's connect list (one call per request).
pub async fn connect(ctx: &Context<'_>, id: &str) -> Result<Option<Connect>> {
    let all = load_once(&pie(ctx)?.connects).await.gql()?;
    Ok(all.iter().find(|c| c.id == id).cloned().map(Connect))
}

#[derive(Default)]
pub struct Query;

/// Reads over both vendors.
#[Object(name = "CoreQuery")]
impl Query {
    /// Any object by its global id; null when it does not exist or is not the caller's.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id.")] id: ID,
    ) -> Result<Option<Node>> {
        node(ctx, &id).await
    }

    /// Several objects by global id, in order (null for missing ones).
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids, at most 100.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_PAGE {
            return Err(Code::BadUserInput.error(format!("at most {MAX_PAGE} ids at once")));
        }
        let found = futures_util::future::join_all(ids.iter().map(|id| node(ctx, id))).await;
        found.into_iter().collect()
    }

    /// Who the caller is on each vendor.
    async fn viewer(&self) -> Viewer {
        Viewer
    }

    /// Apps of both vendors (or one), by name search and category.
    async fn apps(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this vendor's.")] provider: Option<Provider>,
        #[graphql(desc = "Only apps whose name matches this text.")] search: Option<String>,
        #[graphql(desc = "Only apps of this category (global id).")] category_id: Option<ID>,
        #[graphql(desc = "Most items to return.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<Connection<usize, App, Total, EmptyFields>>> {
        nullable(Box::pin(async move {
            let category = category_id
                .map(|id| GlobalId::expect(&id, Kind::Category))
                .transpose()?;
            let needle = search.map(|s| s.to_lowercase());
            let mut apps = Vec::new();
            if wants(provider, Provider::Appypie)
                && category
                    .as_ref()
                    .is_none_or(|c| c.provider == Provider::Appypie)
            {
                let loaded = async {
                    Ok(load_once(&pie(ctx)?.apps)
                        .await
                        .gql()?
                        .values()
                        .cloned()
                        .map(App::AppyPie)
                        .collect())
                };
                apps.extend(half(ctx, loaded.await));
            }
            if wants(provider, Provider::Appmixer)
                && category
                    .as_ref()
                    .is_none_or(|c| c.provider == Provider::Appmixer)
            {
                let loaded = async {
                    Ok(load_once(&mixer(ctx)?.apps)
                        .await
                        .gql()?
                        .values()
                        .cloned()
                        .map(App::Appmixer)
                        .collect())
                };
                apps.extend(half(ctx, loaded.await));
            }
            apps.retain(|a| {
                let in_category = category.as_ref().is_none_or(|c| match a {
                    App::AppyPie(x) => x.category_id == c.native,
                    App::Appmixer(x) => x.category == c.native,
                });
                in_category
                    && needle
                        .as_deref()
                        .is_none_or(|n| a.name_text().to_lowercase().contains(n))
            });
            apps.sort_by(|a, b| {
                a.name_text()
                    .cmp(b.name_text())
                    .then(a.native().cmp(b.native()))
            });
            page(apps, first, after)
        }))
        .await
    }

    /// App categories of both vendors (or one).
    async fn categories(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this vendor's.")] provider: Option<Provider>,
        #[graphql(desc = "Most items to return.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<Connection<usize, Category, Total, EmptyFields>>> {
        let all = nullable(Box::pin(async move {
            let mut out = Vec::new();
            if wants(provider, Provider::Appypie) {
                let loaded = async {
                    Ok(load_once(&pie(ctx)?.categories)
                        .await
                        .gql()?
                        .iter()
                        .cloned()
                        .map(Category::AppyPie)
                        .collect())
                };
                out.extend(half(ctx, loaded.await));
            }
            if wants(provider, Provider::Appmixer) {
                let loaded = async {
                    let apps = load_once(&mixer(ctx)?.apps).await.gql()?;
                    let names: BTreeSet<String> =
                        apps.values().map(|a| a.category.clone()).collect();
                    Ok(names.into_iter().map(Category::Appmixer).collect())
                };
                out.extend(half(ctx, loaded.await));
            }
            Ok(out)
        }))
        .await?;
        all.map(|all| page(all, first, after)).transpose()
    }

    /// The caller's accounts. Appy Pie lists accounts per app only, so without `appId` its half
    /// holds the accounts the caller's connects use.
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which accounts; every filter given must hold.")] filter: Option<
            AccountFilter,
        >,
        #[graphql(desc = "Most items to return.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<Connection<usize, Account, Total, EmptyFields>>> {
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
                    Some(_) if g.provider == Provider::Appypie => {
                        let list = pie(ctx)?.accounts_by_app.load_one(g.native).await.gql()?;
                        Ok(list.map_or_else(Vec::new, |l| {
                            l.iter().cloned().map(Account::AppyPie).collect()
                        }))
                    }
                    Some(App::Appmixer(a)) => {
                        let all = load_once(&mixer(ctx)?.accounts).await.gql()?;
                        Ok(all
                            .iter()
                            .filter(|x| super::app::account_matches_app(&x.service, &a.name))
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
            if wants(provider, Provider::Appypie) {
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
        let all = all.map(|all| all.into_iter().filter(keep).collect());
        all.map(|all| page(all, first, after)).transpose()
    }

    /// Appmixer flows and Appy Pie connects in one list, filtered and sorted (most recently
    /// changed first unless `sort` says otherwise). A cursor names a place in the order, so it
    /// stays valid as automations come and go.
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
        nullable(Box::pin(automations::list(ctx, filter, sort, take, after))).await
    }

    /// Appmixer flows, filtered and sorted upstream, paged upstream.
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
    ) -> Result<Option<Connection<usize, Flow, Total, EmptyFields>>> {
        let (query, filtered) = flow_query(filter.unwrap_or_default(), sort.unwrap_or_default())?;
        let thumbnails = ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("thumbnail")
            .exists();
        nullable(Box::pin(async move {
            let l = mixer(ctx)?;
            let start = match after {
                Some(c) => {
                    c.parse::<usize>()
                        .map_err(|_| Code::BadUserInput.error("after is not a valid cursor"))?
                        + 1
                }
                None => 0,
            };
            let take = limit(first, 20, MAX_PAGE);
            let q = FlowQuery {
                offset: Some(start as u32),
                limit: Some(take as u32 + 1),
                projection: (!thumbnails).then(|| "-thumbnail".into()),
                ..query
            };
            let mut flows = l.session.flows(&q).await.gql()?;
            let has_next = flows.len() > take;
            flows.truncate(take);
            let total = if filtered {
                let ids_only = FlowQuery {
                    offset: None,
                    limit: Some(u32::MAX),
                    projection: Some("flowId".into()),
                    ..q.clone()
                };
                l.session.flows(&ids_only).await.gql()?.len()
            } else {
                l.session.flow_count().await.gql()? as usize
            };
            let mut conn = Connection::with_additional_fields(
                start > 0,
                has_next,
                Total { total_count: total },
            );
            conn.edges.extend(
                flows
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| Edge::new(start + i, Flow(Arc::new(f)))),
            );
            Ok(conn)
        }))
        .await
    }

    /// Appy Pie connects, optionally only those on (`enabled: true`) or off.
    async fn connects(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only running ones (true) or only stopped ones (false).")] enabled: Option<
            bool,
        >,
        #[graphql(desc = "Most items to return.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<Connection<usize, Connect, Total, EmptyFields>>> {
        nullable(Box::pin(async move {
            let all = load_once(&pie(ctx)?.connects).await.gql()?;
            let list: Vec<Connect> = all
                .iter()
                .filter(|c| {
                    enabled.is_none_or(|e| {
                        (c.status == crate::upstream::appypie::model::ConnectStatus::On) == e
                    })
                })
                .cloned()
                .map(Connect)
                .collect();
            page(list, first, after)
        }))
        .await
    }

    /// Appy Pie popular matches (ready-made connects), optionally those involving one app.
    async fn popular_matches(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only those of this app (global id).")] app_id: Option<ID>,
        #[graphql(desc = "Most items to return.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<Connection<usize, PopularMatch, Total, EmptyFields>>> {
        nullable(Box::pin(async move {
            let app = app_id
                .map(|id| GlobalId::expect(&id, Kind::App))
                .transpose()?;
            let all = load_once(&pie(ctx)?.popular_matches).await.gql()?;
            let list = all
                .iter()
                .filter(|p| {
                    app.as_ref()
                        .is_none_or(|a| p.trigger_app_id == a.native || p.action_app_id == a.native)
                })
                .cloned()
                .map(PopularMatch)
                .collect();
            page(list, first, after)
        }))
        .await
    }

    /// Every Appmixer component, as a trigger or an action (`GET /components?manifest=yes`).
    async fn appmixer_components(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Most items to return.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<Connection<usize, Component, Total, EmptyFields>>> {
        let all = mixer(ctx)?.session.component_manifests().await.gql()?;
        let component = |c: ComponentManifest| {
            if c.is_trigger() {
                Component::Trigger(Trigger(Step::Appmixer(c)))
            } else {
                Component::Action(Action(Step::Appmixer(c)))
            }
        };
        page(all.into_iter().map(component).collect(), first, after).map(Some)
    }

    /// Every Appmixer component name (`GET /components`).
    async fn appmixer_component_names(&self, ctx: &Context<'_>) -> Result<Option<Vec<String>>> {
        Ok(Some(mixer(ctx)?.session.component_names().await.gql()?))
    }

    /// The Appy Pie account connected with the one-time token `t` from the partner callback.
    async fn appy_pie_account_by_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The connected account's token.")] token: String,
    ) -> Result<Option<Account>> {
        nullable(Box::pin(async move {
            let a = pie(ctx)?
                .session
                .connected_account_by_token(&token)
                .await
                .gql()?;
            Ok(Account::AppyPie(a))
        }))
        .await
    }

    /// Status of an Appmixer authentication session.
    async fn appmixer_auth_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The ticket `startAuthSession` returned.")] ticket: String,
    ) -> Result<Option<AuthStatus>> {
        nullable(Box::pin(async move {
            let s = mixer(ctx)?.session.auth_status(&ticket).await.gql()?;
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
