//! Parsed documents, kept by their text's fingerprint: clients send the same few documents over
//! and over, and parsing is a quarter of the cost of a small query. Only documents that parse
//! are kept; a document holds no caller data.

use crate::error::Code;
use crate::metered::Handles;
use crate::upstream::fingerprint;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::ServerError;
use metrics::Counter;
use std::sync::{Arc, LazyLock};

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

    /// The parsed document, or the request error saying why it does not parse.
    pub fn parse(&self, text: &str) -> Result<Arc<ExecutableDocument>, ServerError> {
        let Some(cache) = &self.parsed else {
            return parse(text);
        };
        let key = fingerprint(&[text.as_bytes()]);
        let hit = cache.get(&key);
        let result = if hit.is_some() { "hit" } else { "miss" };
        LOOKUPS.with(result, |c| c.increment(1));
        if let Some(doc) = hit {
            return Ok(doc);
        }
        let doc = parse(text)?;
        cache.insert(key, doc.clone());
        Ok(doc)
    }
}

/// Parses a document. The parser's own nesting limit is a query limit like ours.
fn parse(text: &str) -> Result<Arc<ExecutableDocument>, ServerError> {
    use async_graphql::parser::Error;
    match async_graphql::parser::parse_query(text) {
        Ok(doc) => Ok(Arc::new(doc)),
        Err(Error::RecursionLimitExceeded) => Err(Code::QueryLimitExceeded
            .request_error("the query is nested deeper than the parser allows")),
        Err(e) => {
            let mut error = ServerError::from(e);
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", Code::BadUserInput.as_str());
            Err(error)
        }
    }
}

static LOOKUPS: LazyLock<Handles<&str, Counter>> = LazyLock::new(|| {
    Handles::new(
        |result| metrics::counter!("flowgate_cache_requests_total", "cache" => "documents", "result" => result),
    )
});
