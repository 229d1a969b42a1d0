//! Runs of automations, both vendors alike: an Appy Pie connect's history entries, and an
//! Appmixer flow's log entries grouped into runs (the entries of one message through the flow
//! share a correlation id; the run failed when any of them is an error).

use crate::error::Gql;
use crate::loaders::model::appmixer::LogEntry;
use crate::loaders::model::appypie as pm;
use crate::loaders::model::appypie::{HistoryEntry, RunStatus as PieStatus};
use crate::schema::automations::fresh_connect;
use crate::schema::node::id_of;
use crate::schema::payload::{after_write, payloads, settle, UserError};
use crate::schema::relay::start_after;
use crate::schema::{mixer, pie, Connect, DateTime, GlobalId, Kind, Provider};
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::Enum;
use async_graphql::{ComplexObject, Context, InputObject, Json, Object, Result, SimpleObject, ID};

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

/// A page of runs.
pub type RunPage = Connection<usize, Run, EmptyFields, EmptyFields>;

/// Log entries read for one flow when paging past what the batched read holds.
const DEEP_LOGS: u32 = 1000;
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
/// read of its own.
pub async fn flow_runs(
    ctx: &Context<'_>,
    flow_id: &str,
    take: usize,
    after: Option<&str>,
) -> Result<RunPage> {
    let start = start_after(after)?;
    let (runs, whole) = flow_recent(ctx, flow_id).await?;
    if whole || runs.len() > start + take {
        return Ok(page_of(runs, start, take));
    }
    let deep = mixer(ctx)?.flow_log(flow_id, DEEP_LOGS).await.gql()?;
    let complete = (deep.len() as u32) < DEEP_LOGS;
    Ok(page_of(runs_of_logs(&deep, complete), start, take))
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
/// page lies within it, else page by page from the vendor.
pub async fn connect_runs(
    ctx: &Context<'_>,
    connect_id: &str,
    take: usize,
    after: Option<&str>,
) -> Result<RunPage> {
    let start = start_after(after)?;
    let runs = connect_history(ctx, connect_id, start + take).await?;
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
#[Object]
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
