//! Watching automations for subscriptions. The upstreams push nothing, so flowgate polls: one
//! poller per automation and caller (credential fingerprint), shared by all its subscribers,
//! stopped when the last of them leaves.

use super::appypie::PAGE;
use crate::upstream::appmixer::model::{Flow, LogEntry, LogQuery};
use crate::upstream::appmixer::{AppmixerClient, AppmixerSession};
use crate::upstream::appypie::model::{Connect, HistoryEntry, PageRequest};
use crate::upstream::appypie::{all_pages, AppyPieClient, AppyPieSession};
use crate::upstream::{ErrorKind, Provider, Token, UpstreamError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// Runs looked at per poll: the newest, as both vendors list them.
const RUNS: u32 = 50;

/// An automation, with the caller's session on its vendor.
#[derive(Clone)]
pub enum Target {
    Flow(String, AppmixerSession),
    Connect(String, AppyPieSession),
}

impl Target {
    /// The flow `id`, as the holder of `token` sees it.
    pub fn flow(client: &AppmixerClient, token: Token, id: String) -> Target {
        Target::Flow(id, client.session(token))
    }

    /// The connect `id`, as the holder of `token` sees it.
    pub fn connect(client: &AppyPieClient, token: Token, id: String) -> Target {
        Target::Connect(id, client.session(token))
    }

    fn key(&self) -> (bool, String) {
        match self {
            Target::Flow(id, _) => (true, id.clone()),
            Target::Connect(id, _) => (false, id.clone()),
        }
    }
}

/// What one poll saw: the automation and its newest runs, newest first.
#[derive(Clone)]
pub enum Sighting {
    Flow(Arc<Flow>, Arc<Vec<LogEntry>>),
    Connect(Arc<Connect>, Arc<Vec<HistoryEntry>>),
}

pub type Seen = Arc<Result<Sighting, UpstreamError>>;

/// The pollers running now, and the subscriptions each caller holds.
pub struct Watches {
    interval: Duration,
    max_per_caller: usize,
    pollers: Mutex<HashMap<(u128, bool, String), Weak<Poller>>>,
    per_caller: Arc<Mutex<HashMap<u128, usize>>>,
}

struct Poller {
    seen: watch::Receiver<Option<Seen>>,
    task: tokio::task::AbortHandle,
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.task.abort();
        metrics::gauge!("flowgate_subscription_pollers").decrement(1.0);
    }
}

/// One subscriber's view of a poller; polling stops when the last one is dropped.
pub struct Watch {
    _poller: Arc<Poller>,
    seen: watch::Receiver<Option<Seen>>,
    started: bool,
    _slot: Slot,
}

impl Watch {
    /// The next sighting: at once the first time (once a first poll is done), then each new poll.
    pub async fn next(&mut self) -> Option<Seen> {
        if !self.started {
            self.started = true;
            if let Some(seen) = self.seen.borrow_and_update().clone() {
                return Some(seen);
            }
        }
        loop {
            self.seen.changed().await.ok()?;
            if let Some(seen) = self.seen.borrow_and_update().clone() {
                return Some(seen);
            }
        }
    }
}

/// A subscription slot of one caller (and, over WebSocket, of one connection).
pub struct Slot {
    caller: u128,
    per_caller: Arc<Mutex<HashMap<u128, usize>>>,
    connection: Option<Arc<AtomicUsize>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.per_caller.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.caller);
            }
        }
        if let Some(open) = &self.connection {
            open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The subscriptions one WebSocket connection holds, and how many it may.
#[derive(Clone)]
pub struct ConnectionSlots {
    pub open: Arc<AtomicUsize>,
    pub max: usize,
}

impl Watches {
    pub fn new(interval: Duration, max_per_caller: usize) -> Self {
        Watches {
            interval,
            max_per_caller,
            pollers: Mutex::default(),
            per_caller: Arc::default(),
        }
    }

    /// Pollers running now.
    pub fn pollers(&self) -> usize {
        let pollers = self.pollers.lock().unwrap_or_else(|e| e.into_inner());
        pollers.values().filter(|p| p.strong_count() > 0).count()
    }

    /// A subscription slot, or why the caller may open no more.
    pub fn slot(&self, caller: u128, connection: Option<&ConnectionSlots>) -> Result<Slot, String> {
        if let Some(c) = connection {
            let taken = c
                .open
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < c.max).then_some(n + 1)
                });
            if taken.is_err() {
                return Err(format!(
                    "a connection holds at most {} subscriptions",
                    c.max
                ));
            }
        }
        let slot = Slot {
            caller,
            per_caller: self.per_caller.clone(),
            connection: connection.map(|c| c.open.clone()),
        };
        let mut counts = self.per_caller.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(caller).or_default();
        *n += 1;
        if *n > self.max_per_caller {
            drop(counts);
            return Err(format!(
                "a caller holds at most {} subscriptions",
                self.max_per_caller
            ));
        }
        Ok(slot)
    }

    /// Watches `target` for `caller`, joining the poller already running for both.
    pub fn watch(&self, caller: u128, target: Target, slot: Slot) -> Watch {
        let (flow, id) = target.key();
        let key = (caller, flow, id);
        let mut pollers = self.pollers.lock().unwrap_or_else(|e| e.into_inner());
        pollers.retain(|_, p| p.strong_count() > 0);
        let poller = match pollers.get(&key).and_then(Weak::upgrade) {
            Some(poller) => poller,
            None => {
                let (tx, seen) = watch::channel(None);
                let task = tokio::spawn(poll(target, self.interval, tx)).abort_handle();
                let poller = Arc::new(Poller { seen, task });
                metrics::gauge!("flowgate_subscription_pollers").increment(1.0);
                pollers.insert(key, Arc::downgrade(&poller));
                poller
            }
        };
        Watch {
            seen: poller.seen.clone(),
            started: false,
            _poller: poller,
            _slot: slot,
        }
    }
}

async fn poll(target: Target, interval: Duration, tx: watch::Sender<Option<Seen>>) {
    loop {
        let seen = look(&target).await;
        if tx.send(Some(Arc::new(seen))).is_err() {
            return;
        }
        tokio::time::sleep(interval).await;
    }
}

async fn look(target: &Target) -> Result<Sighting, UpstreamError> {
    match target {
        Target::Flow(id, s) => {
            let query = LogQuery {
                flow_ids: vec![id.clone()],
                size: Some(RUNS),
                ..LogQuery::default()
            };
            let (flow, logs) = tokio::try_join!(s.flow(id), s.logs(&query))?;
            Ok(Sighting::Flow(Arc::new(flow), Arc::new(logs.hits)))
        }
        Target::Connect(id, s) => {
            let (connects, history) = tokio::try_join!(
                all_pages(PAGE, |p| s.connects(None, p)),
                s.connect_history(id, PageRequest::new(1, RUNS)),
            )?;
            let connect = connects.into_iter().find(|c| &c.id == id).ok_or_else(|| {
                UpstreamError::new(Provider::AppyPie, ErrorKind::NotFound, "GET /connect/list")
            })?;
            Ok(Sighting::Connect(connect, Arc::new(history.items)))
        }
    }
}
