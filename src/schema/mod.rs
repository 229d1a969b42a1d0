//! The unified GraphQL schema over both vendors. Resolvers reach upstream data only through the
//! caller's per-request loaders (look-ups, writes, parameterised reads); they never hold a token,
//! a session or a vendor's query syntax.

mod access;
mod accounts;
mod auth;
mod automations;
mod catalog;
mod credentials;
mod lean;
mod node;
mod payload;
mod relay;
mod runs;
mod scalars;
pub use access::Access;
pub use scalars::DateTime;
mod subscription;
mod viewer;

use lean::Lean;
pub use node::{GlobalId, Kind};

use crate::error::missing_credential;
pub use crate::loaders::model::Provider;
use crate::loaders::model::Token;
use crate::loaders::watch::{Target, Watches};
use crate::loaders::{AppmixerClient, AppmixerLoaders, AppyPieClient, AppyPieLoaders, SignIns};
use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, MergedObject, Result, Schema, SchemaBuilder};
use std::sync::Arc;

pub use accounts::Account;
pub use automations::{Automation, Connect, Flow, PopularMatch};
pub use catalog::{Action, App, Category, Trigger};

pub type FlowgateSchema = Schema<Query, Mutation, subscription::Subscription>;

/// Reads, by domain.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(
    node::NodeQuery,
    viewer::ViewerQuery,
    catalog::CatalogQuery,
    accounts::AccountsQuery,
    accounts::AccountLinkQuery,
    automations::AutomationsQuery,
    auth::AuthQuery,
);

/// Writes, by domain; each is sent upstream once and never retried. What the caller can fix
/// comes back in `userErrors`; the written object is read fresh.
#[derive(MergedObject, Default)]
#[graphql(
    name = "Mutation",
    directive = access::requires_scopes::apply(vec![vec![access::WRITE_SCOPE.to_string()]])
)]
pub struct Mutation(
    auth::AuthMutation,
    accounts::AccountsMutation,
    accounts::AccountLinkMutation,
    automations::AutomationsMutation,
    runs::RunsMutation,
    credentials::CredentialsMutation,
);

/// The schema, without any request data or limits: used by `print-schema`.
pub fn build() -> FlowgateSchema {
    builder().finish()
}

type Page<T> = Connection<usize, T, relay::Total, EmptyFields>;

/// The schema's types, with descriptions for the generated connection types. No extensions:
/// the fields [`lean::Lean`] answers in place would not pass through them.
fn builder() -> SchemaBuilder<Query, Mutation, subscription::Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    )
    .override_output_type_description::<Page<App>>("A page of apps.")
    .override_output_type_description::<automations::AutomationPage>("A page of automations.")
    .override_output_type_description::<Page<Lean<Flow>>>("A page of Appmixer flows.")
    .override_output_type_description::<Page<Lean<Connect>>>("A page of Appy Pie connects.")
    .override_output_type_description::<Page<PopularMatch>>("A page of Appy Pie popular matches.")
    .override_output_type_description::<runs::RunPage>("A page of an automation's runs.")
    .override_output_type_description::<Page<Lean<Account>>>("A page of accounts.")
    .override_output_type_description::<Page<Category>>("A page of app categories.")
    .override_output_type_description::<Page<catalog::Component>>("A page of Appmixer components.")
}

/// The schema with depth and complexity limits, introspection on or off, and the pollers its
/// subscriptions share.
pub fn build_limited(
    max_depth: usize,
    max_complexity: usize,
    introspection: bool,
    watches: Arc<Watches>,
) -> FlowgateSchema {
    let builder = builder()
        .data(watches)
        .limit_depth(max_depth)
        .limit_complexity(max_complexity);
    if introspection {
        builder.finish()
    } else {
        builder
            .disable_introspection()
            .disable_suggestions()
            .finish()
    }
}

/// The SDL of the schema, as written to `schema.graphql`.
pub fn sdl() -> String {
    build().sdl()
}

/// Header names the caller's credentials arrive in.
#[derive(Clone, Debug)]
pub struct CredentialHeaders {
    pub appmixer: String,
    pub appypie: String,
}

/// Everything one request may use: that caller's loaders, and the sign-ins.
pub struct RequestData {
    pub sign_in: SignIns,
    appypie: VendorLoaders<AppyPieClient, AppyPieLoaders>,
    appmixer: VendorLoaders<AppmixerClient, AppmixerLoaders>,
    pub headers: Arc<CredentialHeaders>,
    /// A fingerprint of the caller's credentials (never the tokens).
    pub caller: u128,
    /// Who the caller is, and what it may do.
    pub access: Access,
}

impl RequestData {
    /// Fresh loaders for one request, bound to the credentials it carries.
    pub fn new(
        appypie_client: AppyPieClient,
        appmixer_client: AppmixerClient,
        appypie_token: Option<Token>,
        appmixer_token: Option<Token>,
        headers: Arc<CredentialHeaders>,
        caller: u128,
        access: Access,
    ) -> Self {
        RequestData {
            caller,
            access,
            sign_in: SignIns::new(appypie_client.clone(), appmixer_client.clone()),
            appypie: VendorLoaders::new(appypie_client, appypie_token),
            appmixer: VendorLoaders::new(appmixer_client, appmixer_token),
            headers,
        }
    }
}

/// A vendor's loaders for one request, made when a field first needs them: a query that reads
/// one vendor makes none for the other. Boxed, so that a request (or a subscription, for as
/// long as it lasts) that makes none holds no room for them.
struct VendorLoaders<C, L> {
    client: C,
    token: Option<Token>,
    made: std::sync::OnceLock<Box<L>>,
}

impl<C, L> VendorLoaders<C, L> {
    fn new(client: C, token: Option<Token>) -> Self {
        VendorLoaders {
            client,
            token,
            made: Default::default(),
        }
    }

    /// The loaders, made by `make` the first time; `None` without a token.
    fn get(&self, make: impl FnOnce(&C, Token) -> L) -> Option<&L> {
        let token = self.token.as_ref()?;
        let made = self
            .made
            .get_or_init(|| Box::new(make(&self.client, token.clone())));
        Some(made)
    }

    /// What `use_token` makes of the client and the caller's token; `None` without a token.
    fn with_token<T>(&self, use_token: impl FnOnce(&C, Token) -> T) -> Option<T> {
        Some(use_token(&self.client, self.token.clone()?))
    }
}

pub(crate) fn data<'a>(ctx: &Context<'a>) -> Result<&'a RequestData> {
    ctx.data::<RequestData>()
}

/// The caller's Appy Pie loaders, or `UNAUTHENTICATED` for this field.
pub(crate) fn pie<'a>(ctx: &Context<'a>) -> Result<&'a AppyPieLoaders> {
    let d = data(ctx)?;
    d.appypie
        .get(|c, t| AppyPieLoaders::new(c.session(t)))
        .ok_or_else(|| missing(d, Provider::AppyPie))
}

/// The caller's Appmixer loaders, or `UNAUTHENTICATED` for this field.
pub(crate) fn mixer<'a>(ctx: &Context<'a>) -> Result<&'a AppmixerLoaders> {
    let d = data(ctx)?;
    d.appmixer
        .get(|c, t| AppmixerLoaders::new(c.session(t)))
        .ok_or_else(|| missing(d, Provider::Appmixer))
}

/// What to poll to watch the caller's automation `id` on `provider` (a flow on Appmixer, a
/// connect on Appy Pie), or `UNAUTHENTICATED`. Makes no loaders: a subscription holds what it
/// makes for as long as it lasts.
pub(crate) fn watch_target(ctx: &Context<'_>, provider: Provider, id: String) -> Result<Target> {
    let d = data(ctx)?;
    match provider {
        Provider::Appmixer => d
            .appmixer
            .with_token(|client, token| Target::flow(client, token, id))
            .ok_or_else(|| missing(d, Provider::Appmixer)),
        Provider::AppyPie => d
            .appypie
            .with_token(|client, token| Target::connect(client, token, id))
            .ok_or_else(|| missing(d, Provider::AppyPie)),
    }
}

/// `UNAUTHENTICATED` for a field of `provider` the request has no credential for: the header
/// to send it in, or, when the gateway holds credentials, that it holds none for this caller.
fn missing(d: &RequestData, provider: Provider) -> async_graphql::Error {
    let header = match provider {
        Provider::AppyPie => &d.headers.appypie,
        Provider::Appmixer => &d.headers.appmixer,
    };
    match d.access.held {
        Some(_) => crate::error::not_held(provider),
        None => missing_credential(provider, header),
    }
}

/// Records `err` on the current field and carries on (partial data from a list of both vendors).
pub(crate) fn note_error(ctx: &Context<'_>, err: async_graphql::Error) {
    let mut server_error = err.into_server_error(ctx.item.pos);
    server_error.path = ctx
        .path_node
        .map(|p| {
            p.to_string_vec()
                .into_iter()
                .map(async_graphql::PathSegment::Field)
                .collect()
        })
        .unwrap_or_default();
    ctx.add_error(server_error);
}

/// Runs a nullable field's resolver: on error the field is `null` and the error is reported.
/// Boxed: the future of a type's field resolver is as large as its largest field's, and is
/// moved for every field of every object resolved.
pub(crate) async fn nullable<T>(
    resolve: futures_util::future::BoxFuture<'_, Result<T>>,
) -> Result<Option<T>> {
    resolve.await.map(Some)
}

/// Keeps the items of one vendor's half of a two-vendor list, noting its error instead.
pub(crate) fn half<T>(ctx: &Context<'_>, result: Result<Vec<T>>) -> Vec<T> {
    result.unwrap_or_else(|e| {
        note_error(ctx, e);
        Vec::new()
    })
}

pub(crate) fn wants(provider: Option<Provider>, p: Provider) -> bool {
    provider.is_none_or(|x| x == p)
}
