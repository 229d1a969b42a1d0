//! Subscriptions: an automation's state and its new runs. The upstreams push nothing, so both
//! come from polling (`loaders::watch`): subscribers of one automation with the same credentials
//! share one poller.

use crate::error::{upstream, Code};
use crate::loaders::model::ErrorKind;
use crate::loaders::watch::{ConnectionSlots, Seen, Sighting, Watch, Watches};
use crate::schema::access::{authenticated, Authenticated};
use crate::schema::automations::AutomationStatus;
use crate::schema::node::{GlobalId, Kind};
use crate::schema::runs::{runs_of_logs, Run};
use crate::schema::{data, watch_target, Automation, Connect, Flow, Provider};
use async_graphql::{Context, Result, Subscription as GqlSubscription, ID};
use futures_util::stream::{self, Stream};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

pub struct Subscription;

/// Live updates of automations, polled from the vendors at the gateway's interval.
#[GqlSubscription]
impl Subscription {
    /// The automation (a flow or a connect) now, then again each time its state changes
    /// (on/off, running/stopped).
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn automation_state(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of a flow or a connect.")] id: ID,
    ) -> Result<impl Stream<Item = Result<Automation>>> {
        let (watch, first) = open(ctx, &id).await?;
        let mut last = None;
        Ok(events(watch, first, move |seen| {
            let (automation, state) = automation_of(seen);
            (last.replace(state) != Some(state))
                .then_some(automation)
                .into_iter()
                .collect()
        }))
    }

    /// Each new run of the automation (a flow or a connect), oldest first, as polls find it.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn automation_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of a flow or a connect.")] id: ID,
    ) -> Result<impl Stream<Item = Result<Run>>> {
        let (watch, first) = open(ctx, &id).await?;
        let mut known: Option<HashSet<String>> = None;
        Ok(events(watch, first, move |seen| {
            let runs = runs_of(seen);
            let Some(known) = known.as_mut() else {
                known = Some(runs.into_iter().map(|r| r.id.0).collect());
                return Vec::new();
            };
            let mut new: Vec<Run> = runs
                .into_iter()
                .filter(|r| known.insert(r.id.0.clone()))
                .collect();
            new.reverse();
            new
        }))
    }
}

/// Starts watching the automation `id` for the caller; its first sighting, or why not.
async fn open(ctx: &Context<'_>, id: &ID) -> Result<(Watch, Sighting)> {
    let g = GlobalId::decode(id)?;
    let target = match (g.kind, g.provider) {
        (Kind::Flow, Provider::Appmixer) | (Kind::Connect, Provider::AppyPie) => {
            watch_target(ctx, g.provider, g.native)?
        }
        _ => return Err(Code::BadUserInput.error("expected the id of a flow or a connect")),
    };
    let caller = data(ctx)?.caller;
    let watches = ctx.data::<Arc<Watches>>()?;
    let slot = watches
        .slot(caller, ctx.data_opt::<ConnectionSlots>())
        .map_err(|why| Code::QueryLimitExceeded.error(why))?;
    let mut watch = watches.watch(caller, target, slot);
    let first = watch
        .next()
        .await
        .ok_or_else(|| Code::Internal.error("internal error"))?;
    match &*first {
        Ok(sighting) => Ok((watch, sighting.clone())),
        Err(e) => Err(upstream(e)),
    }
}

/// The events `step` makes of each sighting. A failed poll that may pass (timeouts, 5xx) is
/// skipped; one that will not (the automation gone, the credential refused) ends the stream
/// with its error.
fn events<T: Send + 'static>(
    watch: Watch,
    first: Sighting,
    step: impl FnMut(&Sighting) -> Vec<T> + Send + 'static,
) -> impl Stream<Item = Result<T>> {
    struct Events<T, F> {
        watch: Option<Watch>,
        queue: VecDeque<Result<T>>,
        step: F,
    }
    let mut start = Events {
        watch: Some(watch),
        queue: VecDeque::new(),
        step,
    };
    let first = (start.step)(&first);
    start.queue.extend(first.into_iter().map(Ok));
    stream::unfold(start, |mut s| async move {
        loop {
            if let Some(item) = s.queue.pop_front() {
                return Some((item, s));
            }
            let seen: Seen = s.watch.as_mut()?.next().await?;
            match &*seen {
                Ok(sighting) => {
                    let items = (s.step)(sighting);
                    s.queue.extend(items.into_iter().map(Ok));
                }
                Err(e) if passes(e.kind) => {
                    tracing::debug!(error = %e, "a subscription poll failed; polling on");
                }
                Err(e) => {
                    s.watch = None;
                    s.queue.push_back(Err(upstream(e)));
                }
            }
        }
    })
}

fn passes(kind: ErrorKind) -> bool {
    !matches!(
        kind,
        ErrorKind::Unauthorized
            | ErrorKind::Forbidden
            | ErrorKind::NotFound
            | ErrorKind::BadRequest
    )
}

fn automation_of(seen: &Sighting) -> (Automation, AutomationStatus) {
    match seen {
        Sighting::Flow(flow, _) => {
            let running = flow.stage == Some(crate::loaders::model::appmixer::Stage::Running);
            (Automation::Flow(Flow(flow.clone())), state(running))
        }
        Sighting::Connect(connect, _) => {
            let on = connect.status == crate::loaders::model::appypie::ConnectStatus::On;
            (Automation::Connect(Connect(connect.clone())), state(on))
        }
    }
}

fn state(running: bool) -> AutomationStatus {
    if running {
        AutomationStatus::Running
    } else {
        AutomationStatus::Stopped
    }
}

/// The runs a sighting holds, newest first.
fn runs_of(seen: &Sighting) -> Vec<Run> {
    match seen {
        Sighting::Flow(_, logs) => runs_of_logs(logs, true),
        Sighting::Connect(_, history) => history.iter().map(Run::from).collect(),
    }
}
