//! Appmixer accounts and authentication beyond the request's whole list: one account read
//! fresh, the writes, the authentication sessions, and the component catalogue.

use super::AppmixerLoaders;
use crate::upstream::appmixer::model::{Account, AuthStatus, ComponentManifest, NewAccount};
use crate::upstream::UpstreamError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Credentials the caller already holds, to make an account of.
#[derive(Clone, Debug)]
pub struct AccountDraft {
    /// Appmixer's `vendor:service`.
    pub service: String,
    pub token: Value,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub profile_info: Option<Value>,
    /// Have Appmixer check the token's scope.
    pub validate_scope: bool,
    /// Have Appmixer ask the service for the profile.
    pub request_profile_info: bool,
}

impl AppmixerLoaders {
    /// One account, read now (not the request's list): after a write, or once an
    /// authentication session has made it.
    pub async fn fresh_account(&self, id: &str) -> Result<Option<Arc<Account>>, UpstreamError> {
        let found = self.session.accounts(&[format!("accountId:{id}")]).await?;
        Ok(found.iter().find(|a| a.account_id == id).cloned())
    }

    /// Makes an account of credentials; the account as Appmixer answered.
    pub async fn create_account(&self, draft: AccountDraft) -> Result<Account, UpstreamError> {
        let body = NewAccount {
            service: draft.service,
            token: draft.token,
            name: draft.name,
            display_name: draft.display_name,
            profile_info: draft.profile_info,
        };
        let (scope, profile) = (draft.validate_scope, draft.request_profile_info);
        let created = self.session.create_account(&body, scope, profile).await?;
        Ok(created.account)
    }

    pub async fn rename_account(
        &self,
        id: &str,
        display_name: Option<&str>,
    ) -> Result<(), UpstreamError> {
        self.session.update_account(id, display_name).await
    }

    /// Whether each of an account's tokens is still valid.
    pub async fn test_account(&self, id: &str) -> Result<BTreeMap<String, bool>, UpstreamError> {
        let verdicts = self.session.test_account(id).await?;
        Ok(verdicts
            .into_iter()
            .map(|(token, verdict)| (token, verdict == "valid"))
            .collect())
    }

    /// Removes an account (the flows using it stop).
    pub async fn remove_account(&self, id: &str) -> Result<(), UpstreamError> {
        self.session.remove_account(id).await.map(drop)
    }

    /// A new authentication session's ticket.
    pub async fn auth_ticket(&self) -> Result<String, UpstreamError> {
        self.session.auth_ticket().await
    }

    /// Where the user signs in for `component_type` in the session of `ticket`.
    pub async fn auth_url(
        &self,
        component_type: &str,
        ticket: &str,
        component_id: Option<&str>,
    ) -> Result<String, UpstreamError> {
        self.session
            .auth_url(component_type, ticket, component_id)
            .await
    }

    /// Starts the session of `ticket` for `component_type`; the service it signs in to.
    pub async fn start_auth_session(
        &self,
        component_type: &str,
        ticket: &str,
    ) -> Result<String, UpstreamError> {
        self.session
            .start_auth_session(component_type, ticket)
            .await
    }

    pub async fn auth_status(&self, ticket: &str) -> Result<AuthStatus, UpstreamError> {
        self.session.auth_status(ticket).await
    }

    /// Gives a flow's component an account; the account now assigned.
    pub async fn assign_account(
        &self,
        component_id: &str,
        account_id: &str,
    ) -> Result<String, UpstreamError> {
        let done = self
            .session
            .assign_account(component_id, account_id)
            .await?;
        Ok(done.account_id)
    }

    pub async fn unassign_account(&self, component_id: &str) -> Result<(), UpstreamError> {
        self.session.unassign_account(component_id).await.map(drop)
    }

    /// Every component, with its manifest.
    pub async fn all_components(&self) -> Result<Vec<ComponentManifest>, UpstreamError> {
        self.session.component_manifests().await
    }

    /// Every component's name.
    pub async fn component_names(&self) -> Result<Vec<String>, UpstreamError> {
        self.session.component_names().await
    }
}
