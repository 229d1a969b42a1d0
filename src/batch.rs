//! One piece of work awaited by many, run in the waiters' own tasks: a loader's batch (awaited by every
//! key it answers), a read in flight (by every caller that joined it). `Shared` wakes every
//! waiter whenever its future makes progress, so a fan-out of 50 calls awaited by 50 keys polls
//! 50 resolver chains on each of its 50 replies. Here the work wakes only the waiter that last
//! polled it (the one driving it); the others wake once, when it ends. When the last waiter
//! goes, the work is dropped.

use futures_util::future::BoxFuture;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

pub struct Batch<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    /// The fetch; `None` while a waiter polls it, and once it has ended.
    fetch: Option<BoxFuture<'static, T>>,
    done: Option<T>,
    /// Each waiter's waker, by its index.
    wakers: Vec<Option<Waker>>,
    /// The waiter whose waker the fetch holds.
    driver: Option<usize>,
    /// The fetch panicked while polled.
    poisoned: bool,
}

impl<T: Clone> Batch<T> {
    pub fn new(fetch: BoxFuture<'static, T>) -> Arc<Self> {
        Arc::new(Batch {
            state: Mutex::new(State {
                fetch: Some(fetch),
                done: None,
                wakers: Vec::new(),
                driver: None,
                poisoned: false,
            }),
        })
    }

    /// A future of the batch's outcome, for one key.
    pub fn wait(self: &Arc<Self>) -> Wait<T> {
        let mut state = self.lock();
        state.wakers.push(None);
        Wait {
            batch: self.clone(),
            id: state.wakers.len() - 1,
        }
    }
}

impl<T> Batch<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wakes every waiter but `except`, after letting go of the lock.
fn wake_others<T>(mut state: MutexGuard<'_, State<T>>, except: usize) {
    let wakers = state.wakers.iter_mut().enumerate();
    let others = wakers.filter(|(id, _)| *id != except);
    let others: Vec<Waker> = others.filter_map(|(_, w)| w.take()).collect();
    drop(state);
    others.into_iter().for_each(Waker::wake);
}

pub struct Wait<T: Clone> {
    batch: Arc<Batch<T>>,
    id: usize,
}

impl<T: Clone> Future for Wait<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let id = self.id;
        let mut state = self.batch.lock();
        if let Some(done) = &state.done {
            return Poll::Ready(done.clone());
        }
        assert!(!state.poisoned, "a batch's fetch panicked");
        let slot = &mut state.wakers[id];
        if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *slot = Some(cx.waker().clone());
        }
        let Some(mut fetch) = state.fetch.take() else {
            return Poll::Pending;
        };
        drop(state);
        let guard = Poisoned(&self.batch);
        let polled = fetch.as_mut().poll(cx);
        std::mem::forget(guard);
        let mut state = self.batch.lock();
        let Poll::Ready(out) = polled else {
            state.fetch = Some(fetch);
            state.driver = Some(id);
            return Poll::Pending;
        };
        state.done = Some(out.clone());
        wake_others(state, id);
        Poll::Ready(out)
    }
}

impl<T: Clone> Drop for Wait<T> {
    fn drop(&mut self) {
        let mut state = self.batch.lock();
        state.wakers[self.id] = None;
        if state.driver != Some(self.id) || state.done.is_some() {
            return;
        }
        state.driver = None;
        wake_others(state, self.id);
    }
}

/// Marks the batch poisoned and wakes its waiters if the fetch panics while polled.
struct Poisoned<'a, T>(&'a Batch<T>);

impl<T> Drop for Poisoned<'_, T> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.poisoned = true;
        wake_others(state, usize::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn every_waiter_gets_the_outcome_and_the_fetch_runs_once() {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let batch = Batch::new(
            async move {
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
                r.fetch_add(1, Ordering::SeqCst) + 7
            }
            .boxed(),
        );
        let waits: Vec<_> = (0..4).map(|_| batch.wait()).collect();
        let outs = futures_util::future::join_all(waits).await;
        assert_eq!(outs, vec![7; 4]);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_dropped_driver_hands_the_fetch_on() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
        let batch = Batch::new(async move { rx.await.unwrap_or(0) }.boxed());
        let mut driver = batch.wait();
        let other = tokio::spawn(batch.wait());
        tokio::task::yield_now().await;
        assert!(futures_util::poll!(&mut driver).is_pending());
        drop(driver);
        tx.send(3).unwrap();
        let out = tokio::time::timeout(std::time::Duration::from_secs(5), other).await;
        assert_eq!(out.expect("the other waiter drives the fetch").unwrap(), 3);
    }
}
