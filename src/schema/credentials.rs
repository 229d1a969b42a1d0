//! The vendor credentials the gateway holds for its subjects (`auth.credentials = "held"`):
//! binding, rotating and removing a subject's (behind `auth.admin_scope`), and `forgetMe`.

use crate::error::Code;
use crate::identity::held::{Binding, Held};
use crate::schema::access::requires_scopes;
use crate::schema::data;
use async_graphql::{Context, Guard, InputObject, Object, Result, SimpleObject};
use std::sync::Arc;

/// Input of `bindCredentials`: what to hold for a subject, per vendor (a vendor left out keeps
/// what is held for it).
#[derive(InputObject)]
pub struct BindCredentialsInput {
    /// The subject (the JWT's `sub`, or the configured claim).
    pub subject: String,
    /// An Appmixer user to sign in as (instead of a virtual user).
    pub appmixer_username: Option<String>,
    /// That user's password.
    pub appmixer_password: Option<String>,
    /// An Appy Pie token key, exchanged with its secret key for access tokens.
    pub appypie_token_key: Option<String>,
    /// The Appy Pie secret key that goes with the token key.
    pub appypie_secret_key: Option<String>,
}

/// Input naming a subject.
#[derive(InputObject)]
pub struct SubjectInput {
    /// The subject (the JWT's `sub`, or the configured claim).
    pub subject: String,
}

/// Result of a change to held credentials.
#[derive(SimpleObject)]
pub struct CredentialsPayload {
    /// The subject changed.
    pub subject: String,
    /// Whether anything was held for it before.
    pub held: bool,
}

/// The held credentials, or an error saying the gateway holds none.
fn held<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Held>> {
    data(ctx)?.access.held.as_ref().ok_or_else(|| {
        Code::BadUserInput.error("this gateway holds no credentials (auth.credentials is forward)")
    })
}

/// The guard of the admin mutations: the admin scope from the settings, and the write scope
/// every mutation needs.
struct Admin;

impl Guard for Admin {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let access = &data(ctx)?.access;
        access.scopes(&[vec![&*access.write_scope, &*access.admin_scope]])
    }
}

fn pair(a: Option<String>, b: Option<String>, what: &str) -> Result<Option<(String, String)>> {
    match (a, b) {
        (Some(a), Some(b)) => Ok(Some((a, b))),
        (None, None) => Ok(None),
        _ => Err(Code::BadUserInput.error(format!("{what}: give both or neither"))),
    }
}

fn failed(e: crate::identity::store::StoreError) -> async_graphql::Error {
    tracing::error!(error = %e, "credential store");
    Code::Internal.error("the credential store failed")
}

#[derive(Default)]
pub struct CredentialsMutation;

/// Held vendor credentials.
#[Object(guard = "crate::schema::access::Writes")]
impl CredentialsMutation {
    /// Binds vendor credentials to a subject (admin).
    #[graphql(
        guard = "Admin",
        directive = requires_scopes::apply(vec![vec!["credentials:admin".to_string()]])
    )]
    async fn bind_credentials(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to hold.")] input: BindCredentialsInput,
    ) -> Result<CredentialsPayload> {
        let binding = Binding {
            appmixer: pair(input.appmixer_username, input.appmixer_password, "appmixer")?,
            appypie: pair(input.appypie_token_key, input.appypie_secret_key, "appypie")?,
        };
        let held = held(ctx)?;
        let before = held.store().get(&input.subject).await.map_err(failed)?;
        held.bind(&input.subject, binding).await.map_err(failed)?;
        Ok(CredentialsPayload {
            subject: input.subject,
            held: before.is_some(),
        })
    }

    /// Drops a subject's vendor tokens: the next request signs in again (admin).
    #[graphql(
        guard = "Admin",
        directive = requires_scopes::apply(vec![vec!["credentials:admin".to_string()]])
    )]
    async fn rotate_credentials(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose.")] input: SubjectInput,
    ) -> Result<CredentialsPayload> {
        let was = held(ctx)?.rotate(&input.subject).await.map_err(failed)?;
        Ok(CredentialsPayload {
            subject: input.subject,
            held: was,
        })
    }

    /// Removes everything held for a subject (admin).
    #[graphql(
        guard = "Admin",
        directive = requires_scopes::apply(vec![vec!["credentials:admin".to_string()]])
    )]
    async fn remove_credentials(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose.")] input: SubjectInput,
    ) -> Result<CredentialsPayload> {
        let was = held(ctx)?.remove(&input.subject).await.map_err(failed)?;
        Ok(CredentialsPayload {
            subject: input.subject,
            held: was,
        })
    }

    /// Removes everything the gateway holds for the caller.
    async fn forget_me(&self, ctx: &Context<'_>) -> Result<CredentialsPayload> {
        let subject = data(ctx)?.access.subject.clone();
        let subject = subject.ok_or_else(|| Code::Unauthenticated.error("no verified caller"))?;
        let was = held(ctx)?.remove(&subject.id).await.map_err(failed)?;
        Ok(CredentialsPayload {
            subject: subject.id.clone(),
            held: was,
        })
    }
}
