//! Who the caller is, per vendor.

use crate::error::Gql;
use crate::loaders::load_once;
use crate::schema::access::{authenticated, Authenticated};
use crate::schema::{data, mixer, nullable, pie, DateTime, GlobalId, Kind, Provider};
use async_graphql::{ComplexObject, Context, Object, Result, SimpleObject, ID};

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
    pub async fn id(&self) -> ID {
        GlobalId::encode(Kind::User, Provider::Appmixer, &self.native_id)
    }
}

#[ComplexObject]
impl AppyPieProfile {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::encode(Kind::User, Provider::AppyPie, &self.native_id)
    }
}

pub(crate) async fn appmixer_user(ctx: &Context<'_>) -> Result<AppmixerUser> {
    let u = load_once(&mixer(ctx)?.user).await.gql()?;
    Ok(AppmixerUser {
        native_id: u.id,
        username: u.username,
        email: u.email,
        plan: u.plan,
        scope: u.scope,
    })
}

pub(crate) async fn appypie_profile(ctx: &Context<'_>) -> Result<AppyPieProfile> {
    let p = load_once(&pie(ctx)?.profile).await.gql()?;
    Ok(AppyPieProfile {
        native_id: p.id,
        email: p.email,
        name: p.name,
        created_at: DateTime::from_vendor(&p.created_at),
    })
}

/// A caller verified by its JWT.
#[derive(SimpleObject)]
pub struct Identity {
    /// The token's subject (`sub`).
    pub subject: String,
    /// The scopes the token grants.
    pub scopes: Vec<String>,
}

/// Who the caller is, per vendor.
#[Object]
impl Viewer {
    /// The caller as the gateway verified it (its JWT); null when callers are not identified
    /// or this one sent no token.
    async fn identity(&self, ctx: &Context<'_>) -> Result<Option<Identity>> {
        let subject = data(ctx)?.access.subject.as_ref();
        Ok(subject.map(|s| Identity {
            subject: s.id.clone(),
            scopes: s.scopes.clone(),
        }))
    }

    /// The Appmixer user behind the `X-Appmixer-Token` credential.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn appmixer(&self, ctx: &Context<'_>) -> Result<Option<AppmixerUser>> {
        nullable(Box::pin(appmixer_user(ctx))).await
    }

    /// The Appy Pie profile behind the `X-Appypie-Token` credential.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn appypie(&self, ctx: &Context<'_>) -> Result<Option<AppyPieProfile>> {
        nullable(Box::pin(appypie_profile(ctx))).await
    }
}

#[derive(Default)]
pub struct ViewerQuery;

/// The caller.
#[Object]
impl ViewerQuery {
    /// Who the caller is on each vendor.
    async fn viewer(&self) -> Viewer {
        Viewer
    }
}
