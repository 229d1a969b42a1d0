//! Appmixer API models, per `shared/upstream-contracts.md` §2.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedInUser {
    pub id: String,
    pub username: String,
    pub is_active: bool,
    pub email: String,
    pub plan: String,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub vendor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub user: SignedInUser,
    pub token: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub username: String,
    pub is_active: bool,
    pub email: String,
    pub scope: Vec<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
    pub plan: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Running,
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub email: String,
    pub permissions: Vec<String>,
}

/// One component placed in a flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowComponent {
    #[serde(rename = "type")]
    pub component_type: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub source: Map<String, Value>,
    #[serde(default)]
    pub x: Option<f64>,
    #[serde(default)]
    pub y: Option<f64>,
    #[serde(default)]
    pub config: Option<Value>,
}

/// Component instance id -> component.
pub type FlowDescriptor = BTreeMap<String, FlowComponent>;

/// A flow; fields other than `flowId` may be left out by a projection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub flow_id: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub stage: Option<Stage>,
    #[serde(default)]
    pub btime: Option<String>,
    #[serde(default)]
    pub mtime: Option<String>,
    #[serde(default)]
    pub started: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub thumbnail: Option<String>,
    #[serde(default)]
    pub shared_with: Option<Vec<Share>>,
    #[serde(default)]
    pub custom_fields: Option<Value>,
    #[serde(default)]
    pub flow: Option<FlowDescriptor>,
}

/// Query of `GET /flows`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowQuery {
    /// `prop:value` filters (all must hold).
    pub filters: Vec<String>,
    pub shared_with_permissions: Option<String>,
    /// e.g. `-flow,-thumbnail`.
    pub projection: Option<String>,
    /// e.g. `mtime:-1`.
    pub sort: Option<String>,
    pub pattern: Option<String>,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

/// Body of `POST /flows` and `PUT /flows/:id`; absent fields are left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowDescriptor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_with: Option<Vec<Share>>,
}

/// The body of `POST /flows/:id/clone`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CloneOptions {
    /// Put before the copy's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Give the copy's components the accounts of the original's.
    pub connect_accounts: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowUpdated {
    pub flow_id: String,
    pub result: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoordinatorTicket {
    pub flow_id: String,
    pub ticket: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopStatus {
    pub status: String,
    pub steps_total: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppInfo {
    pub name: String,
    pub label: String,
    pub category: String,
    pub description: String,
    pub icon: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentAuthRef {
    pub service: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Port {
    pub name: String,
    #[serde(default)]
    pub schema: Option<Value>,
    #[serde(default)]
    pub inspector: Option<Value>,
    #[serde(default)]
    pub options: Option<Vec<Value>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentManifest {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub auth: Option<ComponentAuthRef>,
    #[serde(default)]
    pub webhook: Option<bool>,
    #[serde(default)]
    pub webhook_async: Option<bool>,
    #[serde(default)]
    pub tick: Option<bool>,
    #[serde(default)]
    pub private: Option<bool>,
    #[serde(default)]
    pub in_ports: Option<Vec<Port>>,
    #[serde(default)]
    pub out_ports: Option<Vec<Port>>,
    #[serde(default)]
    pub properties: Option<Value>,
    #[serde(default)]
    pub quota: Option<Value>,
}

impl ComponentManifest {
    /// A trigger is a component without in-ports (contract §2.4).
    pub fn is_trigger(&self) -> bool {
        self.in_ports.as_ref().is_none_or(Vec::is_empty)
    }

    /// The app a component belongs to: its name minus the last segment.
    pub fn app_name(&self) -> &str {
        self.name
            .rsplit_once('.')
            .map_or(&self.name, |(app, _)| app)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub account_id: String,
    pub name: String,
    pub display_name: Option<String>,
    /// `vendor:service`, e.g. `appmixer:slack`.
    pub service: String,
    pub user_id: String,
    #[serde(default)]
    pub profile_info: Option<Value>,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedAccount {
    #[serde(flatten)]
    pub account: Account,
    #[serde(default)]
    pub pre: Option<Value>,
    #[serde(default)]
    pub revoked: Option<bool>,
}

/// Body of `POST /accounts`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAccount {
    pub service: String,
    pub token: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_info: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentAccount {
    pub access_token_valid: bool,
    pub account_id: String,
    pub token_id: String,
    pub component_assigned: bool,
    pub component_id: String,
    pub scope_valid: bool,
    pub authorized_scope: Vec<String>,
    pub name: String,
    pub display_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentAccounts {
    pub accounts: BTreeMap<String, ComponentAccount>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentAuth {
    pub component_type: String,
    pub auth: ComponentAccounts,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRef {
    pub flow_id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthStatus {
    pub account_id: Option<String>,
    pub token_id: Option<String>,
    pub finished: bool,
    pub updated_at: String,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub account_id: String,
    pub component_id: String,
}

/// Query of `GET /logs`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogQuery {
    pub flow_ids: Vec<String>,
    pub from: Option<u32>,
    pub size: Option<u32>,
    /// e.g. `@timestamp:desc`.
    pub sort: Option<String>,
    /// Lucene query, e.g. `severity:error`.
    pub query: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub key_as_string: String,
    pub key: i64,
    pub doc_count: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub id: String,
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    #[serde(default)]
    pub grid_timestamp: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub component_type: Option<String>,
    #[serde(default)]
    pub component_id: Option<String>,
    #[serde(default)]
    pub port_type: Option<String>,
    #[serde(default)]
    pub port: Option<String>,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub sender_type: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub flow_id: Option<String>,
    #[serde(default)]
    pub msg: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Logs {
    pub buckets: Vec<Bucket>,
    pub hits: Vec<LogEntry>,
}
