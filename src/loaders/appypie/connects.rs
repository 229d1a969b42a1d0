//! Appy Pie connects beyond the request's whole list: one connect read fresh, the writes, test
//! runs and history pages past the first, and connecting an account.

use super::{AppyPieLoaders, PAGE};
use crate::upstream::appypie::all_pages;
use crate::upstream::appypie::model::{
    App, Connect, ConnectStatus, ConnectedAccount, DropdownOption, HistoryEntry, NewConnect,
    PageRequest, Side, StepOptions, TestResult,
};
use crate::upstream::{Page, UpstreamError};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A connect to make from a popular match, with an account on each side.
#[derive(Clone, Debug)]
pub struct ConnectDraft {
    pub popular_match_id: String,
    pub trigger_account_id: String,
    pub action_account_id: String,
    pub name: Option<String>,
}

impl AppyPieLoaders {
    /// One connect, read now from the vendor's list (there is no read of one connect).
    pub async fn fresh_connect(&self, id: &str) -> Result<Option<Arc<Connect>>, UpstreamError> {
        let s = &self.session;
        let all = all_pages(PAGE, |p| s.connects(None, p)).await?;
        Ok(all.into_iter().find(|c| c.id == id))
    }

    /// Makes a connect (off); the connect as Appy Pie answered.
    pub async fn create_connect(&self, draft: ConnectDraft) -> Result<Connect, UpstreamError> {
        let body = NewConnect {
            popular_match_id: draft.popular_match_id,
            trigger_account_id: draft.trigger_account_id,
            action_account_id: draft.action_account_id,
            name: draft.name,
        };
        self.session.create_connect(&body).await
    }

    /// Sets one side's options (and, if given, its account); the connect after the change.
    pub async fn set_options(
        &self,
        id: &str,
        side: Side,
        account_id: Option<String>,
        options: Map<String, Value>,
    ) -> Result<Connect, UpstreamError> {
        let body = StepOptions {
            account_id,
            options,
        };
        self.session.edit_options(id, side, &body).await
    }

    /// Turns a connect on or off.
    pub async fn switch_connect(&self, id: &str, on: bool) -> Result<(), UpstreamError> {
        let status = if on {
            ConnectStatus::On
        } else {
            ConnectStatus::Off
        };
        self.session.set_connect_status(id, status).await.map(drop)
    }

    pub async fn rename_connect(&self, id: &str, name: &str) -> Result<(), UpstreamError> {
        self.session.rename_connect(id, name).await.map(drop)
    }

    pub async fn delete_connect(&self, id: &str) -> Result<(), UpstreamError> {
        self.session.delete_connect(id).await.map(drop)
    }

    /// Runs a test of a connect (its history gets the run).
    pub async fn test_connect(&self, id: &str) -> Result<TestResult, UpstreamError> {
        self.session.test_connect(id).await
    }

    /// Page `page` (from 1) of a connect's history, `size` entries a page.
    pub async fn history_page(
        &self,
        id: &str,
        page: u32,
        size: u32,
    ) -> Result<Page<HistoryEntry>, UpstreamError> {
        self.session
            .connect_history(id, PageRequest::new(page, size))
            .await
    }

    /// The choices of a select field on one side of a connect.
    pub async fn dropdown_options(
        &self,
        id: &str,
        side: Side,
        field_key: &str,
    ) -> Result<Vec<DropdownOption>, UpstreamError> {
        self.session.dropdown_options(id, side, field_key).await
    }

    /// Starts connecting an account of `app`: the URL the user must visit, who then comes
    /// back to `callback` with a one-time token.
    pub async fn connect_account(
        &self,
        app: &App,
        callback: &str,
    ) -> Result<String, UpstreamError> {
        let s = &self.session;
        let url = s
            .connect_account(app.auth_type, &app.app_id, &app.seo_link, callback)
            .await?;
        Ok(url.url)
    }

    /// The account connected with a callback's one-time token.
    pub async fn account_by_token(&self, token: &str) -> Result<ConnectedAccount, UpstreamError> {
        self.session.connected_account_by_token(token).await
    }
}
