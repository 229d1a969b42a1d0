//! Relay paging: one page of a list, its cursors and its total.

use crate::error::Code;
use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields};
use async_graphql::{OutputType, Result, SimpleObject};

/// Extra fields of a connection.
#[derive(SimpleObject)]
pub struct Total {
    /// How many items the whole list holds.
    pub total_count: usize,
}

/// Most items one page may hold.
pub(crate) const MAX_PAGE: usize = 100;

/// A Relay page of `items` after the cursor `after`, at most `first` long (default 20).
pub fn page<T: OutputType>(
    items: Vec<T>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<usize, T, Total, EmptyFields>> {
    page_with(items, first, after, |i| i)
}

/// Like [`page`], with cursors that `cursor` makes of each position.
pub fn page_with<C: CursorType + Send + Sync, T: OutputType>(
    items: Vec<T>,
    first: Option<i32>,
    after: Option<String>,
    cursor: impl Fn(usize) -> C,
) -> Result<Connection<C, T, Total, EmptyFields>> {
    let start = start_after(after.as_deref())?;
    let take = limit(first, 20, MAX_PAGE);
    let total = items.len();
    let end = start.saturating_add(take).min(total);
    let mut conn =
        Connection::with_additional_fields(start > 0, end < total, Total { total_count: total });
    conn.edges.extend(
        items
            .into_iter()
            .enumerate()
            .skip(start)
            .take(end.saturating_sub(start))
            .map(|(i, item)| Edge::new(cursor(i), item)),
    );
    Ok(conn)
}

/// `first` clamped to `0..=max`, `default` when absent.
pub fn limit(first: Option<i32>, default: usize, max: usize) -> usize {
    first
        .map_or(default, |n| usize::try_from(n).unwrap_or(0))
        .min(max)
}

/// Where a page starts: just after the position the cursor `after` names.
pub fn start_after(after: Option<&str>) -> Result<usize> {
    match after {
        Some(cursor) => cursor
            .parse::<usize>()
            .map(|n| n + 1)
            .map_err(|_| Code::BadUserInput.error("after is not a valid cursor")),
        None => Ok(0),
    }
}
