//! Appy Pie Connect API models, per `shared/upstream-contracts.md` §1.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthType {
    #[serde(rename = "O_AUTH_V2")]
    OAuthV2,
    #[serde(rename = "API_KEY")]
    ApiKey,
    #[serde(rename = "BASIC_AUTH")]
    BasicAuth,
}

impl AuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::OAuthV2 => "O_AUTH_V2",
            AuthType::ApiKey => "API_KEY",
            AuthType::BasicAuth => "BASIC_AUTH",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(rename = "_id")]
    pub id: String,
    pub email: String,
    pub name: String,
    #[serde(rename = "_created_at")]
    pub created_at: String,
    #[serde(rename = "_updated_at")]
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Category {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub slug: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub app_id: String,
    pub name: String,
    pub seo_link: String,
    pub auth_type: AuthType,
    pub logo: String,
    pub category_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppDetail {
    #[serde(flatten)]
    pub app: App,
    pub description: String,
    pub trigger_count: u32,
    pub action_count: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Select,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub required: bool,
    pub dynamic: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerType {
    Polling,
    Webhook,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    #[serde(rename = "_id")]
    pub id: String,
    pub app_id: String,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: TriggerType,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    #[serde(rename = "_id")]
    pub id: String,
    pub app_id: String,
    pub name: String,
    pub description: String,
    pub fields: Vec<Field>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    Expired,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedAccount {
    /// The account id.
    #[serde(rename = "_id")]
    pub id: String,
    pub app_id: String,
    #[serde(rename = "_created_at")]
    pub created_at: String,
    #[serde(rename = "_updated_at")]
    pub updated_at: String,
    pub name: String,
    pub auth_type: AuthType,
    pub status: AccountStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationUrl {
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PopularMatch {
    #[serde(rename = "_id")]
    pub id: String,
    pub title: String,
    pub trigger_app_id: String,
    pub trigger_id: String,
    pub action_app_id: String,
    pub action_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopularMatchDetail {
    #[serde(flatten)]
    pub summary: PopularMatch,
    pub trigger: Trigger,
    pub action: Action,
    pub description: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectStatus {
    On,
    Off,
}

impl ConnectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectStatus::On => "on",
            ConnectStatus::Off => "off",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connect {
    /// The connect id.
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub status: ConnectStatus,
    pub popular_match_id: Option<String>,
    pub trigger_app_id: String,
    pub trigger_id: String,
    pub trigger_account_id: String,
    pub trigger_options: Map<String, Value>,
    pub action_app_id: String,
    pub action_id: String,
    pub action_account_id: String,
    pub action_options: Map<String, Value>,
    #[serde(rename = "_created_at")]
    pub created_at: String,
    #[serde(rename = "_updated_at")]
    pub updated_at: String,
}

/// Body of endpoint 13.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewConnect {
    pub popular_match_id: String,
    pub trigger_account_id: String,
    pub action_account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Body of endpoints 15 and 16.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub options: Map<String, Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Trigger,
    Action,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Trigger => "trigger",
            Side::Action => "action",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DropdownOption {
    pub label: String,
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Success,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub connect_id: String,
    pub result: RunStatus,
    pub history_id: String,
    pub trigger_sample: Value,
    pub action_response: Option<Value>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    #[serde(rename = "_id")]
    pub id: String,
    pub status: ConnectStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NameChange {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    #[serde(rename = "_id")]
    pub id: String,
    pub connect_id: String,
    pub status: RunStatus,
    pub is_test: bool,
    pub message: String,
    #[serde(rename = "_created_at")]
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deleted {
    #[serde(rename = "_id")]
    pub id: String,
    pub deleted: bool,
}

/// `page` and `limit` of an Appy Pie list call; both optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

impl PageRequest {
    pub fn new(page: u32, limit: u32) -> Self {
        PageRequest {
            page: Some(page),
            limit: Some(limit),
        }
    }
}

/// Filters of endpoint 3.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppFilter {
    pub category_id: Option<String>,
    pub search: Option<String>,
}
