//! Global ids: opaque, and encoding the type, the provider and the vendor's own id.

use crate::error::{Code, Gql};
use crate::loaders::load_once;
use crate::schema::access::{authenticated, Authenticated};
use crate::schema::automations::{account_node, connect, popular_match, FlowComponent};
use crate::schema::catalog::{app_by_id, component, pie_action, pie_trigger, Step};
use crate::schema::payload::at_field;
use crate::schema::relay::MAX_PAGE;
use crate::schema::runs::{run_node, Run};
use crate::schema::viewer::{appmixer_user, appypie_profile, AppmixerUser, AppyPieProfile};
use crate::schema::{
    mixer, pie, Account, Action, App, Category, Connect, Flow, PopularMatch, Provider, Trigger,
};
use async_graphql::{Context, Interface, Object, Result, ID};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The object types that have global ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    App,
    Category,
    Trigger,
    Action,
    Account,
    Flow,
    Connect,
    PopularMatch,
    FlowComponent,
    User,
    Run,
}

const KINDS: [(Kind, &str); 11] = [
    (Kind::App, "App"),
    (Kind::Category, "Category"),
    (Kind::Trigger, "Trigger"),
    (Kind::Action, "Action"),
    (Kind::Account, "Account"),
    (Kind::Flow, "Flow"),
    (Kind::Connect, "Connect"),
    (Kind::PopularMatch, "PopularMatch"),
    (Kind::FlowComponent, "FlowComponent"),
    (Kind::User, "User"),
    (Kind::Run, "Run"),
];

impl Kind {
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, n)| n)
    }
}

/// A decoded global id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalId {
    pub kind: Kind,
    pub provider: Provider,
    pub native: String,
}

impl GlobalId {
    pub fn encode(kind: Kind, provider: Provider, native: &str) -> ID {
        let p = match provider {
            Provider::Appmixer => "appmixer",
            Provider::AppyPie => "appypie",
        };
        ID(URL_SAFE_NO_PAD.encode(format!("{}:{p}:{native}", kind.name())))
    }

    /// Decodes an id, or answers `BAD_USER_INPUT`.
    pub fn decode(id: &str) -> Result<GlobalId> {
        let invalid = || Code::BadUserInput.error("not a valid flowgate id");
        let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.splitn(3, ':');
        let (Some(kind), Some(provider), Some(native)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let kind = KINDS
            .iter()
            .find(|(_, n)| *n == kind)
            .map(|(k, _)| *k)
            .ok_or_else(invalid)?;
        let provider = match provider {
            "appmixer" => Provider::Appmixer,
            "appypie" => Provider::AppyPie,
            _ => return Err(invalid()),
        };
        if native.is_empty() {
            return Err(invalid());
        }
        Ok(GlobalId {
            kind,
            provider,
            native: native.to_string(),
        })
    }

    /// An object that lives inside another: `parent` is its container's vendor id (a flow, a
    /// connect), `child` its own within it.
    pub fn nested(kind: Kind, provider: Provider, parent: &str, child: &str) -> ID {
        Self::encode(kind, provider, &format!("{parent}/{child}"))
    }

    /// The container's id and the object's own of a [`GlobalId::nested`] id.
    pub fn expect_nested(id: &str, kind: Kind) -> Result<(GlobalId, String, String)> {
        let g = Self::expect(id, kind)?;
        match g.native.split_once('/') {
            Some((parent, child)) if !parent.is_empty() && !child.is_empty() => {
                let (parent, child) = (parent.to_string(), child.to_string());
                Ok((g, parent, child))
            }
            _ => Err(Code::BadUserInput.error("not a valid flowgate id")),
        }
    }

    /// Decodes an id that must be of `kind`.
    pub fn expect(id: &str, kind: Kind) -> Result<GlobalId> {
        let g = Self::decode(id)?;
        if g.kind != kind {
            return Err(Code::BadUserInput.error(format!(
                "expected a {} id, got a {} id",
                kind.name(),
                g.kind.name()
            )));
        }
        Ok(g)
    }
}

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

async fn node(ctx: &Context<'_>, id: &str) -> Result<Option<Node>> {
    let g = GlobalId::decode(id)?;
    let native = g.native.as_str();
    Ok(match (g.kind, g.provider) {
        (Kind::App, _) => app_by_id(ctx, &g).await?.map(Node::App),
        (Kind::Category, Provider::Appmixer) => {
            Some(Node::Category(Category::Appmixer(native.to_string())))
        }
        (Kind::Category, Provider::AppyPie) => {
            let cats = load_once(&pie(ctx)?.categories).await.gql()?;
            cats.iter()
                .find(|c| c.id == native)
                .cloned()
                .map(|c| Node::Category(Category::AppyPie(c)))
        }
        (Kind::Trigger, Provider::AppyPie) => {
            pie_trigger(ctx, None, native).await?.map(Node::Trigger)
        }
        (Kind::Action, Provider::AppyPie) => pie_action(ctx, None, native).await?.map(Node::Action),
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
        (Kind::Connect, Provider::AppyPie) => connect(ctx, native).await?.map(Node::Connect),
        (Kind::PopularMatch, Provider::AppyPie) => {
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
        (Kind::User, Provider::AppyPie) => Some(appypie_profile(ctx).await?)
            .filter(|p| p.native_id == native)
            .map(Node::AppyPieProfile),
        (Kind::Run, _) => run_node(ctx, id).await?.map(Node::Run),
        (Kind::Flow | Kind::Connect | Kind::PopularMatch | Kind::FlowComponent, _) => None,
    })
}

#[derive(Default)]
pub struct NodeQuery;

/// Objects by global id.
#[Object]
impl NodeQuery {
    /// Any object by its global id; null when it does not exist or is not the caller's.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id.")] id: ID,
    ) -> Result<Option<Node>> {
        node(ctx, &id).await
    }

    /// Several objects by global id, in order (null for missing ones).
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
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
}

/// The id in input field `field`, of type `kind` and (if given) of `provider`.
pub fn id_of(id: &ID, kind: Kind, provider: Option<Provider>, field: &str) -> Result<GlobalId> {
    let g = GlobalId::expect(id, kind).map_err(|e| at_field(e, field))?;
    match provider {
        Some(p) if g.provider != p => {
            let e = Code::BadUserInput.error(format!("this mutation takes a {p:?} id"));
            Err(at_field(e, field))
        }
        _ => Ok(g),
    }
}
