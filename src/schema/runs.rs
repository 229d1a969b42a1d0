//! Runs of automations, both vendors alike: an Appy Pie connect's history entries, and an
//! Appmixer flow's log entries grouped into runs (the entries of one message through the flow
//! share a correlation id; the run failed when any of them is an error).

use crate::error::Gql;
use crate::loaders::model::appmixer::LogEntry;
use crate::loaders::model::appypie as pm;
use crate::loaders::model::appypie::{HistoryEntry, RunStatus as PieStatus};
use crate::loaders::{AppmixerLoaders, RunSearch};
use crate::schema::automations::fresh_connect;
use crate::schema::node::id_of;
use crate::schema::payload::{after_write, payloads, settle, UserError};
use crate::schema::relay::{limit, start_after};
use crate::schema::{mixer, pie, Connect, DateTime, GlobalId, Kind, Provider};
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::Enum;
use async_graphql::{ComplexObject, Context, InputObject, Json, Object, Result, SimpleObject, ID};
use std::collections::{HashMap, HashSet};

/// The outcome of one run.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// The run did its work.
    Success,
    /// The run failed.
    Failed,
}

/// One run of an automation.
#[derive(SimpleObject, Clone, Debug)]
pub struct Run {
    /// Global id.
    #[graphql(owned)]
    pub id: ID,
    /// The vendor's id of the run (Appy Pie: the history entry; Appmixer: the correlation id).
    pub native_id: String,
    /// Failed when any step failed.
    pub status: RunStatus,
    /// When it started.
    pub started_at: Option<DateTime>,
    /// When its last step was logged.
    pub finished_at: Option<DateTime>,
    /// What happened: the error when it failed, else the last step's message.
    pub message: Option<String>,
    /// Whether it was a test run (Appy Pie's `testConnect`).
    pub is_test: bool,
    /// Steps logged (Appmixer: log entries; Appy Pie: 1).
    pub steps: i32,
    /// The component types that logged it, in order (Appmixer).
    pub component_types: Vec<String>,
}

/// Which runs to list; every filter given must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct RunFilter {
    /// Only runs with this outcome.
    pub status: Option<RunStatus>,
    /// Only runs with a step at or after this instant.
    pub since: Option<DateTime>,
    /// Only runs with a step at or before this instant.
    pub until: Option<DateTime>,
    /// Only runs with a step whose message (Appmixer: any text of the step) holds this text,
    /// in any case.
    pub search: Option<String>,
}

impl RunFilter {
    fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.since.is_none()
            && self.until.is_none()
            && self.search.is_none()
    }

    fn keeps(&self, run: &Run) -> bool {
        self.status.is_none_or(|s| run.status == s)
    }

    /// Whether an Appy Pie history entry, one step, meets every filter.
    fn keeps_entry(&self, run: &Run) -> bool {
        let at = run.started_at.as_ref().map(DateTime::millis);
        let text = self.search.as_deref().map(str::to_lowercase);
        self.keeps(run)
            && self.since.as_ref().is_none_or(|s| at >= Some(s.millis()))
            && self
                .until
                .as_ref()
                .is_none_or(|u| at.is_some_and(|a| a <= u.millis()))
            && text.is_none_or(|t| {
                let message = run.message.as_deref().unwrap_or_default();
                message.to_lowercase().contains(&t)
            })
    }
}

/// The order of runs.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum RunSort {
    /// Newest first.
    #[default]
    NewestFirst,
    /// Oldest first.
    OldestFirst,
}

/// Which runs of an automation, in which order, which page.
#[derive(Clone, Debug, Default)]
pub struct RunsAsked {
    pub filter: RunFilter,
    pub sort: RunSort,
    pub take: usize,
    pub after: Option<String>,
}

/// A `runs` field's arguments.
pub fn asked(
    first: Option<i32>,
    after: Option<String>,
    filter: Option<RunFilter>,
    sort: Option<RunSort>,
) -> RunsAsked {
    RunsAsked {
        filter: filter.unwrap_or_default(),
        sort: sort.unwrap_or_default(),
        take: limit(first, 20, 100),
        after,
    }
}

impl RunsAsked {
    /// The newest runs, unfiltered: what the request's batched reads hold.
    fn plain(&self) -> bool {
        self.filter.is_empty() && self.sort == RunSort::NewestFirst
    }
}

/// A page of runs.
pub type RunPage = Connection<usize, Run, EmptyFields, EmptyFields>;

/// Log entries read for one flow when paging past what the batched read holds.
const DEEP_LOGS: u32 = 1000;
/// Fewest runs whose entries one read asks for when a search pages through runs.
const RUNS_READ_TOGETHER: usize = 20;
/// History entries read per call when paging past the first page.
const HISTORY_PAGE: u32 = 100;
/// History pages read at most for one page of runs.
const MAX_HISTORY_PAGES: u32 = 20;

impl From<&HistoryEntry> for Run {
    fn from(h: &HistoryEntry) -> Self {
        Run {
            id: GlobalId::nested(Kind::Run, Provider::AppyPie, &h.connect_id, &h.id),
            native_id: h.id.clone(),
            status: if h.status == PieStatus::Success {
                RunStatus::Success
            } else {
                RunStatus::Failed
            },
            started_at: DateTime::from_vendor(&h.created_at),
            finished_at: DateTime::from_vendor(&h.created_at),
            message: Some(h.message.clone()),
            is_test: h.is_test,
            steps: 1,
            component_types: Vec::new(),
        }
    }
}

/// Log entries (newest first) as runs, newest first. With `complete` false the entries may
/// stop inside the oldest run, which is then left out.
pub fn runs_of_logs(entries: &[LogEntry], complete: bool) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    for e in entries {
        let key = e.correlation_id.clone().unwrap_or_else(|| e.id.clone());
        let failed = e.severity.as_deref() == Some("error");
        match index.get(&key) {
            Some(&i) => {
                let run = &mut runs[i];
                run.started_at = DateTime::from_vendor(&e.timestamp);
                run.steps += 1;
                run.component_types.extend(e.component_type.clone());
                if failed {
                    run.status = RunStatus::Failed;
                    run.message = e.msg.clone();
                }
            }
            None => {
                index.insert(key.clone(), runs.len());
                let flow = e.flow_id.as_deref().unwrap_or_default();
                runs.push(Run {
                    id: GlobalId::nested(Kind::Run, Provider::Appmixer, flow, &key),
                    native_id: key,
                    status: if failed {
                        RunStatus::Failed
                    } else {
                        RunStatus::Success
                    },
                    started_at: DateTime::from_vendor(&e.timestamp),
                    finished_at: DateTime::from_vendor(&e.timestamp),
                    message: e.msg.clone(),
                    is_test: false,
                    steps: 1,
                    component_types: e.component_type.iter().cloned().collect(),
                });
            }
        }
    }
    for run in &mut runs {
        run.component_types.reverse();
    }
    if !complete && runs.len() > 1 {
        runs.pop();
    }
    runs
}

fn page_of(runs: Vec<Run>, start: usize, take: usize) -> RunPage {
    let has_next = runs.len() > start + take;
    let mut page = Connection::new(start > 0, has_next);
    let edges = runs.into_iter().enumerate().skip(start).take(take);
    page.edges.extend(edges.map(|(i, run)| Edge::new(i, run)));
    page
}

/// A flow's recent runs, from the request's batched read of its newest log entries; and
/// whether they are all of its runs.
pub async fn flow_recent(ctx: &Context<'_>, flow_id: &str) -> Result<(Vec<Run>, bool)> {
    let batched = mixer(ctx)?.logs.load_one(flow_id.to_string()).await.gql()?;
    let batched = batched.unwrap_or_default();
    let whole = (batched.len() as u32) < crate::loaders::LOGS_PER_FLOW;
    Ok((runs_of_logs(&batched, whole), whole))
}

/// A page of a flow's runs: from its recent runs when the page lies within them, else from a
/// read of its own; filtered or sorted, from a search of its log.
pub async fn flow_runs(ctx: &Context<'_>, flow_id: &str, asked: RunsAsked) -> Result<RunPage> {
    if !asked.plain() {
        return Box::pin(searched_flow_runs(ctx, flow_id, asked)).await;
    }
    let (start, take) = (start_after(asked.after.as_deref())?, asked.take);
    let (runs, whole) = flow_recent(ctx, flow_id).await?;
    if whole || runs.len() > start + take {
        return Ok(page_of(runs, start, take));
    }
    let deep = mixer(ctx)?.flow_log(flow_id, DEEP_LOGS).await.gql()?;
    let complete = (deep.len() as u32) < DEEP_LOGS;
    Ok(page_of(runs_of_logs(&deep, complete), start, take))
}

/// A run a search of a flow's log found: its correlation id, or the one entry of a run that
/// has none.
struct Found {
    key: String,
    lone: Option<LogEntry>,
}

/// A page of the runs of a flow that a filter keeps, in the order asked: the runs with a
/// matching step among the newest (or oldest) [`DEEP_LOGS`] matching log entries, each read
/// whole. A cursor is the run's place among those found, so filtering in the gateway (a run
/// that succeeded has no step to search for) keeps cursors valid.
async fn searched_flow_runs(ctx: &Context<'_>, flow_id: &str, asked: RunsAsked) -> Result<RunPage> {
    let l = mixer(ctx)?;
    let marks = l
        .matching_log(flow_id, &search_of(&asked), DEEP_LOGS)
        .await
        .gql()?;
    let found = found_runs(marks);
    let (start, take) = (start_after(asked.after.as_deref())?, asked.take);
    let mut kept: Vec<(usize, Run)> = Vec::new();
    let mut next = start;
    while next < found.len() && kept.len() <= take {
        let want = (take + 1 - kept.len()).max(RUNS_READ_TOGETHER);
        let chunk = &found[next..found.len().min(next + want)];
        let runs = whole_runs(l, flow_id, chunk).await?;
        let places = (next..).zip(runs);
        kept.extend(
            places.filter_map(|(i, run)| run.filter(|r| asked.filter.keeps(r)).map(|r| (i, r))),
        );
        next += chunk.len();
    }
    let has_next = kept.len() > take;
    kept.truncate(take);
    let mut page = Connection::new(start > 0, has_next);
    page.edges
        .extend(kept.into_iter().map(|(i, run)| Edge::new(i, run)));
    Ok(page)
}

/// The log search that finds the runs `asked` wants (times in UTC).
fn search_of(asked: &RunsAsked) -> RunSearch {
    let utc = |d: &Option<DateTime>| {
        d.as_ref()
            .map(|d| DateTime::from_millis(d.millis()).as_str().to_string())
    };
    let f = &asked.filter;
    RunSearch {
        errors_only: f.status == Some(RunStatus::Failed),
        since: utc(&f.since),
        until: utc(&f.until),
        text: f.search.clone(),
        oldest_first: asked.sort == RunSort::OldestFirst,
    }
}

/// The runs the entries a search found belong to, each once, in the order found.
fn found_runs(marks: Vec<LogEntry>) -> Vec<Found> {
    let mut seen = HashSet::new();
    marks
        .into_iter()
        .filter_map(|e| match e.correlation_id.clone() {
            Some(key) => seen
                .insert(key.clone())
                .then_some(Found { key, lone: None }),
            None => Some(Found {
                key: e.id.clone(),
                lone: Some(e),
            }),
        })
        .collect()
}

/// Each run of `chunk` with all its entries (one read for all of them); `None` for a run
/// whose entries are gone.
async fn whole_runs(
    l: &AppmixerLoaders,
    flow_id: &str,
    chunk: &[Found],
) -> Result<Vec<Option<Run>>> {
    let ids: Vec<String> = chunk
        .iter()
        .filter(|c| c.lone.is_none())
        .map(|c| c.key.clone())
        .collect();
    let entries = l.runs_log(flow_id, &ids).await.gql()?;
    let mut whole: HashMap<String, Run> = runs_of_logs(&entries, true)
        .into_iter()
        .map(|r| (r.native_id.clone(), r))
        .collect();
    Ok(chunk
        .iter()
        .map(|c| match &c.lone {
            Some(e) => runs_of_logs(std::slice::from_ref(e), true).pop(),
            None => whole.remove(&c.key),
        })
        .collect())
}

/// A connect's recent runs: its first history page.
pub async fn connect_recent(ctx: &Context<'_>, connect_id: &str) -> Result<Vec<Run>> {
    let first = pie(ctx)?
        .history
        .load_one(connect_id.to_string())
        .await
        .gql()?;
    Ok(first.map_or_else(Vec::new, |p| p.items.iter().map(Run::from).collect()))
}

/// A page of a connect's runs: from the request's read of its first history page when the
/// page lies within it, else page by page from the vendor. Filtered or sorted, the whole history (within [`MAX_HISTORY_PAGES`]) is read and the page
/// made in the gateway (Appy Pie's history has no filters).
pub async fn connect_runs(
    ctx: &Context<'_>,
    connect_id: &str,
    asked: RunsAsked,
) -> Result<RunPage> {
    let (start, take) = (start_after(asked.after.as_deref())?, asked.take);
    if asked.plain() {
        let runs = connect_history(ctx, connect_id, start + take).await?;
        return Ok(page_of(runs, start, take));
    }
    let mut runs = connect_history(ctx, connect_id, usize::MAX).await?;
    runs.retain(|r| asked.filter.keeps_entry(r));
    if asked.sort == RunSort::OldestFirst {
        runs.reverse();
    }
    Ok(page_of(runs, start, take))
}

/// A connect's runs, newest first, read until there are more than `need` of them or the
/// history (within [`MAX_HISTORY_PAGES`]) ends.
async fn connect_history(ctx: &Context<'_>, connect_id: &str, need: usize) -> Result<Vec<Run>> {
    let l = pie(ctx)?;
    let first = l.history.load_one(connect_id.to_string()).await.gql()?;
    let Some(first) = first else {
        return Ok(Vec::new());
    };
    let mut entries = first.items.clone();
    let mut last = first.is_last();
    let mut page = 1;
    while !last && entries.len() <= need && page < MAX_HISTORY_PAGES {
        page += 1;
        let more = l.history_page(connect_id, page, HISTORY_PAGE).await.gql()?;
        last = more.is_last() || more.items.is_empty();
        entries.extend(more.items);
    }
    Ok(entries.iter().map(Run::from).collect())
}

/// A run by its global id, if its automation is the caller's and still holds it.
pub async fn run_node(ctx: &Context<'_>, id: &str) -> Result<Option<Run>> {
    let (g, parent, native) = GlobalId::expect_nested(id, Kind::Run)?;
    let runs = match g.provider {
        Provider::AppyPie => connect_history(ctx, &parent, usize::MAX).await?,
        Provider::Appmixer => {
            let l = mixer(ctx)?;
            let entries = l.run_log(&parent, &native, DEEP_LOGS).await.gql()?;
            runs_of_logs(&entries, true)
        }
    };
    Ok(runs.into_iter().find(|r| r.native_id == native))
}

/// The newest run, or the newest failed one, among an automation's recent runs.
pub fn newest(recent: Vec<Run>, failed: bool) -> Option<Run> {
    recent
        .into_iter()
        .find(|r| !failed || r.status == RunStatus::Failed)
}

/// Input naming one connect.
#[derive(InputObject)]
pub struct ConnectIdInput {
    /// The connect.
    pub id: ID,
}

/// Result of `testConnect`.
#[derive(SimpleObject, Default)]
#[graphql(complex)]
pub struct TestConnectPayload {
    /// Whether the test run succeeded.
    pub success: Option<bool>,
    /// What happened.
    pub message: Option<String>,
    /// The sample the trigger produced.
    pub trigger_sample: Option<Json<serde_json::Value>>,
    /// What the action app answered.
    pub action_response: Option<Json<serde_json::Value>>,
    /// The history entry of this run.
    pub history_id: Option<String>,
    #[graphql(skip)]
    pub connect_id: Option<String>,
    /// What the caller can fix; empty when the write went through.
    pub user_errors: Vec<UserError>,
}

#[ComplexObject]
impl TestConnectPayload {
    /// The connect, read after the run (its history now holds it).
    async fn connect(&self, ctx: &Context<'_>) -> Result<Option<Connect>> {
        match &self.connect_id {
            Some(id) => after_write(fresh_connect(ctx, id)).await,
            None => Ok(None),
        }
    }
}

#[derive(Default)]
pub struct RunsMutation;

/// Runs on demand.
#[Object(guard = "crate::schema::access::Writes")]
impl RunsMutation {
    /// Runs a test of a connect; the run is added to its history.
    async fn test_connect(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the mutation needs.")] input: ConnectIdInput,
    ) -> Result<TestConnectPayload> {
        settle(Box::pin(async {
            let c = id_of(&input.id, Kind::Connect, None, "id")?;
            let r = pie(ctx)?.test_connect(&c.native).await.gql()?;
            Ok(TestConnectPayload {
                success: Some(r.result == pm::RunStatus::Success),
                message: r.message,
                trigger_sample: Some(Json(r.trigger_sample)),
                action_response: r.action_response.map(Json),
                history_id: Some(r.history_id),
                connect_id: Some(c.native),
                user_errors: Vec::new(),
            })
        }))
        .await
    }
}

payloads!(TestConnectPayload,);
