//! Work in flight shared by key: the first caller starts it as its own task, later callers with
//! the same key join it, and the entry goes when the work ends. A caller that gives up does not
//! cancel the work for the others. Nothing outlives the work itself.

use futures_util::future::{BoxFuture, FutureExt, Shared};
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

/// Work in flight; it resolves to `None` if the work panicked.
pub type Flight<T> = Shared<BoxFuture<'static, Option<T>>>;

type Flights<T> = Arc<Mutex<HashMap<u128, Flight<T>, BuildHasherDefault<Folded>>>>;

/// Keys are keyed 128-bit fingerprints already, so the map folds them instead of hashing
/// them again.
#[derive(Default)]
struct Folded(u64);

impl Hasher for Folded {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 ^= (key as u64) ^ ((key >> 64) as u64);
    }
}

/// Work in flight, by key.
#[derive(Debug)]
pub struct InFlight<T: Clone> {
    flights: Flights<T>,
}

impl<T: Clone> Default for InFlight<T> {
    fn default() -> Self {
        InFlight {
            flights: Arc::default(),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> InFlight<T> {
    /// The result of the work under `key`: the one already in flight, or the work `start` makes,
    /// started now (a caller that joins never builds its own). `None` if the work panicked. The
    /// boolean says whether this caller joined another's work.
    pub async fn join<F>(&self, key: u128, start: impl FnOnce() -> F) -> (Option<T>, bool)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let (flight, joined) = {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            match flights.get(&key) {
                Some(f) => (f.clone(), true),
                None => {
                    let flight = self.start(key, start());
                    flights.insert(key, flight.clone());
                    (flight, false)
                }
            }
        };
        (flight.await, joined)
    }

    /// The work in flight under `key`, to wait for, if there is any.
    pub fn running(&self, key: u128) -> Option<Flight<T>> {
        let flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        flights.get(&key).cloned()
    }

    /// How many keys have work in flight.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.flights.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn start<F>(&self, key: u128, work: F) -> Flight<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let leave = Leave {
            flights: self.flights.clone(),
            key,
        };
        let task = tokio::spawn(async move {
            let _leave = leave;
            work.await
        });
        task.map(Result::ok).boxed().shared()
    }
}

/// Removes a key's entry when its work ends, however it ends.
struct Leave<T: Clone> {
    flights: Flights<T>,
    key: u128,
}

impl<T: Clone> Drop for Leave<T> {
    fn drop(&mut self) {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        flights.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn same_key_runs_once_and_nothing_is_left() {
        let runs = Arc::new(AtomicUsize::new(0));
        let shared = InFlight::<usize>::default();
        let work = |runs: Arc<AtomicUsize>| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            runs.fetch_add(1, Ordering::SeqCst) + 7
        };
        let (a, b, c) = tokio::join!(
            shared.join(1, || work(runs.clone())),
            shared.join(1, || work(runs.clone())),
            shared.join(2, || work(runs.clone())),
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2, "key 1 once, key 2 once");
        assert_eq!(a.0, b.0);
        assert!(!a.1 && b.1 && !c.1);
        assert!(shared.is_empty());
    }

    #[tokio::test]
    async fn a_panic_is_none_and_leaves_no_entry() {
        let shared = InFlight::<u8>::default();
        let (out, _) = shared.join(1, || async { panic!("boom") }).await;
        assert_eq!(out, None);
        tokio::task::yield_now().await;
        assert!(shared.is_empty());
    }
}
