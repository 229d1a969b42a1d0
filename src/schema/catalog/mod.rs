//! The catalogue: apps, categories, Appmixer components, Appy Pie triggers, actions and
//! popular matches (templates).

mod app;
pub use app::*;

use crate::error::Gql;
use crate::loaders::load_once;
use crate::loaders::model::appmixer::ComponentManifest;
use crate::schema::relay::{page, Total};
use crate::schema::{half, mixer, nullable, pie, wants, GlobalId, Kind, PopularMatch, Provider};
use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Object, Result, Union, ID};
use std::collections::BTreeSet;

/// An Appmixer component: a trigger or an action.
#[derive(Union, Clone)]
pub enum Component {
    Trigger(Trigger),
    Action(Action),
}

#[derive(Default)]
pub struct CatalogQuery;

/// Reads of the catalogue.
#[Object]
impl CatalogQuery {
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
            if wants(provider, Provider::AppyPie)
                && category
                    .as_ref()
                    .is_none_or(|c| c.provider == Provider::AppyPie)
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
            if wants(provider, Provider::AppyPie) {
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
        let all = mixer(ctx)?.all_components().await.gql()?;
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
        Ok(Some(mixer(ctx)?.component_names().await.gql()?))
    }
}
