//! Appmixer look-ups: the app catalogue, accounts and flows are fetched whole once per request;
//! components per app; logs for many flows in one call (repeated `flowId`).

mod accounts;
mod flows;

pub use accounts::AccountDraft;
pub use flows::{FlowChange, FlowPermission, FlowSearch, FlowSort, RunSearch};

use super::{once, per_key, Load};
use crate::upstream::appmixer::model::*;
use crate::upstream::appmixer::AppmixerSession;
use crate::upstream::{endless_list, Provider, UpstreamError, MAX_PAGES};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Flows fetched per page when listing them all.
const FLOW_PAGE: u32 = 100;
/// Log entries asked for per flow in a batched logs call.
pub const LOGS_PER_FLOW: u32 = 50;

pub struct AppmixerLoaders {
    session: AppmixerSession,
    pub user: Load<User>,
    pub apps: Load<Arc<BTreeMap<String, Arc<AppInfo>>>>,
    pub components_by_app: Load<Arc<Vec<ComponentManifest>>>,
    pub accounts: Load<Arc<Vec<Arc<Account>>>>,
    pub flows: Load<Arc<Vec<Arc<Flow>>>>,
    pub account_flows: Load<Arc<Vec<UsedFlow>>>,
    pub logs: Load<Arc<Vec<LogEntry>>>,
    pub stop_status: Load<StopStatus>,
    /// One flow, whole (thumbnail included).
    pub flow: Load<Arc<Flow>>,
    pub component_accounts: Load<ComponentAuth, ComponentKey>,
}

/// A component placed in a flow: its type and its instance id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ComponentKey {
    pub component_type: String,
    pub component_id: String,
}

/// Every flow of the caller, a page at a time, bounded like every list walk: a page must not
/// repeat the one before, and the walk ends within [`MAX_PAGES`] pages.
async fn all_flows(s: AppmixerSession) -> Result<Arc<Vec<Arc<Flow>>>, UpstreamError> {
    let stop = |why| endless_list(Provider::Appmixer, "GET /flows", why);
    let mut flows: Vec<Arc<Flow>> = Vec::new();
    for _ in 0..MAX_PAGES {
        let q = FlowQuery {
            offset: Some(flows.len() as u32),
            limit: Some(FLOW_PAGE),
            projection: Some("-thumbnail".into()),
            ..FlowQuery::default()
        };
        let page = s.flows(&q).await?;
        let last = (page.len() as u32) < FLOW_PAGE;
        let previous_first = flows
            .len()
            .checked_sub(FLOW_PAGE as usize)
            .map(|i| &flows[i].flow_id);
        if !last && previous_first == page.first().map(|f| &f.flow_id) {
            return Err(stop("the same page came back twice"));
        }
        flows.extend(page.into_iter().map(Arc::new));
        if last {
            return Ok(Arc::new(flows));
        }
    }
    Err(stop("more pages than the gateway reads"))
}

/// The newest [`LOGS_PER_FLOW`] log entries of each flow, newest first. One call asks for
/// all the flows at once; when that answer is full, a busy flow may have crowded out the
/// others, so each flow left with fewer entries than its share is asked for on its own.
fn logs_loader(session: AppmixerSession) -> Load<Arc<Vec<LogEntry>>> {
    let f: super::BatchFn<Arc<Vec<LogEntry>>, String> = Box::new(move |flow_ids| {
        let s = session.clone();
        Box::pin(async move {
            let size = LOGS_PER_FLOW
                .saturating_mul(flow_ids.len() as u32)
                .min(10_000);
            let logs = s.logs(&newest(flow_ids.clone(), size)).await?;
            let full = logs.hits.len() as u32 >= size;
            let mut by_flow: HashMap<String, Vec<LogEntry>> =
                flow_ids.iter().map(|id| (id.clone(), Vec::new())).collect();
            for hit in logs.hits {
                if let Some(list) = hit.flow_id.clone().and_then(|id| by_flow.get_mut(&id)) {
                    list.push(hit);
                }
            }
            for (id, list) in by_flow.iter_mut() {
                if full && flow_ids.len() > 1 && (list.len() as u32) < LOGS_PER_FLOW {
                    *list = s.logs(&newest(vec![id.clone()], LOGS_PER_FLOW)).await?.hits;
                }
                list.truncate(LOGS_PER_FLOW as usize);
            }
            Ok(by_flow.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
        })
    });
    Load::batched(f)
}

/// The newest `size` log entries of `flow_ids`.
fn newest(flow_ids: Vec<String>, size: u32) -> LogQuery {
    LogQuery {
        flow_ids,
        size: Some(size),
        sort: Some("@timestamp:desc".into()),
        ..LogQuery::default()
    }
}

impl AppmixerLoaders {
    pub fn new(session: AppmixerSession) -> Self {
        let s = session.clone();
        AppmixerLoaders {
            user: once(s.clone(), |s: AppmixerSession| async move {
                s.current_user().await
            }),
            apps: once(s.clone(), |s: AppmixerSession| async move {
                let apps = s.apps(false).await?;
                Ok(Arc::new(
                    apps.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
                ))
            }),
            components_by_app: per_key(s.clone(), |s: AppmixerSession, app: String| async move {
                Ok(Arc::new(s.app_components(&app).await?))
            }),
            accounts: once(s.clone(), |s: AppmixerSession| async move {
                s.accounts(&[]).await
            }),
            flows: once(s.clone(), all_flows),
            account_flows: per_key(s.clone(), |s: AppmixerSession, id: String| async move {
                s.account_flows(&id).await
            }),
            logs: logs_loader(s.clone()),
            flow: per_key(s.clone(), |s: AppmixerSession, id: String| async move {
                Ok(Arc::new(s.flow(&id).await?))
            }),
            stop_status: per_key(s.clone(), |s: AppmixerSession, id: String| async move {
                s.stop_status(&id).await
            }),
            component_accounts: per_key(s, |s: AppmixerSession, key: ComponentKey| async move {
                s.component_accounts(&key.component_type, &key.component_id)
                    .await
            }),
            session,
        }
    }
}
