//! Per-request DataLoaders: each look-up batches the keys of one tick, dedupes them, and takes the
//! cheapest route the upstream contract offers (contract §1.8 and §2.8).

mod appmixer;
mod appypie;
pub mod tick;
pub mod watch;

pub use appmixer::{newest as newest_logs, AppmixerLoaders, LOGS_PER_FLOW};
pub use appypie::AppyPieLoaders;

use crate::upstream::{in_batch, ErrorKind, UpstreamError};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use futures_util::{stream, StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

pub(crate) type BatchFn<V> = Box<
    dyn Fn(Vec<String>) -> BoxFuture<'static, Result<HashMap<String, V>, UpstreamError>>
        + Send
        + Sync,
>;

type Found<V> = Result<Arc<HashMap<String, V>>, UpstreamError>;
type BatchRun<V> = Shared<BoxFuture<'static, Found<V>>>;

/// The batch still taking keys: `keys` is `None` once its fetch has started.
struct Open<V> {
    keys: Arc<Mutex<Option<Vec<String>>>>,
    run: BatchRun<V>,
}

struct State<V> {
    /// The batch that answers each key asked for in this request.
    slots: HashMap<String, BatchRun<V>>,
    open: Option<Open<V>>,
}

/// A per-request loader over string keys. Keys asked for in one tick (see [`tick`]) make one
/// batch; a key already asked for in this request (even still in flight) is never fetched again.
pub struct Load<V: Clone + Send + Sync + 'static> {
    fetch: Arc<BatchFn<V>>,
    state: Mutex<State<V>>,
    /// One upstream call answers a whole batch (rather than one call a key).
    batched: bool,
}

impl<V: Clone + Send + Sync + 'static> Load<V> {
    pub(crate) fn new(f: BatchFn<V>) -> Self {
        Load {
            fetch: Arc::new(f),
            state: Mutex::new(State {
                slots: HashMap::new(),
                open: None,
            }),
            batched: false,
        }
    }

    /// A loader whose every batch is one upstream call (its trace says `batch`).
    pub(crate) fn batched(f: BatchFn<V>) -> Self {
        Load {
            batched: true,
            ..Load::new(f)
        }
    }

    pub async fn load_one(&self, key: String) -> Result<Option<V>, UpstreamError> {
        let run = self.batch_for(&key);
        Ok(run.await?.get(&key).cloned())
    }

    /// The batch that answers `key`: its earlier one, the open one, or a new one.
    fn batch_for(&self, key: &str) -> BatchRun<V> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(run) = state.slots.get(key) {
            return run.clone();
        }
        let joined = state.open.as_ref().and_then(|open| {
            let mut keys = open.keys.lock().unwrap_or_else(|e| e.into_inner());
            let keys = keys.as_mut()?;
            keys.push(key.to_string());
            Some(open.run.clone())
        });
        let run = joined.unwrap_or_else(|| {
            let open = self.open_batch(key);
            let run = open.run.clone();
            state.open = Some(open);
            run
        });
        state.slots.insert(key.to_string(), run.clone());
        run
    }

    fn open_batch(&self, first: &str) -> Open<V> {
        let keys = Arc::new(Mutex::new(Some(vec![first.to_string()])));
        let (taken, fetch, gate) = (keys.clone(), self.fetch.clone(), tick::Gate::queue());
        let batched = self.batched;
        let run = async move {
            gate.await;
            let keys = taken.lock().unwrap_or_else(|e| e.into_inner()).take();
            let keys = keys.unwrap_or_default();
            metrics::histogram!("flowgate_loader_batch_size").record(keys.len() as f64);
            let size = if batched { keys.len() } else { 1 };
            in_batch(size, fetch(keys)).await.map(Arc::new)
        };
        Open {
            keys,
            run: run.boxed().shared(),
        }
    }

    pub async fn load_many(&self, keys: Vec<String>) -> Result<HashMap<String, V>, UpstreamError> {
        let found =
            futures_util::future::join_all(keys.iter().map(|k| self.load_one(k.clone()))).await;
        let mut out = HashMap::new();
        for (key, value) in keys.into_iter().zip(found) {
            if let Some(v) = value? {
                out.insert(key, v);
            }
        }
        Ok(out)
    }
}

/// Upstream calls a fan-out loader makes at once for one batch.
const FAN_OUT: usize = 64;

/// A loader that fetches a whole list once per batch and indexes it.
pub fn whole_list<S, V, F, Fut>(session: S, fetch: F) -> Load<V>
where
    S: Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HashMap<String, V>, UpstreamError>> + Send + 'static,
{
    let fetch = Arc::new(fetch);
    let f: BatchFn<V> = Box::new(move |keys| {
        let (session, fetch) = (session.clone(), fetch.clone());
        Box::pin(async move {
            let mut all = fetch(session).await?;
            all.retain(|k, _| keys.contains(k));
            Ok(all)
        })
    });
    Load::batched(f)
}

/// A loader that calls the upstream once per distinct key, a few at a time; a 404 means absent.
pub fn per_key<S, V, F, Fut>(session: S, fetch: F) -> Load<V>
where
    S: Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    F: Fn(S, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<V, UpstreamError>> + Send + 'static,
{
    let fetch = Arc::new(fetch);
    let f: BatchFn<V> = Box::new(move |keys| {
        let (session, fetch) = (session.clone(), fetch.clone());
        Box::pin(async move {
            let found: Vec<Option<(String, V)>> = stream::iter(keys)
                .map(|key| {
                    let (session, fetch) = (session.clone(), fetch.clone());
                    async move {
                        match fetch(session, key.clone()).await {
                            Ok(v) => Ok(Some((key, v))),
                            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
                            Err(e) => Err(e),
                        }
                    }
                })
                .buffer_unordered(FAN_OUT)
                .try_collect()
                .await?;
            Ok(found.into_iter().flatten().collect())
        })
    });
    Load::new(f)
}

/// The key of loaders that hold one value per request (a whole list, the viewer).
pub const ALL: &str = "all";

/// A loader for one value per request, fetched at most once.
pub fn once<S, V, F, Fut>(session: S, fetch: F) -> Load<V>
where
    S: Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<V, UpstreamError>> + Send + 'static,
{
    let fetch = Arc::new(fetch);
    whole_list(session, move |s| {
        let fetch = fetch.clone();
        async move { Ok(HashMap::from([(ALL.to_string(), fetch(s).await?)])) }
    })
}

/// Loads the single value of a [`once`] loader.
pub async fn load_once<V: Clone + Send + Sync + 'static>(
    loader: &Load<V>,
) -> Result<V, UpstreamError> {
    let value = loader.load_one(ALL.to_string()).await?;
    value.ok_or_else(|| {
        UpstreamError::new(
            crate::upstream::Provider::Appmixer,
            ErrorKind::InvalidResponse,
            "once",
        )
    })
}
