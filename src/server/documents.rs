//! Parsed documents, kept by their text's fingerprint: clients send the same few documents over
//! and over, and parsing is a quarter of the cost of a small query. A document is read only
//! after its text passed the nesting bound, and kept only once it passed every limit; the cache
//! is bounded by the memory its documents hold. A document holds no caller data.

use super::limits::{self, Limits};
use crate::error::Code;
use crate::metered::Handles;
use crate::upstream::fingerprint;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::ServerError;
use metrics::Counter;
use std::sync::{Arc, LazyLock};

/// Bytes a parsed document holds for each token of its text, at most: a field with its name,
/// position, argument and directive lists and selection set (measured by the tests below).
const BYTES_PER_TOKEN: usize = 384;

pub struct Documents {
    parsed: Option<moka::sync::Cache<u128, Parsed>>,
    limits: Limits,
}

#[derive(Clone)]
struct Parsed {
    doc: Arc<ExecutableDocument>,
    /// What it holds in memory, in bytes (an upper estimate).
    bytes: u32,
}

impl Documents {
    /// A cache holding at most `mib` MiB of parsed documents, none when zero; every document is
    /// checked against `limits` before it is kept or run.
    pub fn new(mib: u64, limits: Limits) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(mib << 20)
            .weigher(|_, parsed: &Parsed| parsed.bytes);
        Documents {
            parsed: (mib > 0).then(|| cache.build()),
            limits,
        }
    }

    /// The parsed document, once it passed every limit, or the request error refusing it.
    pub fn parse(&self, text: &str) -> Result<Arc<ExecutableDocument>, ServerError> {
        let Some(cache) = &self.parsed else {
            return self.read(text).map(|parsed| parsed.doc);
        };
        let key = fingerprint(&[text.as_bytes()]);
        let hit = cache.get(&key);
        let result = if hit.is_some() { "hit" } else { "miss" };
        LOOKUPS.with(result, |c| c.increment(1));
        if let Some(parsed) = hit {
            return Ok(parsed.doc);
        }
        let parsed = self.read(text)?;
        cache.insert(key, parsed.clone());
        Ok(parsed.doc)
    }

    fn read(&self, text: &str) -> Result<Parsed, ServerError> {
        let scan = limits::scan(text);
        limits::check_text(&scan)?;
        let doc = parse(text)?;
        limits::check_document(&doc, &self.limits)?;
        let bytes = text
            .len()
            .saturating_add(scan.tokens.saturating_mul(BYTES_PER_TOKEN));
        Ok(Parsed {
            doc,
            bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Counts the bytes this thread holds, so a document's real size can be read.
    struct Counting;

    thread_local! {
        static HELD: Cell<isize> = const { Cell::new(0) };
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            HELD.with(|h| h.set(h.get() + layout.size() as isize));
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            HELD.with(|h| h.set(h.get() - layout.size() as isize));
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    #[test]
    fn a_documents_weight_covers_what_it_holds() {
        let documents = [
            format!("query Q {{ {} }}", "__typename ".repeat(5000)),
            format!("{{ {} }}", "a ".repeat(20000)),
            format!("{{ a(x: [{}]) }}", "1, ".repeat(10000)),
            format!("{{ {} }}", "a(x: $v, y: \"s\") @skip(if: $b) ".repeat(2000)),
            format!(
                "{{ ...F }} fragment F on Query {{ {} }}",
                "a { b c } ".repeat(3000)
            ),
            "query($id: ID!) { node(id: $id) { id ... on Flow { name } } }".to_string(),
        ];
        for text in documents {
            let before = HELD.with(Cell::get);
            let doc = async_graphql::parser::parse_query(&text).unwrap();
            let held = (HELD.with(Cell::get) - before) as usize;
            let tokens = limits::scan(&text).tokens;
            let weight = text.len() + tokens * BYTES_PER_TOKEN;
            assert!(
                weight >= held,
                "{held} bytes held, {weight} weighed: {}",
                &text[..40]
            );
            assert!(
                weight <= held * 4,
                "{held} bytes held, {weight} weighed: {}",
                &text[..40]
            );
            drop(doc);
        }
    }

    #[test]
    fn refused_documents_are_not_kept() {
        let documents = Documents::new(16, Limits::default());
        let roots = format!("{{ {} }}", "__typename ".repeat(100));
        assert!(documents.parse(&roots).is_err());
        assert!(documents.parse("{ a b c }").is_ok());
        let cache = documents.parsed.as_ref().unwrap();
        cache.run_pending_tasks();
        assert_eq!(cache.entry_count(), 1);
    }
}
