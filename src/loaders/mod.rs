//! Per-request DataLoaders: each look-up batches the keys of one tick, dedupes them, and takes the
//! cheapest route the upstream contract offers (contract §1.8 and §2.8).

mod appmixer;
mod appypie;

pub use appmixer::AppmixerLoaders;
pub use appypie::AppyPieLoaders;

use crate::upstream::{ErrorKind, UpstreamError};
use async_graphql::dataloader::{DataLoader, Loader};
use futures_util::future::BoxFuture;
use futures_util::{stream, StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

pub(crate) type BatchFn<V> = Box<
    dyn Fn(Vec<String>) -> BoxFuture<'static, Result<HashMap<String, V>, UpstreamError>>
        + Send
        + Sync,
>;

/// A loader made of one batch function over string keys.
pub struct Batch<V>(BatchFn<V>);

impl<V: Clone + Send + Sync + 'static> Loader<String> for Batch<V> {
    type Value = V;
    type Error = UpstreamError;

    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, V>, UpstreamError>> + Send {
        (self.0)(keys.to_vec())
    }
}

/// The one result of one key in one request.
type Slot<V> = Arc<OnceCell<Result<Option<V>, UpstreamError>>>;

/// A per-request DataLoader over string keys. Keys asked for in one tick are batched; a key
/// already asked for in this request (even still in flight) is never fetched again.
pub struct Load<V: Clone + Send + Sync + 'static> {
    loader: DataLoader<Batch<V>>,
    results: Mutex<HashMap<String, Slot<V>>>,
}

impl<V: Clone + Send + Sync + 'static> Load<V> {
    pub(crate) fn new(f: BatchFn<V>) -> Self {
        Load {
            loader: DataLoader::new(Batch(f), tokio::spawn),
            results: Mutex::default(),
        }
    }

    pub async fn load_one(&self, key: String) -> Result<Option<V>, UpstreamError> {
        let cell = {
            let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
            results.entry(key.clone()).or_default().clone()
        };
        cell.get_or_init(|| self.loader.load_one(key)).await.clone()
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
const FAN_OUT: usize = 8;

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
    Load::new(f)
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
