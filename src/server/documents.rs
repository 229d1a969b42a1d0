//! Parsed documents, kept by their text's fingerprint: clients send the same few documents over
//! and over, and parsing is a quarter of the cost of a small query. Only documents that parse
//! are kept; a document holds no caller data.

use crate::upstream::fingerprint;
use async_graphql::parser::types::ExecutableDocument;
use std::sync::Arc;

pub struct Documents {
    parsed: Option<moka::sync::Cache<u128, Arc<ExecutableDocument>>>,
}

impl Documents {
    /// A cache of at most `capacity` documents; none when zero.
    pub fn new(capacity: u64) -> Self {
        Documents {
            parsed: (capacity > 0).then(|| moka::sync::Cache::new(capacity)),
        }
    }

    /// The parsed document, or `None` if it does not parse (execution then reports why).
    pub fn parse(&self, text: &str) -> Option<Arc<ExecutableDocument>> {
        let Some(cache) = &self.parsed else {
            return async_graphql::parser::parse_query(text).ok().map(Arc::new);
        };
        let key = fingerprint(&[text.as_bytes()]);
        if let Some(doc) = cache.get(&key) {
            return Some(doc);
        }
        let doc = Arc::new(async_graphql::parser::parse_query(text).ok()?);
        cache.insert(key, doc.clone());
        Some(doc)
    }
}
