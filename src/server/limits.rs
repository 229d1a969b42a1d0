//! Query limits, checked before any upstream call: depth, complexity, aliases, root fields,
//! body size; introspection can be switched off; a deadline bounds each request.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
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
        }
    }
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => count_aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Why the document breaks the alias or root-field limit, if it does.
pub fn check_shape(doc: &ExecutableDocument, limits: &Limits) -> Option<String> {
    let fragments: usize = doc
        .fragments
        .values()
        .map(|f| count_aliases(&f.node.selection_set.node))
        .sum();
    let mut aliases = fragments;
    for (_, op) in doc.operations.iter() {
        let set = &op.node.selection_set.node;
        if set.items.len() > limits.max_root_fields {
            return Some(format!(
                "an operation selects {} root fields; the limit is {}",
                set.items.len(),
                limits.max_root_fields
            ));
        }
        aliases += count_aliases(set);
    }
    (aliases > limits.max_aliases).then(|| {
        format!(
            "the query uses {aliases} aliases; the limit is {}",
            limits.max_aliases
        )
    })
}
