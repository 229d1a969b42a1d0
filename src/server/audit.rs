//! The audit log: one line per mutation field run, on the `audit` target (always on, whatever
//! `logs.level` says, so it can be shipped apart from the debug logs): who (the JWT's subject,
//! or `anonymous`), the operation and field, the vendor, the ids it named or returned, the
//! outcome and the request id. Never a token, a password or an input value other than ids.

use crate::schema::GlobalId;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection};
use async_graphql::{Name, Value as ConstValue, Variables};
use std::collections::BTreeSet;

/// A mutation field about to run: its response key, name and the ids in its arguments.
pub struct Write {
    key: String,
    field: String,
    ids: BTreeSet<String>,
}

/// The root fields of the mutation `operation` of `doc`.
pub fn writes(doc: &ExecutableDocument, operation: Option<&str>, vars: &Variables) -> Vec<Write> {
    let op = match (&doc.operations, operation) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    let mut writes = Vec::new();
    for selection in &op.node.selection_set.node.items {
        let Selection::Field(field) = &selection.node else {
            continue;
        };
        let field = &field.node;
        let mut ids = BTreeSet::new();
        for (_, value) in &field.arguments {
            let value = value
                .node
                .clone()
                .into_const_with(|name| Ok::<_, ()>(vars.get(&name).cloned().unwrap_or_default()));
            if let Ok(value) = value {
                collect_ids(&value, false, 4, &mut ids);
            }
        }
        writes.push(Write {
            key: field.response_key().node.to_string(),
            field: field.name.node.to_string(),
            ids,
        });
    }
    writes
}

/// The ids in `value`, down to `depth` objects: strings under a key `id`, `ids` or ending in
/// `Id`/`Ids`.
fn collect_ids(value: &ConstValue, is_id: bool, depth: usize, ids: &mut BTreeSet<String>) {
    match value {
        ConstValue::String(s) if is_id && s.len() <= 256 => {
            ids.insert(s.clone());
        }
        ConstValue::List(items) => items.iter().for_each(|v| collect_ids(v, is_id, depth, ids)),
        ConstValue::Object(map) if depth > 0 => {
            for (key, v) in map {
                collect_ids(v, names_an_id(key), depth - 1, ids);
            }
        }
        _ => {}
    }
}

fn names_an_id(key: &Name) -> bool {
    let key = key.as_str();
    key == "id" || key == "ids" || key.ends_with("Id") || key.ends_with("Ids")
}

/// Who ran a mutation operation, and what it caused.
pub struct Run<'a> {
    pub subject: Option<&'a str>,
    pub operation: Option<&'a str>,
    pub request_id: &'a str,
    /// The vendors its upstream calls went to.
    pub called: Vec<crate::schema::Provider>,
}

/// Writes the audit line of each mutation field of `response`: its vendor is the one its ids
/// name, or else the ones the operation called.
pub fn record(writes: Vec<Write>, response: &async_graphql::Response, run: Run<'_>) {
    for mut write in writes {
        let data = match &response.data {
            ConstValue::Object(map) => map.get(write.key.as_str()),
            _ => None,
        };
        if let Some(data) = data {
            collect_ids(data, false, 2, &mut write.ids);
        }
        let outcome = outcome(&write.key, data, response);
        let mut vendors: BTreeSet<&str> = write.ids.iter().filter_map(|id| vendor(id)).collect();
        if vendors.is_empty() {
            vendors.extend(run.called.iter().map(|p| name(*p)));
        }
        let vendors: Vec<&str> = vendors.into_iter().collect();
        let ids: Vec<&str> = write.ids.iter().map(String::as_str).collect();
        tracing::info!(
            target: "audit",
            subject = run.subject.unwrap_or("anonymous"),
            operation = run.operation.unwrap_or(""),
            field = %write.field,
            vendor = %vendors.join(","),
            target_ids = %ids.join(","),
            outcome,
            request_id = run.request_id,
            "mutation"
        );
    }
}

/// `ok`, `user_error` (the payload's `userErrors` is not empty) or the field's error code.
fn outcome(key: &str, data: Option<&ConstValue>, response: &async_graphql::Response) -> String {
    let failed = response.errors.iter().find(|e| {
        e.path.is_empty()
            || matches!(e.path.first(), Some(async_graphql::PathSegment::Field(f)) if f == key)
    });
    if let Some(error) = failed {
        let code = error.extensions.as_ref().and_then(|e| e.get("code"));
        return match code {
            Some(ConstValue::String(code)) => code.clone(),
            _ => "INTERNAL".into(),
        };
    }
    let user_errors = match data {
        Some(ConstValue::Object(payload)) => payload.get("userErrors"),
        _ => None,
    };
    match user_errors {
        Some(ConstValue::List(list)) if !list.is_empty() => "user_error".into(),
        _ => "ok".into(),
    }
}

/// The vendor a flowgate id belongs to.
fn vendor(id: &str) -> Option<&'static str> {
    Some(name(GlobalId::decode(id).ok()?.provider))
}

fn name(provider: crate::schema::Provider) -> &'static str {
    match provider {
        crate::schema::Provider::Appmixer => "appmixer",
        crate::schema::Provider::AppyPie => "appypie",
    }
}
