//! Appmixer flows beyond the request's whole list: a filtered page, one flow read fresh, the
//! writes, and the log reads of runs. Appmixer's query strings are written here and nowhere else.

use super::AppmixerLoaders;
use crate::upstream::appmixer::model::{
    CloneOptions, Flow, FlowDescriptor, FlowInput, FlowQuery, LogEntry, LogQuery, Share,
};
use crate::upstream::UpstreamError;
use serde_json::Value;

/// What a person a flow is shared with may do.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum FlowPermission {
    /// See the flow (`read`).
    Read,
    /// Start it (`start`).
    Start,
    /// Stop it (`stop`).
    Stop,
}

impl FlowPermission {
    fn wire(self) -> &'static str {
        match self {
            FlowPermission::Read => "read",
            FlowPermission::Start => "start",
            FlowPermission::Stop => "stop",
        }
    }

    /// The permission Appmixer names `word`, if it is one of these.
    pub fn parse(word: &str) -> Option<FlowPermission> {
        [Self::Read, Self::Start, Self::Stop]
            .into_iter()
            .find(|p| p.wire() == word)
    }
}

/// The order of `flows`.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum FlowSort {
    /// Most recently changed first.
    #[default]
    UpdatedDesc,
    /// Least recently changed first.
    UpdatedAsc,
    /// Most recently created first.
    CreatedDesc,
    /// Least recently created first.
    CreatedAsc,
    /// By name, A to Z.
    NameAsc,
    /// By name, Z to A.
    NameDesc,
}

impl FlowSort {
    fn wire(self) -> &'static str {
        match self {
            FlowSort::UpdatedDesc => "mtime:-1",
            FlowSort::UpdatedAsc => "mtime:1",
            FlowSort::CreatedDesc => "btime:-1",
            FlowSort::CreatedAsc => "btime:1",
            FlowSort::NameAsc => "name:1",
            FlowSort::NameDesc => "name:-1",
        }
    }
}

/// Which flows, in which order, which slice of them.
#[derive(Clone, Debug, Default)]
pub struct FlowSearch {
    /// Only running (true) or only stopped (false) ones.
    pub running: Option<bool>,
    /// Only those whose name or id holds this text.
    pub text: Option<String>,
    /// Custom fields (path, value) that must hold; a path has no spaces or colons.
    pub custom_fields: Vec<(String, String)>,
    /// Only flows shared with the caller with at least these permissions.
    pub shared_with: Option<Vec<FlowPermission>>,
    pub sort: FlowSort,
    pub offset: u32,
    pub limit: u32,
    /// Read each flow's thumbnail too (large).
    pub thumbnails: bool,
}

impl FlowSearch {
    fn query(&self) -> FlowQuery {
        let mut filters: Vec<String> = self
            .running
            .map(|on| format!("stage:{}", if on { "running" } else { "stopped" }))
            .into_iter()
            .collect();
        filters.extend(
            self.custom_fields
                .iter()
                .map(|(path, value)| format!("customFields.{path}:{value}")),
        );
        let permissions = self.shared_with.as_ref().map(|all| {
            let words: Vec<&str> = all.iter().map(|p| p.wire()).collect();
            words.join(",")
        });
        FlowQuery {
            filters,
            pattern: self.text.clone(),
            shared_with_permissions: permissions,
            sort: Some(self.sort.wire().to_string()),
            offset: Some(self.offset),
            limit: Some(self.limit),
            projection: (!self.thumbnails).then(|| "-thumbnail".into()),
        }
    }

    fn filters_anything(&self) -> bool {
        self.running.is_some()
            || self.text.is_some()
            || !self.custom_fields.is_empty()
            || self.shared_with.is_some()
    }
}

/// A flow's writable parts; what is `None` stays as it is.
#[derive(Clone, Debug, Default)]
pub struct FlowChange {
    pub name: Option<String>,
    /// The components and their links (Appmixer's flow descriptor).
    pub descriptor: Option<FlowDescriptor>,
    pub custom_fields: Option<Value>,
    pub thumbnail: Option<String>,
    /// Everyone it is shared with (email, permissions), replacing the list.
    pub shared_with: Option<Vec<(String, Vec<FlowPermission>)>>,
}

impl FlowChange {
    fn body(self) -> FlowInput {
        let shares = self.shared_with.map(|all| {
            all.into_iter()
                .map(|(email, permissions)| Share {
                    email,
                    permissions: permissions.iter().map(|p| p.wire().to_string()).collect(),
                })
                .collect()
        });
        FlowInput {
            name: self.name,
            flow: self.descriptor,
            custom_fields: self.custom_fields,
            thumbnail: self.thumbnail,
            shared_with: shares,
        }
    }
}

/// Which log entries of a flow mark the runs asked for.
#[derive(Clone, Debug, Default)]
pub struct RunSearch {
    /// Only entries of severity `error` (the runs that failed).
    pub errors_only: bool,
    /// Logged at or after this instant (RFC 3339, UTC).
    pub since: Option<String>,
    /// Logged at or before this instant (RFC 3339, UTC).
    pub until: Option<String>,
    /// Entries holding this text.
    pub text: Option<String>,
    pub oldest_first: bool,
}

impl RunSearch {
    /// The Lucene query of these conditions, if any.
    fn query(&self) -> Option<String> {
        let mut terms = Vec::new();
        if self.errors_only {
            terms.push("severity:error".to_string());
        }
        if self.since.is_some() || self.until.is_some() {
            let end = |t: &Option<String>| t.as_deref().map_or("*".into(), phrase);
            terms.push(format!(
                "@timestamp:[{} TO {}]",
                end(&self.since),
                end(&self.until)
            ));
        }
        terms.extend(self.text.as_deref().map(phrase));
        (!terms.is_empty()).then(|| terms.join(" AND "))
    }
}

/// `text` as one Lucene phrase: quoted, its quotes and backslashes escaped.
fn phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Most log entries read for the entries of a set of runs.
const RUN_ENTRIES: u32 = 10_000;

impl AppmixerLoaders {
    /// A page of the caller's flows, and how many flows match in all.
    pub async fn flows_page(
        &self,
        search: &FlowSearch,
    ) -> Result<(Vec<Flow>, usize), UpstreamError> {
        let q = search.query();
        let flows = self.session.flows(&q).await?;
        let total = if search.filters_anything() {
            let ids_only = FlowQuery {
                offset: None,
                limit: Some(u32::MAX),
                projection: Some("flowId".into()),
                ..q
            };
            self.session.flows(&ids_only).await?.len()
        } else {
            self.session.flow_count().await? as usize
        };
        Ok((flows, total))
    }

    /// One flow, read now (not the request's list): after a write.
    pub async fn fresh_flow(&self, id: &str) -> Result<Flow, UpstreamError> {
        self.session.flow(id).await
    }

    /// Creates a flow (stopped); its id.
    pub async fn create_flow(&self, change: FlowChange) -> Result<String, UpstreamError> {
        self.session.create_flow(&change.body()).await
    }

    /// Changes a flow; a running one needs `force`.
    pub async fn update_flow(
        &self,
        id: &str,
        change: FlowChange,
        force: bool,
    ) -> Result<(), UpstreamError> {
        let body = change.body();
        self.session.update_flow(id, &body, force).await.map(drop)
    }

    /// Copies a flow (stopped), its name after `prefix`; the copy's id.
    pub async fn clone_flow(
        &self,
        id: &str,
        prefix: Option<String>,
        with_accounts: bool,
    ) -> Result<String, UpstreamError> {
        let options = CloneOptions {
            prefix,
            connect_accounts: with_accounts,
        };
        self.session.clone_flow(id, &options).await
    }

    pub async fn delete_flow(&self, id: &str) -> Result<(), UpstreamError> {
        self.session.delete_flow(id).await.map(drop)
    }

    /// Starts a flow; the coordinator's ticket.
    pub async fn start_flow(&self, id: &str) -> Result<String, UpstreamError> {
        Ok(self.session.start_flow(id).await?.ticket)
    }

    /// Stops a flow, at once or in the background; the coordinator's ticket.
    pub async fn stop_flow(&self, id: &str, background: bool) -> Result<String, UpstreamError> {
        Ok(self.session.stop_flow(id, background).await?.ticket)
    }

    /// The newest `size` log entries of one flow, newest first (beyond the batched read).
    pub async fn flow_log(&self, flow_id: &str, size: u32) -> Result<Vec<LogEntry>, UpstreamError> {
        let query = super::newest(vec![flow_id.to_string()], size);
        Ok(self.session.logs(&query).await?.hits)
    }

    /// Up to `size` log entries of a flow that match `search`, in its order.
    pub async fn matching_log(
        &self,
        flow_id: &str,
        search: &RunSearch,
        size: u32,
    ) -> Result<Vec<LogEntry>, UpstreamError> {
        let order = if search.oldest_first { "asc" } else { "desc" };
        let query = LogQuery {
            query: search.query(),
            sort: Some(format!("@timestamp:{order}")),
            ..super::newest(vec![flow_id.to_string()], size)
        };
        Ok(self.session.logs(&query).await?.hits)
    }

    /// Every log entry of these runs (correlation ids) of a flow, newest first; ids that are not
    /// ones Appmixer makes are left out.
    pub async fn runs_log(
        &self,
        flow_id: &str,
        correlation_ids: &[String],
    ) -> Result<Vec<LogEntry>, UpstreamError> {
        let ids: Vec<&str> = correlation_ids
            .iter()
            .map(String::as_str)
            .filter(|id| is_correlation_id(id))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let query = LogQuery {
            query: Some(format!("correlationId:({})", ids.join(" OR "))),
            ..super::newest(vec![flow_id.to_string()], RUN_ENTRIES)
        };
        Ok(self.session.logs(&query).await?.hits)
    }

    /// The log entries of one run (one correlation id) of a flow; none for an id that is not
    /// one Appmixer makes.
    pub async fn run_log(
        &self,
        flow_id: &str,
        correlation_id: &str,
        size: u32,
    ) -> Result<Vec<LogEntry>, UpstreamError> {
        if !is_correlation_id(correlation_id) {
            return Ok(Vec::new());
        }
        let query = LogQuery {
            query: Some(format!("correlationId:{correlation_id}")),
            ..super::newest(vec![flow_id.to_string()], size)
        };
        Ok(self.session.logs(&query).await?.hits)
    }
}

/// Whether `id` has the shape of Appmixer's correlation ids (and so is safe in a query).
fn is_correlation_id(id: &str) -> bool {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    !id.is_empty() && id.chars().all(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_search_is_one_lucene_query_with_the_text_quoted() {
        let search = RunSearch {
            errors_only: true,
            since: Some("2024-05-01T00:00:00.000Z".into()),
            text: Some(r#"say "hi" \ AND bye"#.into()),
            ..RunSearch::default()
        };
        assert_eq!(
            search.query().unwrap(),
            r#"severity:error AND @timestamp:["2024-05-01T00:00:00.000Z" TO *] AND "say \"hi\" \\ AND bye""#
        );
        assert_eq!(RunSearch::default().query(), None);
    }
}
