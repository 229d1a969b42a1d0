//! Work in flight shared by key: the first caller starts it, later callers with the same key
//! join it, and the entry goes when the work ends. A caller that gives up does not cancel the
//! work for the others. Nothing outlives the work itself.
//!
//! [`InFlight`] runs the work as its own task, which goes on when every caller has given up
//! (later callers may still join it); [`Driven`] runs it in its callers' tasks, with no task of
//! its own to start and switch to, and drops it when the last caller gives up, unless it was
//! started as a task (then it goes on, as in `InFlight`, but later callers start afresh).

use crate::batch::{Batch, Wait};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Work in flight; it resolves to `None` if the work panicked.
pub type Flight<T> = Shared<BoxFuture<'static, Option<T>>>;

/// Entries by key, each with the number of the work it holds (a finished work removes only its
/// own entry).
type Flights<H> = Arc<Mutex<HashMap<u128, (u64, H), BuildHasherDefault<Folded>>>>;

fn lock<H>(
    flights: &Flights<H>,
) -> MutexGuard<'_, HashMap<u128, (u64, H), BuildHasherDefault<Folded>>> {
    flights.lock().unwrap_or_else(|e| e.into_inner())
}

/// Numbers the works of all maps.
static NEXT: AtomicU64 = AtomicU64::new(0);

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

/// Work in flight, by key, each run as its own task.
#[derive(Debug)]
pub struct InFlight<T: Clone> {
    flights: Flights<Flight<T>>,
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
            let mut flights = lock(&self.flights);
            match flights.get(&key) {
                Some((_, f)) => (f.clone(), true),
                None => {
                    let id = NEXT.fetch_add(1, Ordering::Relaxed);
                    let flight = self.start(key, id, start());
                    flights.insert(key, (id, flight.clone()));
                    (flight, false)
                }
            }
        };
        (flight.await, joined)
    }

    /// The work in flight under `key`, to wait for, if there is any.
    pub fn running(&self, key: u128) -> Option<Flight<T>> {
        lock(&self.flights).get(&key).map(|(_, f)| f.clone())
    }

    /// How many keys have work in flight.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        lock(&self.flights).len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn start<F>(&self, key: u128, id: u64, work: F) -> Flight<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let leave = Leave {
            flights: self.flights.clone(),
            key,
            id,
        };
        let task = tokio::spawn(async move {
            let _leave = leave;
            work.await
        });
        task.map(Result::ok).boxed().shared()
    }
}

/// Work in flight, by key, each run in the tasks of its callers: the one that last polled it
/// drives it.
pub struct Driven<T: Clone> {
    flights: Flights<Weak<Batch<Option<T>>>>,
}

impl<T: Clone> Default for Driven<T> {
    fn default() -> Self {
        Driven {
            flights: Arc::default(),
        }
    }
}

impl<T: Clone> std::fmt::Debug for Driven<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Driven")
    }
}

impl<T: Clone + Send + 'static> Driven<T> {
    /// As [`InFlight::join`]; new work runs as a task of its own if `spawn` says so.
    pub async fn join<F>(
        &self,
        key: u128,
        spawn: bool,
        start: impl FnOnce() -> F,
    ) -> (Option<T>, bool)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let (wait, joined) = self.wait(key, spawn, start);
        (wait.await, joined)
    }

    /// A wait for the work under `key`, the one in flight or the one `start` makes now.
    fn wait<F>(&self, key: u128, spawn: bool, start: impl FnOnce() -> F) -> (Wait<Option<T>>, bool)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let mut flights = lock(&self.flights);
        if let Some(work) = flights.get(&key).and_then(|(_, w)| w.upgrade()) {
            return (work.wait(), true);
        }
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let leave = Leave {
            flights: self.flights.clone(),
            key,
            id,
        };
        let work = AssertUnwindSafe(start()).catch_unwind();
        let work = async move {
            let _leave = leave;
            work.await.ok()
        };
        let work = Batch::new(match spawn {
            true => tokio::spawn(work).map(|r| r.ok().flatten()).boxed(),
            false => work.boxed(),
        });
        flights.insert(key, (id, Arc::downgrade(&work)));
        (work.wait(), false)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        lock(&self.flights).len()
    }
}

/// Removes a key's entry when its work ends, however it ends, unless a later work holds it.
struct Leave<H> {
    flights: Flights<H>,
    key: u128,
    id: u64,
}

impl<H> Drop for Leave<H> {
    fn drop(&mut self) {
        let mut flights = lock(&self.flights);
        if flights.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            flights.remove(&self.key);
        }
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

    #[tokio::test]
    async fn driven_work_runs_once_per_key_and_nothing_is_left() {
        let runs = Arc::new(AtomicUsize::new(0));
        let shared = Driven::<usize>::default();
        let work = |runs: Arc<AtomicUsize>| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            runs.fetch_add(1, Ordering::SeqCst) + 7
        };
        let (a, b, c) = tokio::join!(
            shared.join(1, false, || work(runs.clone())),
            shared.join(1, false, || work(runs.clone())),
            shared.join(2, true, || work(runs.clone())),
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2, "key 1 once, key 2 once");
        assert_eq!(a.0, b.0);
        assert_eq!(c.0, Some(8), "work started as a task");
        assert!(!a.1 && b.1 && !c.1);
        assert_eq!(shared.len(), 0);
    }

    #[tokio::test]
    async fn driven_work_goes_on_for_the_callers_left_and_stops_with_the_last() {
        let shared = Arc::new(Driven::<u8>::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
        let ended = Arc::new(AtomicUsize::new(0));
        let counted = ended.clone();
        let mut first = Box::pin(shared.join(1, false, move || async move {
            let out = rx.await.unwrap_or(0);
            counted.fetch_add(1, Ordering::SeqCst);
            out
        }));
        assert!(futures_util::poll!(&mut first).is_pending());
        let other = tokio::spawn({
            let shared = shared.clone();
            async move { shared.join(1, false, || async { 9 }).await }
        });
        tokio::task::yield_now().await;
        drop(first);
        tx.send(3).unwrap();
        let (out, joined) = other.await.unwrap();
        assert_eq!(
            (out, joined),
            (Some(3), true),
            "the one left drives the work"
        );
        assert_eq!(ended.load(Ordering::SeqCst), 1);
        assert_eq!(shared.len(), 0);

        // Once every caller has given up, the work is dropped and its entry goes.
        let (_keep, never) = tokio::sync::oneshot::channel::<u8>();
        let mut alone =
            Box::pin(shared.join(2, false, move || async move { never.await.unwrap_or(0) }));
        assert!(futures_util::poll!(&mut alone).is_pending());
        assert_eq!(shared.len(), 1);
        drop(alone);
        assert_eq!(shared.len(), 0);
    }

    #[tokio::test]
    async fn a_driven_panic_is_none_and_leaves_no_entry() {
        let shared = Driven::<u8>::default();
        let (out, joined) = shared.join(1, false, || async { panic!("boom") }).await;
        assert_eq!((out, joined), (None, false));
        assert_eq!(shared.len(), 0);
        let (out, _) = shared.join(1, true, || async { 4 }).await;
        assert_eq!(out, Some(4), "the key starts afresh");
    }

    #[test]
    fn a_finished_work_leaves_a_later_entry_alone() {
        let flights: Flights<()> = Arc::default();
        lock(&flights).insert(5, (2, ()));
        drop(Leave {
            flights: flights.clone(),
            key: 5,
            id: 1,
        });
        assert_eq!(
            lock(&flights).len(),
            1,
            "work 1 does not remove work 2's entry"
        );
        drop(Leave {
            flights: flights.clone(),
            key: 5,
            id: 2,
        });
        assert!(lock(&flights).is_empty());
    }
}
