//! Query limits, checked before any upstream call: nesting (of the text before it is parsed,
//! of selections once it is), depth, complexity, aliases, root fields, body size; introspection
//! can be switched off; a deadline bounds each request.

use crate::error::Code;
use async_graphql::parser::types::{Directive, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Positioned, ServerError};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Brackets (`{`, `[`, `(`) a document may nest, selections and values together, and levels a
/// JSON value (variables, extensions) may nest: bounded before the parser, a validation rule or
/// a conversion recurses over them, so no input can exhaust a thread's stack.
pub const MAX_NESTING: usize = 64;

/// Selection sets nested in one another, fragments counted where they are spread: the bound
/// async-graphql's executor also keeps (`limit_recursive_depth`), checked here first so that
/// it is refused as a query limit.
pub const MAX_SELECTION_NESTING: usize = 32;

/// The limits one gateway enforces. On by default.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub max_body_bytes: usize,
    pub introspection: bool,
    /// No response waits longer than this.
    pub deadline: Duration,
    /// A request body must arrive within this.
    pub body_timeout: Duration,
    /// GraphQL requests served at once; past it requests are shed (503).
    pub max_concurrent_requests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 15,
            max_complexity: 2_000,
            max_aliases: 30,
            max_root_fields: 20,
            max_body_bytes: 64 * 1024,
            introspection: true,
            deadline: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
            max_concurrent_requests: 1024,
        }
    }
}

/// Counts over a document with its fragments expanded wherever they are spread, however often.
/// Each fragment is counted once and reused (a fragment spread in a fragment spread cannot blow
/// the count up), and a fragment that spreads itself counts as nothing more.
struct Expanded<'a> {
    doc: &'a ExecutableDocument,
    aliases: HashMap<&'a str, u64>,
    roots: HashMap<&'a str, u64>,
    visiting: HashSet<&'a str>,
}

impl<'a> Expanded<'a> {
    fn new(doc: &'a ExecutableDocument) -> Self {
        Expanded {
            doc,
            aliases: HashMap::new(),
            roots: HashMap::new(),
            visiting: HashSet::new(),
        }
    }

    /// Aliases in `set`, with every fragment in it expanded.
    fn aliases(&mut self, set: &'a SelectionSet) -> u64 {
        let mut n = 0u64;
        for item in &set.items {
            n = n.saturating_add(match &item.node {
                Selection::Field(f) => u64::from(f.node.alias.is_some())
                    .saturating_add(self.aliases(&f.node.selection_set.node)),
                Selection::InlineFragment(f) => self.aliases(&f.node.selection_set.node),
                Selection::FragmentSpread(s) => {
                    self.fragment(s.node.fragment_name.node.as_str(), true)
                }
            });
        }
        n
    }

    /// Fields `set` selects at its own level, with fragments at that level expanded.
    fn fields(&mut self, set: &'a SelectionSet) -> u64 {
        let mut n = 0u64;
        for item in &set.items {
            n = n.saturating_add(match &item.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(f) => self.fields(&f.node.selection_set.node),
                Selection::FragmentSpread(s) => {
                    self.fragment(s.node.fragment_name.node.as_str(), false)
                }
            });
        }
        n
    }

    /// A fragment's aliases (or its own-level fields), counted once.
    fn fragment(&mut self, name: &'a str, aliases: bool) -> u64 {
        let memo = if aliases { &self.aliases } else { &self.roots };
        if let Some(n) = memo.get(name) {
            return *n;
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return 0;
        };
        if !self.visiting.insert(name) {
            return 0;
        }
        let set = &fragment.node.selection_set.node;
        let n = if aliases {
            self.aliases(set)
        } else {
            self.fields(set)
        };
        self.visiting.remove(name);
        let memo = if aliases {
            &mut self.aliases
        } else {
            &mut self.roots
        };
        memo.insert(name, n);
        n
    }
}

/// Why the document breaks the alias or root-field limit, if it does. Both are counted on the
/// operations as they execute: fragments expanded wherever they are spread.
fn check_shape(doc: &ExecutableDocument, limits: &Limits) -> Option<String> {
    let mut expanded = Expanded::new(doc);
    let mut aliases = 0u64;
    for (_, op) in doc.operations.iter() {
        let set = &op.node.selection_set.node;
        let roots = expanded.fields(set);
        if roots > limits.max_root_fields as u64 {
            return Some(format!(
                "an operation selects {roots} root fields; the limit is {}",
                limits.max_root_fields
            ));
        }
        aliases = aliases.max(expanded.aliases(set));
    }
    (aliases > limits.max_aliases as u64).then(|| {
        format!(
            "the query uses {aliases} aliases; the limit is {}",
            limits.max_aliases
        )
    })
}

/// What a document's text holds, read without parsing it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// The deepest nesting of brackets outside strings and comments.
    pub nesting: usize,
    /// Names, numbers and strings: each becomes at most a node of the parsed document.
    pub tokens: usize,
}

/// Reads a document's text as GraphQL's lexer would, counting brackets and tokens; stops as
/// soon as brackets nest past [`MAX_NESTING`].
pub fn scan(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let (mut scan, mut depth, mut i) = (Scan::default(), 0usize, 0usize);
    while i < bytes.len() && scan.nesting <= MAX_NESTING {
        match bytes[i] {
            b'#' => i = skip_until(bytes, i, |b| b == b'\n' || b == b'\r'),
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                scan.tokens += 1;
                i = block_string_end(bytes, i + 3);
            }
            b'"' => {
                scan.tokens += 1;
                i = string_end(bytes, i + 1);
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                scan.nesting = scan.nesting.max(depth);
                i += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b if b == b'_' || b == b'-' || b.is_ascii_alphanumeric() => {
                scan.tokens += 1;
                i = skip_until(bytes, i + 1, |b| !(b == b'_' || b.is_ascii_alphanumeric()));
            }
            _ => i += 1,
        }
    }
    scan
}

fn skip_until(bytes: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> usize {
    bytes[from..]
        .iter()
        .position(|b| stop(*b))
        .map_or(bytes.len(), |n| from + n)
}

/// Where a string that opened before `from` ends (past its closing quote, or at a line end).
fn string_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Where a block string that opened before `from` ends (`\"""` does not end it).
fn block_string_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if bytes[i..].starts_with(b"\"\"\"") {
            return i + 3;
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// The refusal of a document whose brackets nest past [`MAX_NESTING`], before it is parsed.
pub fn check_text(scan: &Scan) -> Result<(), ServerError> {
    if scan.nesting <= MAX_NESTING {
        return Ok(());
    }
    Err(Code::QueryLimitExceeded.request_error(format!(
        "the query nests brackets more than {MAX_NESTING} deep"
    )))
}

/// Whether a JSON value nests deeper than [`MAX_NESTING`] (counted without recursion).
pub fn json_too_deep(value: &serde_json::Value) -> bool {
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        if depth > MAX_NESTING {
            return true;
        }
        match value {
            serde_json::Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            serde_json::Value::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    false
}

/// Whether a request's `variables` or `extensions` nest deeper than [`MAX_NESTING`].
pub fn params_too_deep(maps: [&Option<serde_json::Map<String, serde_json::Value>>; 2]) -> bool {
    maps.into_iter()
        .flatten()
        .any(|map| map.values().any(json_too_deep))
}

/// Checks a parsed document before it runs: selection nesting, directives repeated where they
/// may not be, then the alias and root-field limits.
pub fn check_document(doc: &ExecutableDocument, limits: &Limits) -> Result<(), ServerError> {
    let mut nesting = Nesting::new(doc);
    for (_, op) in doc.operations.iter() {
        nesting.below(&op.node.selection_set.node, 0)?;
    }
    repeated_directives(doc)?;
    match check_shape(doc, limits) {
        Some(why) => Err(Code::QueryLimitExceeded.request_error(why)),
        None => Ok(()),
    }
}

/// Selection sets nested below a set, fragments expanded where spread and each measured once.
struct Nesting<'a> {
    doc: &'a ExecutableDocument,
    fragments: HashMap<&'a str, usize>,
    visiting: HashSet<&'a str>,
}

impl<'a> Nesting<'a> {
    fn new(doc: &'a ExecutableDocument) -> Self {
        Nesting {
            doc,
            fragments: HashMap::new(),
            visiting: HashSet::new(),
        }
    }

    /// Levels nested below `set`, which sits `at` levels deep; refused past the limit.
    fn below(&mut self, set: &'a SelectionSet, at: usize) -> Result<usize, ServerError> {
        let too_deep = || {
            Code::QueryLimitExceeded.request_error(format!(
                "the query nests selections more than {MAX_SELECTION_NESTING} deep"
            ))
        };
        if at > MAX_SELECTION_NESTING {
            return Err(too_deep());
        }
        let mut deepest = 0;
        for item in &set.items {
            let levels = match &item.node {
                Selection::Field(f) if f.node.selection_set.node.items.is_empty() => 0,
                Selection::Field(f) => 1 + self.below(&f.node.selection_set.node, at + 1)?,
                Selection::InlineFragment(f) => {
                    1 + self.below(&f.node.selection_set.node, at + 1)?
                }
                Selection::FragmentSpread(s) => {
                    1 + self.fragment(s.node.fragment_name.node.as_str(), at + 1)?
                }
            };
            if at + levels > MAX_SELECTION_NESTING {
                return Err(too_deep());
            }
            deepest = deepest.max(levels);
        }
        Ok(deepest)
    }

    fn fragment(&mut self, name: &'a str, at: usize) -> Result<usize, ServerError> {
        if let Some(levels) = self.fragments.get(name) {
            return Ok(*levels);
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Ok(0);
        };
        if !self.visiting.insert(name) {
            let message = format!("the fragment `{name}` spreads itself");
            return Err(Code::BadUserInput.request_error(message));
        }
        let levels = self.below(&fragment.node.selection_set.node, at)?;
        self.visiting.remove(name);
        self.fragments.insert(name, levels);
        Ok(levels)
    }
}

/// Refuses a directive used twice at one place: every directive an operation may use here
/// (`@skip`, `@include`) is non-repeatable. async-graphql's own rule skips `__typename`.
fn repeated_directives(doc: &ExecutableDocument) -> Result<(), ServerError> {
    for (_, op) in doc.operations.iter() {
        once_each(&op.node.directives)?;
        for variable in &op.node.variable_definitions {
            once_each(&variable.node.directives)?;
        }
        directives_in(&op.node.selection_set.node)?;
    }
    for fragment in doc.fragments.values() {
        once_each(&fragment.node.directives)?;
        directives_in(&fragment.node.selection_set.node)?;
    }
    Ok(())
}

fn directives_in(set: &SelectionSet) -> Result<(), ServerError> {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                once_each(&f.node.directives)?;
                directives_in(&f.node.selection_set.node)?;
            }
            Selection::InlineFragment(f) => {
                once_each(&f.node.directives)?;
                directives_in(&f.node.selection_set.node)?;
            }
            Selection::FragmentSpread(s) => once_each(&s.node.directives)?,
        }
    }
    Ok(())
}

fn once_each(directives: &[Positioned<Directive>]) -> Result<(), ServerError> {
    for (i, directive) in directives.iter().enumerate() {
        let name = &directive.node.name.node;
        if directives[..i].iter().any(|d| &d.node.name.node == name) {
            let message = format!("the directive `@{name}` can only be used once at one place");
            return Err(Code::BadUserInput.request_error(message));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nest(open: &str, close: &str, n: usize) -> String {
        format!("{}{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn scan_counts_brackets_outside_strings_and_comments() {
        assert_eq!(scan("{ a(x: [[1]]) }").nesting, 4);
        assert_eq!(scan("{ a(x: \"[[[[\") }").nesting, 2);
        assert_eq!(scan("{ a(x: \"\"\"[[[\\\"\"\"[[\"\"\") }").nesting, 2);
        assert_eq!(scan("# {{{{\n{ a }").nesting, 1);
        assert_eq!(scan("{ a b c }").tokens, 3);
        assert_eq!(scan("{ a(x: -1, y: -) }").tokens, 5);
        let deep = format!("{{ __typename(a: {}) }}", nest("[", "]", 5000));
        assert!(scan(&deep).nesting > MAX_NESTING);
        assert!(check_text(&scan(&deep)).is_err());
        assert!(check_text(&scan(&nest("{ a ", "}", MAX_NESTING))).is_ok());
    }

    #[test]
    fn json_depth_is_counted_without_recursion() {
        let deep: serde_json::Value = serde_json::from_str(&nest("[", "]", MAX_NESTING)).unwrap();
        assert!(!json_too_deep(&deep));
        let deeper = serde_json::json!([deep]);
        assert!(json_too_deep(&deeper));
    }

    fn refused(query: &str) -> Option<String> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        check_document(&doc, &Limits::default())
            .err()
            .map(|e| e.message)
    }

    #[test]
    fn selections_nested_through_fragments_are_bounded() {
        let chain: String = (0..40)
            .map(|i| format!("fragment F{i} on Query {{ a {{ ...F{} }} }}\n", i + 1))
            .collect();
        let query = format!("{{ ...F0 }}\n{chain}fragment F40 on Query {{ b }}");
        assert!(refused(&query).unwrap().contains("selections"));
        let of_type = format!("{{ __type(name: \"A\") {}}}", nest("{ ofType ", "}", 40));
        assert!(refused(&of_type).unwrap().contains("selections"));
        let cycle = "{ ...A } fragment A on Query { a { ...A } }";
        assert!(refused(cycle).unwrap().contains("spreads itself"));
        assert_eq!(refused("{ ...A } fragment A on Query { a { b } }"), None);
    }

    #[test]
    fn a_directive_may_not_repeat_at_one_place() {
        let flood = format!("{{ __typename {} }}", "@skip(if: false) ".repeat(3));
        assert!(refused(&flood).unwrap().contains("@skip"));
        assert_eq!(refused("{ a @skip(if: false) @include(if: true) }"), None);
    }
}
