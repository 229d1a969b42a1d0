//! Apps, categories, triggers and actions of both vendors.

use crate::error::{Code, Gql};
use crate::loaders::model::appmixer::{AppInfo, ComponentManifest};
use crate::loaders::model::appypie as pm;
use crate::loaders::{load_once, ComponentKey};
use crate::schema::access::{authenticated, Authenticated};
use crate::schema::accounts::Account;
use crate::schema::node::{GlobalId, Kind};
use crate::schema::payload::at_field;
use crate::schema::relay::{page, Total};
use crate::schema::{mixer, nullable, pie, Provider};
use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, Object, Result, SimpleObject, ID};
use serde_json::Value;

/// How an Appy Pie app's accounts authenticate.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AuthType {
    /// OAuth 2.
    #[graphql(name = "O_AUTH_V2")]
    OAuthV2,
    /// An API key.
    ApiKey,
    /// A username and password.
    BasicAuth,
}

/// What an input field takes.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text.
    String,
    /// One of a list of choices (`Connect.dropdownOptions`).
    Select,
}

/// How a trigger learns of new data.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// It asks the service now and then.
    Polling,
    /// The service calls it.
    Webhook,
}
use std::sync::Arc;

/// An app: an Appy Pie app, or an Appmixer app (a module or a service without modules).
#[derive(Clone)]
pub enum App {
    AppyPie(Arc<pm::App>),
    Appmixer(Arc<AppInfo>),
}

impl App {
    async fn step_count(&self, ctx: &Context<'_>, triggers: bool) -> Result<u32> {
        let App::AppyPie(a) = self else {
            return Ok(self.steps(ctx, triggers).await?.len() as u32);
        };
        let id = a.app_id.clone();
        let detail = pie(ctx)?.app_detail.load_one(id).await.gql()?;
        let detail = detail.ok_or_else(|| Code::NotFound.error("no such app"))?;
        Ok(if triggers {
            detail.trigger_count
        } else {
            detail.action_count
        })
    }
}

/// Loads an Appy Pie app from the catalogue (one call per request).
pub async fn pie_app(ctx: &Context<'_>, app_id: &str) -> Result<Option<App>> {
    let apps = load_once(&pie(ctx)?.apps).await.gql()?;
    Ok(apps.get(app_id).cloned().map(App::AppyPie))
}

/// Loads an Appmixer app from the catalogue (one call per request).
pub async fn mixer_app(ctx: &Context<'_>, name: &str) -> Result<Option<App>> {
    let apps = load_once(&mixer(ctx)?.apps).await.gql()?;
    Ok(apps.get(name).cloned().map(App::Appmixer))
}

pub async fn app_by_id(ctx: &Context<'_>, g: &GlobalId) -> Result<Option<App>> {
    match g.provider {
        Provider::AppyPie => pie_app(ctx, &g.native).await,
        Provider::Appmixer => mixer_app(ctx, &g.native).await,
    }
}

/// The Appmixer app a component belongs to: its name minus the last segment.
pub fn component_app(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(app, _)| app)
}

/// An Appmixer component by name, through its app's component list.
pub async fn component(ctx: &Context<'_>, name: &str) -> Result<Option<ComponentManifest>> {
    let list = mixer(ctx)?
        .components_by_app
        .load_one(component_app(name).to_string())
        .await
        .gql()?;
    Ok(list.and_then(|l| l.iter().find(|c| c.name == name).cloned()))
}

/// An Appy Pie trigger, through its app's trigger list when the app is known.
pub async fn pie_trigger(
    ctx: &Context<'_>,
    app_id: Option<&str>,
    id: &str,
) -> Result<Option<Trigger>> {
    let l = pie(ctx)?;
    if let Some(app) = app_id {
        let list = l.triggers_by_app.load_one(app.to_string()).await.gql()?;
        if let Some(t) = list.and_then(|l| l.iter().find(|t| t.id == id).cloned()) {
            return Ok(Some(Trigger(Step::AppyPieTrigger(t))));
        }
    }
    Ok(l.trigger
        .load_one(id.to_string())
        .await
        .gql()?
        .map(|t| Trigger(Step::AppyPieTrigger(t))))
}

/// An Appy Pie action, through its app's action list when the app is known.
pub async fn pie_action(
    ctx: &Context<'_>,
    app_id: Option<&str>,
    id: &str,
) -> Result<Option<Action>> {
    let l = pie(ctx)?;
    if let Some(app) = app_id {
        let list = l.actions_by_app.load_one(app.to_string()).await.gql()?;
        if let Some(a) = list.and_then(|l| l.iter().find(|a| a.id == id).cloned()) {
            return Ok(Some(Action(Step::AppyPieAction(a))));
        }
    }
    Ok(l.action
        .load_one(id.to_string())
        .await
        .gql()?
        .map(|a| Action(Step::AppyPieAction(a))))
}

/// An Appmixer component as a trigger (no in-ports) or an action.
pub async fn mixer_step(ctx: &Context<'_>, name: &str, want_trigger: bool) -> Result<Option<Step>> {
    Ok(component(ctx, name)
        .await?
        .filter(|c| c.is_trigger() == want_trigger)
        .map(Step::Appmixer))
}

/// An app of either vendor: an Appy Pie app, or an Appmixer app (module or service).
#[Object]
impl App {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::encode(Kind::App, self.vendor(), self.native())
    }

    /// The vendor of this app.
    pub async fn provider(&self) -> Provider {
        self.vendor()
    }

    /// The vendor's own id: Appy Pie `appId`, or the Appmixer app name (e.g. `appmixer.slack`).
    pub async fn native_id(&self) -> &str {
        self.native()
    }

    /// Display name.
    pub async fn name(&self) -> &str {
        match self {
            App::AppyPie(a) => &a.name,
            App::Appmixer(a) => &a.label,
        }
    }

    /// Longer description.
    pub async fn description(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        match self {
            App::Appmixer(a) => Ok(Some(a.description.clone())),
            App::AppyPie(a) => {
                let detail = pie(ctx)?
                    .app_detail
                    .load_one(a.app_id.clone())
                    .await
                    .gql()?;
                Ok(detail.map(|d| d.description))
            }
        }
    }

    /// Icon, usually a `data:` URI.
    pub async fn icon(&self) -> &str {
        match self {
            App::AppyPie(a) => &a.logo,
            App::Appmixer(a) => &a.icon,
        }
    }

    /// The app's category.
    pub async fn category(&self, ctx: &Context<'_>) -> Result<Option<Category>> {
        match self {
            App::Appmixer(a) => Ok(Some(Category::Appmixer(a.category.clone()))),
            App::AppyPie(a) => {
                let cats = load_once(&pie(ctx)?.categories).await.gql()?;
                Ok(cats
                    .iter()
                    .find(|c| c.id == a.category_id)
                    .cloned()
                    .map(Category::AppyPie))
            }
        }
    }

    /// Appy Pie only: how accounts authenticate.
    pub async fn auth_type(&self) -> Option<AuthType> {
        match self {
            App::AppyPie(a) => Some(match a.auth_type {
                pm::AuthType::OAuthV2 => AuthType::OAuthV2,
                pm::AuthType::ApiKey => AuthType::ApiKey,
                pm::AuthType::BasicAuth => AuthType::BasicAuth,
            }),
            App::Appmixer(_) => None,
        }
    }

    /// Appy Pie only: the app's SEO link, used to connect accounts.
    pub async fn seo_link(&self) -> Option<&str> {
        match self {
            App::AppyPie(a) => Some(&a.seo_link),
            App::Appmixer(_) => None,
        }
    }

    /// The app's triggers.
    pub async fn triggers(&self, ctx: &Context<'_>) -> Result<Option<Vec<Trigger>>> {
        Ok(Some(
            self.steps(ctx, true)
                .await?
                .into_iter()
                .map(Trigger)
                .collect(),
        ))
    }

    /// The app's actions.
    pub async fn actions(&self, ctx: &Context<'_>) -> Result<Option<Vec<Action>>> {
        Ok(Some(
            self.steps(ctx, false)
                .await?
                .into_iter()
                .map(Action)
                .collect(),
        ))
    }

    /// How many triggers it has (Appy Pie: from the app's details; Appmixer: its components).
    pub async fn trigger_count(&self, ctx: &Context<'_>) -> Result<Option<u32>> {
        nullable(Box::pin(self.step_count(ctx, true))).await
    }

    /// How many actions it has (Appy Pie: from the app's details; Appmixer: its components).
    pub async fn action_count(&self, ctx: &Context<'_>) -> Result<Option<u32>> {
        nullable(Box::pin(self.step_count(ctx, false))).await
    }

    /// The caller's accounts for this app.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    pub async fn accounts(&self, ctx: &Context<'_>) -> Result<Option<Vec<Account>>> {
        nullable(Box::pin(async move {
            match self {
                App::AppyPie(a) => {
                    let list = pie(ctx)?
                        .accounts_by_app
                        .load_one(a.app_id.clone())
                        .await
                        .gql()?;
                    Ok(list.map_or_else(Vec::new, |l| {
                        l.iter().cloned().map(Account::AppyPie).collect()
                    }))
                }
                App::Appmixer(a) => {
                    let all = load_once(&mixer(ctx)?.accounts).await.gql()?;
                    Ok(all
                        .iter()
                        .filter(|acc| account_matches_app(&acc.service, &a.name))
                        .cloned()
                        .map(Account::Appmixer)
                        .collect())
                }
            }
        }))
        .await
    }
}

/// Whether an Appmixer account service (`vendor:service`) serves an app (`vendor.service[.module]`).
pub fn account_matches_app(service: &str, app: &str) -> bool {
    let prefix = service.replacen(':', ".", 1);
    app == prefix
        || app
            .strip_prefix(&prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

impl App {
    pub fn vendor(&self) -> Provider {
        match self {
            App::AppyPie(_) => Provider::AppyPie,
            App::Appmixer(_) => Provider::Appmixer,
        }
    }

    pub fn native(&self) -> &str {
        match self {
            App::AppyPie(a) => &a.app_id,
            App::Appmixer(a) => &a.name,
        }
    }

    pub fn name_text(&self) -> &str {
        match self {
            App::AppyPie(a) => &a.name,
            App::Appmixer(a) => &a.label,
        }
    }

    /// The app's triggers (or actions) as steps, from its vendor's per-app list.
    async fn steps(&self, ctx: &Context<'_>, triggers: bool) -> Result<Vec<Step>> {
        match self {
            App::AppyPie(a) if triggers => {
                let list = pie(ctx)?
                    .triggers_by_app
                    .load_one(a.app_id.clone())
                    .await
                    .gql()?;
                Ok(list.map_or_else(Vec::new, |l| {
                    l.iter().cloned().map(Step::AppyPieTrigger).collect()
                }))
            }
            App::AppyPie(a) => {
                let list = pie(ctx)?
                    .actions_by_app
                    .load_one(a.app_id.clone())
                    .await
                    .gql()?;
                Ok(list.map_or_else(Vec::new, |l| {
                    l.iter().cloned().map(Step::AppyPieAction).collect()
                }))
            }
            App::Appmixer(a) => {
                let list = mixer(ctx)?
                    .components_by_app
                    .load_one(a.name.clone())
                    .await
                    .gql()?;
                Ok(list.map_or_else(Vec::new, |l| {
                    l.iter()
                        .filter(|c| c.is_trigger() == triggers)
                        .cloned()
                        .map(Step::Appmixer)
                        .collect()
                }))
            }
        }
    }
}

/// An app category. Appy Pie categories have ids; Appmixer's are names.
#[derive(Clone)]
pub enum Category {
    AppyPie(pm::Category),
    Appmixer(String),
}

/// A category of apps.
#[Object]
impl Category {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::encode(Kind::Category, self.vendor(), self.native())
    }

    /// The vendor of this category.
    pub async fn provider(&self) -> Provider {
        self.vendor()
    }

    /// Display name.
    pub async fn name(&self) -> &str {
        match self {
            Category::AppyPie(c) => &c.name,
            Category::Appmixer(c) => c,
        }
    }

    /// URL-friendly name.
    pub async fn slug(&self) -> &str {
        match self {
            Category::AppyPie(c) => &c.slug,
            Category::Appmixer(c) => c,
        }
    }

    /// Apps in this category, by name.
    pub async fn apps(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Most items to return.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (a previous page's `pageInfo.endCursor`).")]
        after: Option<String>,
    ) -> Result<Option<Connection<usize, App, Total, EmptyFields>>> {
        let all = nullable(Box::pin(async move {
            match self {
                Category::AppyPie(c) => {
                    let apps = load_once(&pie(ctx)?.apps).await.gql()?;
                    let mut list: Vec<App> = apps
                        .values()
                        .filter(|a| a.category_id == c.id)
                        .cloned()
                        .map(App::AppyPie)
                        .collect();
                    list.sort_by(|a, b| a.name_text().cmp(b.name_text()));
                    Ok(list)
                }
                Category::Appmixer(c) => {
                    let apps = load_once(&mixer(ctx)?.apps).await.gql()?;
                    Ok(apps
                        .values()
                        .filter(|a| &a.category == c)
                        .cloned()
                        .map(App::Appmixer)
                        .collect())
                }
            }
        }))
        .await?;
        all.map(|all| page(all, first, after)).transpose()
    }
}

impl Category {
    pub fn vendor(&self) -> Provider {
        match self {
            Category::AppyPie(_) => Provider::AppyPie,
            Category::Appmixer(_) => Provider::Appmixer,
        }
    }

    fn native(&self) -> &str {
        match self {
            Category::AppyPie(c) => &c.id,
            Category::Appmixer(c) => c,
        }
    }
}

/// An input field of a trigger or an action: an Appy Pie field, or a property or in-port
/// input of an Appmixer component's manifest.
#[derive(SimpleObject, Clone)]
pub struct Field {
    /// Key used in the connect's options, or the property or input name in the manifest.
    pub key: String,
    /// Label shown to people.
    pub label: String,
    /// Free text or a choice.
    pub kind: FieldKind,
    /// Whether the connect needs a value before it can run.
    pub required: bool,
    /// Whether a select's options come from the connected account.
    pub dynamic: bool,
    /// Appmixer: the in-port whose messages carry it (none for a component property).
    pub port: Option<String>,
}

/// The fields a JSON schema declares, labelled and typed by an Appmixer inspector.
fn schema_fields(
    schema: Option<&Value>,
    inspector: Option<&Value>,
    port: Option<&str>,
) -> Vec<Field> {
    let Some(properties) = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let required: Vec<&str> = schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |r| r.iter().filter_map(Value::as_str).collect());
    let inputs = inspector.and_then(|i| i.get("inputs"));
    properties
        .iter()
        .map(|(key, property)| {
            let input = inputs.and_then(|i| i.get(key));
            let kind = input.and_then(|i| i.get("type")).and_then(Value::as_str);
            let select = kind == Some("select") || property.get("enum").is_some();
            Field {
                key: key.clone(),
                label: input
                    .and_then(|i| i.get("label"))
                    .and_then(Value::as_str)
                    .unwrap_or(key)
                    .to_string(),
                kind: if select {
                    FieldKind::Select
                } else {
                    FieldKind::String
                },
                required: required.contains(&key.as_str()),
                dynamic: input.is_some_and(|i| i.get("source").is_some()),
                port: port.map(str::to_string),
            }
        })
        .collect()
}

/// The fields of an Appmixer component: its properties, then each in-port's inputs.
fn manifest_fields(c: &ComponentManifest) -> Vec<Field> {
    let properties = c.properties.as_ref();
    let mut out = schema_fields(
        properties.and_then(|p| p.get("schema")),
        properties.and_then(|p| p.get("inspector")),
        None,
    );
    for port in c.in_ports.iter().flatten() {
        out.extend(schema_fields(
            port.schema.as_ref(),
            port.inspector.as_ref(),
            Some(&port.name),
        ));
    }
    out
}

fn fields(list: &[pm::Field]) -> Vec<Field> {
    list.iter()
        .map(|f| Field {
            key: f.key.clone(),
            label: f.label.clone(),
            kind: match f.kind {
                pm::FieldType::String => FieldKind::String,
                pm::FieldType::Select => FieldKind::Select,
            },
            required: f.required,
            dynamic: f.dynamic,
            port: None,
        })
        .collect()
}

/// The data behind a trigger or an action.
#[derive(Clone)]
pub enum Step {
    AppyPieTrigger(pm::Trigger),
    AppyPieAction(pm::Action),
    Appmixer(ComponentManifest),
}

/// An account usable by an Appmixer component, and whether it is the one assigned.
#[derive(SimpleObject, Clone)]
pub struct ComponentAccount {
    /// The account.
    pub account: Option<Account>,
    /// Whether the account is assigned to the component instance asked about (null when no
    /// instance was named).
    pub assigned: Option<bool>,
    /// Whether the account's access token is still valid (null when the vendor does not say).
    pub token_valid: Option<bool>,
}

impl Step {
    fn native(&self) -> &str {
        match self {
            Step::AppyPieTrigger(t) => &t.id,
            Step::AppyPieAction(a) => &a.id,
            Step::Appmixer(c) => &c.name,
        }
    }

    fn provider(&self) -> Provider {
        match self {
            Step::Appmixer(_) => Provider::Appmixer,
            _ => Provider::AppyPie,
        }
    }

    fn name(&self) -> &str {
        match self {
            Step::AppyPieTrigger(t) => &t.name,
            Step::AppyPieAction(a) => &a.name,
            Step::Appmixer(c) => c.label.as_deref().unwrap_or(&c.name),
        }
    }

    fn description(&self) -> Option<&str> {
        match self {
            Step::AppyPieTrigger(t) => Some(&t.description),
            Step::AppyPieAction(a) => Some(&a.description),
            Step::Appmixer(c) => c.description.as_deref(),
        }
    }

    fn kind(&self) -> Option<StepKind> {
        match self {
            Step::AppyPieTrigger(t) => Some(match t.kind {
                pm::TriggerType::Polling => StepKind::Polling,
                pm::TriggerType::Webhook => StepKind::Webhook,
            }),
            Step::AppyPieAction(_) => None,
            Step::Appmixer(c) if c.webhook == Some(true) => Some(StepKind::Webhook),
            Step::Appmixer(c) if c.tick == Some(true) => Some(StepKind::Polling),
            Step::Appmixer(_) => None,
        }
    }

    fn fields(&self) -> Vec<Field> {
        match self {
            Step::AppyPieTrigger(t) => fields(&t.fields),
            Step::AppyPieAction(a) => fields(&a.fields),
            Step::Appmixer(c) => manifest_fields(c),
        }
    }

    pub async fn app(&self, ctx: &Context<'_>) -> Result<Option<App>> {
        match self {
            Step::AppyPieTrigger(t) => pie_app(ctx, &t.app_id).await,
            Step::AppyPieAction(a) => pie_app(ctx, &a.app_id).await,
            Step::Appmixer(c) => mixer_app(ctx, c.app_name()).await,
        }
    }

    pub async fn usable_accounts(
        &self,
        ctx: &Context<'_>,
        component_id: Option<ID>,
    ) -> Result<Vec<ComponentAccount>> {
        let c = match self {
            Step::Appmixer(c) => c,
            Step::AppyPieTrigger(t) => return pie_accounts(ctx, &t.app_id).await,
            Step::AppyPieAction(a) => return pie_accounts(ctx, &a.app_id).await,
        };
        let l = mixer(ctx)?;
        let Some(component_id) = component_id else {
            let all = load_once(&l.accounts).await.gql()?;
            let service = c.auth.as_ref().map(|a| a.service.as_str());
            return Ok(all
                .iter()
                .filter(|a| Some(a.service.as_str()) == service)
                .map(|a| ComponentAccount {
                    account: Some(Account::Appmixer(a.clone())),
                    assigned: None,
                    token_valid: None,
                })
                .collect());
        };
        let (_, _, component_id) = GlobalId::expect_nested(&component_id, Kind::FlowComponent)
            .map_err(|e| at_field(e, "componentId"))?;
        let key = ComponentKey {
            component_type: c.name.clone(),
            component_id,
        };
        let Some(auth) = l.component_accounts.load_one(key).await.gql()? else {
            return Ok(Vec::new());
        };
        let all = load_once(&l.accounts).await.gql()?;
        Ok(auth
            .auth
            .accounts
            .values()
            .map(|a| ComponentAccount {
                account: all
                    .iter()
                    .find(|x| x.account_id == a.account_id)
                    .cloned()
                    .map(Account::Appmixer),
                assigned: Some(a.component_assigned),
                token_valid: Some(a.access_token_valid),
            })
            .collect())
    }
}

async fn pie_accounts(ctx: &Context<'_>, app_id: &str) -> Result<Vec<ComponentAccount>> {
    let list = pie(ctx)?
        .accounts_by_app
        .load_one(app_id.to_string())
        .await
        .gql()?;
    Ok(list.map_or_else(Vec::new, |l| {
        l.iter()
            .map(|a| ComponentAccount {
                account: Some(Account::AppyPie(a.clone())),
                assigned: None,
                token_valid: Some(a.status == pm::AccountStatus::Active),
            })
            .collect()
    }))
}

macro_rules! step_object {
    ($ty:ident, $kind:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone)]
        pub struct $ty(pub Step);

        #[doc = $doc]
        #[Object]
        impl $ty {
            /// Global id.
            pub async fn id(&self) -> ID {
                GlobalId::encode($kind, self.0.provider(), self.0.native())
            }

            /// The vendor.
            pub async fn provider(&self) -> Provider {
                self.0.provider()
            }

            /// The vendor's own id: Appy Pie `_id`, or the Appmixer component name.
            pub async fn native_id(&self) -> &str {
                self.0.native()
            }

            /// Display name.
            pub async fn name(&self) -> &str {
                self.0.name()
            }

            /// What it does.
            pub async fn description(&self) -> Option<&str> {
                self.0.description()
            }

            /// Polled or pushed, where the vendor says so.
            pub async fn kind(&self) -> Option<StepKind> {
                self.0.kind()
            }

            /// Input fields: Appy Pie's, or an Appmixer manifest's properties and in-port inputs.
            pub async fn fields(&self) -> Vec<Field> {
                self.0.fields()
            }

            /// The app it belongs to.
            pub async fn app(&self, ctx: &Context<'_>) -> Result<Option<App>> {
                self.0.app(ctx).await
            }

            /// Accounts it can use. For an Appmixer component, pass a `FlowComponent` id to
            /// learn which account is assigned to that component of a flow.
            pub async fn usable_accounts(
                &self,
                ctx: &Context<'_>,
                #[graphql(desc = "A `FlowComponent` of this type, in a flow.")]
                component_id: Option<ID>,
            ) -> Result<Option<Vec<ComponentAccount>>> {
                nullable(Box::pin(self.0.usable_accounts(ctx, component_id))).await
            }
        }
    };
}

step_object!(
    Trigger,
    Kind::Trigger,
    "What starts an automation: an Appy Pie trigger, or an Appmixer component without in-ports."
);
step_object!(
    Action,
    Kind::Action,
    "What an automation does: an Appy Pie action, or an Appmixer component with in-ports."
);
