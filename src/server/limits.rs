//! Query limits, checked before any upstream call: depth, complexity, aliases, root fields,
//! body size; introspection can be switched off; a deadline bounds each request.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

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
pub fn check_shape(doc: &ExecutableDocument, limits: &Limits) -> Option<String> {
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
