//! Appy Pie look-ups. No endpoint takes many ids (contract §1.8): catalogues and the connect list
//! are fetched whole, once per request; triggers, actions and accounts are fetched per app.

mod connects;

pub use connects::ConnectDraft;

use super::{once, per_key, Load};
use crate::upstream::appypie::model::*;
use crate::upstream::appypie::{all_pages, AppyPieSession};
use crate::upstream::{ErrorKind, Page, Provider, UpstreamError};
use std::collections::HashMap;
use std::sync::Arc;

/// Largest page the contract allows.
pub(super) const PAGE: u32 = 100;

pub struct AppyPieLoaders {
    session: AppyPieSession,
    pub profile: Load<Profile>,
    pub categories: Load<Arc<Vec<Category>>>,
    pub apps: Load<Arc<HashMap<String, Arc<App>>>>,
    pub app_detail: Load<AppDetail>,
    pub triggers_by_app: Load<Arc<Vec<Trigger>>>,
    pub actions_by_app: Load<Arc<Vec<Action>>>,
    pub trigger: Load<Trigger>,
    pub action: Load<Action>,
    pub accounts_by_app: Load<Arc<Vec<ConnectedAccount>>>,
    pub account: Load<ConnectedAccount>,
    pub connects: Load<Arc<Vec<Arc<Connect>>>>,
    pub popular_matches: Load<Arc<Vec<PopularMatch>>>,
    pub popular_match: Load<PopularMatchDetail>,
    pub history: Load<Page<HistoryEntry>>,
}

fn not_found(op: &'static str) -> UpstreamError {
    UpstreamError::new(Provider::AppyPie, ErrorKind::NotFound, op)
}

impl AppyPieLoaders {
    pub fn new(session: AppyPieSession) -> Self {
        let s = session.clone();
        AppyPieLoaders {
            profile: once(
                s.clone(),
                |s: AppyPieSession| async move { s.profile().await },
            ),
            categories: once(s.clone(), |s: AppyPieSession| async move {
                Ok(Arc::new(all_pages(PAGE, |p| s.categories(p)).await?))
            }),
            apps: once(s.clone(), |s: AppyPieSession| async move {
                let filter = AppFilter::default();
                let apps = all_pages(PAGE, |p| s.apps(&filter, p)).await?;
                Ok(Arc::new(
                    apps.into_iter().map(|a| (a.app_id.clone(), a)).collect(),
                ))
            }),
            app_detail: per_key(s.clone(), |s: AppyPieSession, id: String| async move {
                s.app(&id).await
            }),
            triggers_by_app: per_key(s.clone(), |s: AppyPieSession, app: String| async move {
                Ok(Arc::new(all_pages(PAGE, |p| s.triggers(&app, p)).await?))
            }),
            actions_by_app: per_key(s.clone(), |s: AppyPieSession, app: String| async move {
                Ok(Arc::new(all_pages(PAGE, |p| s.actions(&app, p)).await?))
            }),
            trigger: per_key(s.clone(), |s: AppyPieSession, id: String| async move {
                s.trigger(&id).await
            }),
            action: per_key(s.clone(), |s: AppyPieSession, id: String| async move {
                s.action(&id).await
            }),
            accounts_by_app: per_key(s.clone(), |s: AppyPieSession, app: String| async move {
                Ok(Arc::new(s.connected_accounts(Some(&app), None).await?))
            }),
            account: per_key(s.clone(), |s: AppyPieSession, id: String| async move {
                let found = s.connected_accounts(None, Some(&id)).await?;
                found
                    .into_iter()
                    .next()
                    .ok_or_else(|| not_found("GET /user-connected-accounts"))
            }),
            connects: once(s.clone(), |s: AppyPieSession| async move {
                Ok(Arc::new(all_pages(PAGE, |p| s.connects(None, p)).await?))
            }),
            popular_matches: once(s.clone(), |s: AppyPieSession| async move {
                Ok(Arc::new(
                    all_pages(PAGE, |p| s.popular_matches(None, p)).await?,
                ))
            }),
            popular_match: per_key(s.clone(), |s: AppyPieSession, id: String| async move {
                s.popular_match(&id).await
            }),
            history: per_key(s, |s: AppyPieSession, id: String| async move {
                s.connect_history(&id, PageRequest::new(1, PAGE)).await
            }),
            session,
        }
    }
}
