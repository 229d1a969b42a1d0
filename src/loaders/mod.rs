//! Per-request DataLoaders: each look-up batches the keys of one tick, dedupes them, and takes the
//! cheapest route the upstream contract offers (contract §1.8 and §2.8).

mod appmixer;
mod appypie;
mod sign_in;
pub mod tick;
pub mod watch;

pub use appmixer::{
    AccountDraft, AppmixerLoaders, ComponentKey, FlowChange, FlowPermission, FlowSearch, FlowSort,
    RunSearch, LOGS_PER_FLOW,
};
pub use appypie::{AppyPieLoaders, ConnectDraft};
pub use sign_in::SignIns;

/// What the look-ups answer with: the vendors' own models, and the few shared words.
pub mod model {
    pub use crate::upstream::appmixer::model as appmixer;
    pub use crate::upstream::appypie::model as appypie;
    pub use crate::upstream::{ErrorKind, Provider, Token};
}
pub use crate::upstream::appmixer::AppmixerClient;
pub use crate::upstream::appypie::AppyPieClient;

use crate::batch::Batch;
use crate::upstream::{in_batch, ErrorKind, UpstreamError};
use futures_util::future::{BoxFuture, FutureExt};
use futures_util::{stream, StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// What a loader's keys must be: plain values, compared and hashed.
pub trait Key: Clone + Eq + std::hash::Hash + Send + Sync + 'static {}
impl<K: Clone + Eq + std::hash::Hash + Send + Sync + 'static> Key for K {}

pub(crate) type BatchFn<V, K> =
    Box<dyn Fn(Vec<K>) -> BoxFuture<'static, Result<HashMap<K, V>, UpstreamError>> + Send + Sync>;

type Found<V, K> = Result<Arc<HashMap<K, V>>, UpstreamError>;
type BatchRun<V, K> = Arc<Batch<Found<V, K>>>;

/// The batch still taking keys: `keys` is `None` once its fetch has started.
struct Open<V, K> {
    keys: Arc<Mutex<Option<Vec<K>>>>,
    run: BatchRun<V, K>,
}

struct State<V, K> {
    /// The batch that answers each key asked for in this request.
    slots: HashMap<K, BatchRun<V, K>>,
    open: Option<Open<V, K>>,
}

/// A per-request loader (keys are vendor ids unless said otherwise). Keys asked for in one tick
/// (see [`tick`]) make one batch; a key already asked for in this request (even still in
/// flight) is never fetched again.
pub struct Load<V: Clone + Send + Sync + 'static, K: Key = String> {
    fetch: Arc<BatchFn<V, K>>,
    state: Mutex<State<V, K>>,
    /// One upstream call answers a whole batch (rather than one call a key).
    batched: bool,
}

impl<V: Clone + Send + Sync + 'static, K: Key> Load<V, K> {
    pub(crate) fn new(f: BatchFn<V, K>) -> Self {
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
    pub(crate) fn batched(f: BatchFn<V, K>) -> Self {
        Load {
            batched: true,
            ..Load::new(f)
        }
    }

    pub async fn load_one(&self, key: K) -> Result<Option<V>, UpstreamError> {
        let run = self.batch_for(&key).wait();
        Ok(run.await?.get(&key).cloned())
    }

    /// The batch that answers `key`: its earlier one, the open one, or a new one.
    fn batch_for(&self, key: &K) -> BatchRun<V, K> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(run) = state.slots.get(key) {
            return run.clone();
        }
        let joined = state.open.as_ref().and_then(|open| {
            let mut keys = open.keys.lock().unwrap_or_else(|e| e.into_inner());
            let keys = keys.as_mut()?;
            keys.push(key.clone());
            Some(open.run.clone())
        });
        let run = joined.unwrap_or_else(|| {
            let open = self.open_batch(key);
            let run = open.run.clone();
            state.open = Some(open);
            run
        });
        state.slots.insert(key.clone(), run.clone());
        run
    }

    fn open_batch(&self, first: &K) -> Open<V, K> {
        let keys = Arc::new(Mutex::new(Some(vec![first.clone()])));
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
            run: Batch::new(run.boxed()),
        }
    }

    pub async fn load_many(&self, keys: Vec<K>) -> Result<HashMap<K, V>, UpstreamError> {
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
    let f: BatchFn<V, String> = Box::new(move |keys| {
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
pub fn per_key<S, V, K, F, Fut>(session: S, fetch: F) -> Load<V, K>
where
    S: Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    K: Key,
    F: Fn(S, K) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<V, UpstreamError>> + Send + 'static,
{
    let fetch = Arc::new(fetch);
    let f: BatchFn<V, K> = Box::new(move |keys| {
        let (session, fetch) = (session.clone(), fetch.clone());
        Box::pin(async move {
            let found: Vec<Option<(K, V)>> = stream::iter(keys)
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
