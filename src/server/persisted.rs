//! Persisted queries. Automatic persisted queries (Apollo's protocol): a client sends a
//! document's SHA-256 instead of its text once flowgate knows it; the store is bounded and kept
//! per caller, so no caller learns what another has sent. Trusted documents: with a manifest,
//! only its documents run.

use super::http::Params;
use crate::error::Code;
use crate::store::Shared;
use async_graphql::ServerError;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How persisted queries are served.
#[derive(Clone, Debug)]
pub struct PersistedConfig {
    /// Automatic persisted queries on.
    pub apq: bool,
    /// Most MiB of document text the automatic store holds.
    pub apq_cache_mib: u64,
    /// A manifest of trusted documents; with one, no other document runs.
    pub trusted_documents: Option<PathBuf>,
}

impl Default for PersistedConfig {
    fn default() -> Self {
        PersistedConfig {
            apq: true,
            apq_cache_mib: 16,
            trusted_documents: None,
        }
    }
}

pub struct Persisted {
    registered: Option<moka::sync::Cache<(u128, String), Arc<str>>>,
    trusted: Option<Trusted>,
    /// The store replicas share: registrations and the manifest's documents.
    shared: Option<Shared>,
}

/// How long a registration or a published manifest document stays in the shared store.
const SHARED_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The documents of a manifest, by the id clients send, and the hashes of their text.
struct Trusted {
    by_id: HashMap<String, Arc<str>>,
    hashes: HashSet<String>,
}

impl Persisted {
    pub fn new(config: &PersistedConfig, shared: Option<Shared>) -> Result<Persisted, String> {
        let registered = config.apq.then(|| {
            moka::sync::Cache::builder()
                .max_capacity(config.apq_cache_mib << 20)
                .weigher(|(_, hash): &(u128, String), text: &Arc<str>| {
                    u32::try_from(hash.len() + text.len()).unwrap_or(u32::MAX)
                })
                .build()
        });
        let trusted = match &config.trusted_documents {
            Some(path) => Some(Trusted::load(path)?),
            None => None,
        };
        if let (Some(store), Some(trusted)) = (&shared, &trusted) {
            trusted.publish(store);
        }
        Ok(Persisted {
            registered,
            trusted,
            shared,
        })
    }

    /// The text of the document a request runs, or the answer that refuses it. `caller` is the
    /// fingerprint of the caller's credentials, `credential` what the shared store's keys are
    /// made from. A registration is kept only once `accept` passed its text.
    pub async fn document(
        &self,
        params: &mut Params,
        caller: u128,
        credential: &[&[u8]],
        accept: impl FnOnce(&str) -> Result<(), ServerError>,
    ) -> Result<String, ServerError> {
        let hash = requested_hash(params)?;
        if let Some(trusted) = &self.trusted {
            let id = hash.or(params.document_id.take());
            let document = trusted.document(id, params.query.take(), self.shared.as_ref());
            return Box::pin(document).await;
        }
        if params.document_id.is_some() {
            return Err(not_supported());
        }
        let store = || self.registered.as_ref().ok_or_else(not_supported);
        match (hash, params.query.take()) {
            (None, Some(text)) => Ok(text),
            (Some(hash), None) => {
                let found = store()?.get(&(caller, hash.clone()));
                let found = match found {
                    Some(text) => Some(text),
                    None => Box::pin(self.registered_elsewhere(credential, &hash)).await,
                };
                let result = if found.is_some() { "hit" } else { "miss" };
                metrics::counter!("flowgate_cache_requests_total", "cache" => "persisted_queries", "result" => result).increment(1);
                match found {
                    Some(text) => {
                        store()?.insert((caller, hash), text.clone());
                        Ok(text.to_string())
                    }
                    None => {
                        Err(Code::PersistedQueryNotFound.request_error("PersistedQueryNotFound"))
                    }
                }
            }
            (Some(hash), Some(text)) => {
                let store = store()?;
                if sha256_hex(&text) != hash {
                    return Err(Code::BadUserInput.request_error(
                        "the persisted query's sha256Hash is not the SHA-256 of its query",
                    ));
                }
                accept(&text)?;
                store.insert((caller, hash.clone()), Arc::from(text.as_str()));
                if let Some(shared) = &self.shared {
                    let (shared, name) = (shared.clone(), apq_key(shared, credential, &hash));
                    let value = text.clone().into_bytes();
                    tokio::spawn(async move { shared.set(&name, &value, SHARED_TTL).await });
                }
                Ok(text)
            }
            (None, None) => Err(Code::BadUserInput.request_error("the request has no `query`")),
        }
    }

    /// A document the caller registered on another replica; its text must hash to `hash`.
    async fn registered_elsewhere(&self, credential: &[&[u8]], hash: &str) -> Option<Arc<str>> {
        let shared = self.shared.as_ref()?;
        let stored = shared.get(&apq_key(shared, credential, hash)).await??;
        let text = String::from_utf8(stored).ok()?;
        (sha256_hex(&text) == hash).then(|| Arc::from(text.as_str()))
    }
}

/// The shared store's key of a caller's registration.
fn apq_key(shared: &Shared, credential: &[&[u8]], hash: &str) -> String {
    let mut parts = credential.to_vec();
    parts.push(hash.as_bytes());
    shared.key("apq", &parts)
}

impl Trusted {
    fn load(path: &Path) -> Result<Trusted, String> {
        let shown = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("trusted documents manifest {shown}: {e}"))?;
        let json: Value = serde_json::from_str(&text)
            .map_err(|e| format!("trusted documents manifest {shown}: not JSON: {e}"))?;
        let pairs = manifest_pairs(&json).ok_or_else(|| {
            format!(
                "trusted documents manifest {shown}: neither an Apollo persisted query manifest \
                 nor a Relay map of id to document"
            )
        })?;
        let mut trusted = Trusted {
            by_id: HashMap::new(),
            hashes: HashSet::new(),
        };
        for (id, body) in pairs {
            trusted.hashes.insert(sha256_hex(&body));
            trusted.by_id.insert(id, Arc::from(body.as_str()));
        }
        Ok(trusted)
    }

    /// Publishes the manifest's documents to the shared store, so that replicas started with
    /// an older manifest find the ids of this one.
    fn publish(&self, shared: &Shared) {
        for (id, body) in &self.by_id {
            let (shared, body) = (shared.clone(), body.clone());
            let name = shared.key("document", &[id.as_bytes()]);
            tokio::spawn(
                async move { shared.set_sealed(&name, body.as_bytes(), SHARED_TTL).await },
            );
        }
    }

    /// The manifest's document for an id (this replica's manifest, else one another replica
    /// published), or a document sent as text when the manifest holds exactly that text.
    async fn document(
        &self,
        id: Option<String>,
        text: Option<String>,
        shared: Option<&Shared>,
    ) -> Result<String, ServerError> {
        let refuse = |message: String| Err(Code::DocumentNotTrusted.request_error(message));
        match (id, text) {
            (Some(id), _) => match self.by_id.get(&id) {
                Some(body) => Ok(body.to_string()),
                None => match published(shared, &id).await {
                    Some(body) => Ok(body),
                    None => refuse(format!("no trusted document has the id {id}")),
                },
            },
            (None, Some(text)) if self.hashes.contains(&sha256_hex(&text)) => Ok(text),
            (None, _) => refuse(
                "this gateway runs only trusted documents; send the id of one of them".into(),
            ),
        }
    }
}

/// A manifest document another replica published under `id`.
async fn published(shared: Option<&Shared>, id: &str) -> Option<String> {
    let shared = shared?;
    let name = shared.key("document", &[id.as_bytes()]);
    String::from_utf8(shared.get_sealed(&name).await??).ok()
}

/// `(id, document)` pairs of an Apollo persisted query manifest
/// (`{"format":"apollo-persisted-query-manifest","operations":[{"id","body"}]}`) or of a Relay
/// map (`{"<id>": "<document>"}`).
fn manifest_pairs(json: &Value) -> Option<Vec<(String, String)>> {
    let map = json.as_object()?;
    if map.get("format").and_then(Value::as_str) == Some("apollo-persisted-query-manifest") {
        return map
            .get("operations")?
            .as_array()?
            .iter()
            .map(|op| {
                let id = op.get("id")?.as_str()?;
                let body = op.get("body")?.as_str()?;
                Some((id.to_string(), body.to_string()))
            })
            .collect();
    }
    map.iter()
        .map(|(id, body)| Some((id.clone(), body.as_str()?.to_string())))
        .collect()
}

/// The hash of `extensions.persistedQuery`, checked for version 1.
fn requested_hash(params: &Params) -> Result<Option<String>, ServerError> {
    let Some(persisted) = params
        .extensions
        .as_ref()
        .and_then(|e| e.get("persistedQuery"))
    else {
        return Ok(None);
    };
    let version = persisted.get("version").and_then(Value::as_i64);
    let hash = persisted.get("sha256Hash").and_then(Value::as_str);
    match (version, hash) {
        (Some(1), Some(hash)) => Ok(Some(hash.to_ascii_lowercase())),
        _ => Err(Code::BadUserInput
            .request_error("extensions.persistedQuery needs version 1 and a sha256Hash")),
    }
}

fn not_supported() -> ServerError {
    Code::PersistedQueryNotSupported.request_error("PersistedQueryNotSupported")
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_manifest_formats_load() {
        let apollo = serde_json::json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": "abc", "name": "Q", "type": "query", "body": "{ a }" }]
        });
        assert_eq!(
            manifest_pairs(&apollo).unwrap(),
            vec![("abc".into(), "{ a }".into())]
        );
        let relay = serde_json::json!({ "1f": "{ b }" });
        assert_eq!(
            manifest_pairs(&relay).unwrap(),
            vec![("1f".into(), "{ b }".into())]
        );
        assert!(manifest_pairs(&serde_json::json!({ "x": 1 })).is_none());
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex("{__typename}"),
            "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"
        );
    }
}
