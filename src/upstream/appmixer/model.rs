//! Appmixer API models, per `shared/upstream-contracts.md` §2.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

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
    pub profile_info: Option<RawJson>,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
}

/// JSON kept as its text until it is read: an account's `profileInfo`, which few queries ask
/// for, costs a list of accounts no objects.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(pub Box<RawValue>);

impl RawJson {
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

/// The reply of `POST /accounts`: the account, and what the vendor says of the new one.
#[derive(Clone, Debug, PartialEq)]
pub struct CreatedAccount {
    pub account: Account,
    pub pre: Option<Value>,
    pub revoked: Option<bool>,
}

impl<'de> Deserialize<'de> for CreatedAccount {
    /// Read twice, as the account and as what it adds: the account keeps JSON as text, which
    /// serde cannot do in a flattened field.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Added {
            #[serde(default)]
            pre: Option<Value>,
            #[serde(default)]
            revoked: Option<bool>,
        }
        let raw = Box::<RawValue>::deserialize(d)?;
        let read = |e: serde_json::Error| serde::de::Error::custom(e);
        let account = serde_json::from_str(raw.get()).map_err(read)?;
        let added: Added = serde_json::from_str(raw.get()).map_err(read)?;
        Ok(CreatedAccount {
            account,
            pre: added.pre,
            revoked: added.revoked,
        })
    }
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

/// A flow as `GET /accounts/:id/flows` lists it (a [`FlowRef`]), read straight into the flow it
/// is: every answer that shows it then shares this one copy.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "FlowRef")]
pub struct UsedFlow(pub Arc<Flow>);

impl From<FlowRef> for UsedFlow {
    fn from(r: FlowRef) -> Self {
        UsedFlow(Arc::new(Flow {
            flow_id: r.flow_id,
            name: Some(r.name),
            ..Flow::default()
        }))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_account_keeps_its_profile_as_text_until_read() {
        let text = r#"{"accountId":"a1","name":"n","displayName":null,"service":"appmixer:x",
            "userId":"u","profileInfo":{"login":"octo","ids":[1,2]}}"#;
        let account: Account = serde_json::from_str(text).unwrap();
        let profile = account.profile_info.expect("a profile");
        assert_eq!(profile.value(), json!({ "login": "octo", "ids": [1, 2] }));
        let none: Account =
            serde_json::from_str(&text.replace(r#"{"login":"octo","ids":[1,2]}"#, "null")).unwrap();
        assert_eq!(none.profile_info, None);
    }

    #[test]
    fn a_created_account_reads_the_account_and_what_it_adds() {
        let text = r#"{"accountId":"a1","name":"n","displayName":null,"service":"appmixer:x",
            "userId":"u","profileInfo":{"login":"octo"},"pre":{"k":1},"revoked":false}"#;
        let created: CreatedAccount = serde_json::from_str(text).unwrap();
        assert_eq!(created.account.account_id, "a1");
        let profile = created.account.profile_info.as_ref().map(RawJson::value);
        assert_eq!(profile, Some(json!({ "login": "octo" })));
        assert_eq!(created.pre, Some(json!({ "k": 1 })));
        assert_eq!(created.revoked, Some(false));
        let broken = serde_json::from_str::<CreatedAccount>(r#"{"accountId":"a1"}"#);
        assert!(
            broken.is_err(),
            "an account without its fields is no account"
        );
    }
}
