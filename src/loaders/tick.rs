//! The end of a tick, for batching without a timer. A request's execution runs inside
//! [`drive`]; loaders open batches that wait at a [`Gate`]. Whenever the execution can make no
//! progress on its own (every resolver waits on I/O or on a batch, and nothing woke it during
//! the poll), the driver opens every waiting gate, so each batch holds exactly the keys asked
//! for in that tick. No spawned task, no delay, the same batches on every run.

use futures_util::task::{waker_ref, ArcWake, AtomicWaker};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Batches of one request that still take keys.
#[derive(Default)]
pub struct Ticks {
    waiting: Mutex<Vec<Arc<GateState>>>,
}

tokio::task_local! {
    static TICKS: Arc<Ticks>;
}

#[derive(Default)]
struct GateState {
    open: AtomicBool,
    waker: AtomicWaker,
}

/// Where a batch waits for the end of its tick.
pub struct Gate(Arc<GateState>);

impl Gate {
    /// A gate of the running request, or an open one outside [`drive`].
    pub fn queue() -> Gate {
        let state = Arc::new(GateState::default());
        let queued = TICKS.try_with(|t| {
            let mut waiting = t.waiting.lock().unwrap_or_else(|e| e.into_inner());
            waiting.push(state.clone());
        });
        if queued.is_err() {
            state.open.store(true, Ordering::Release);
        }
        Gate(state)
    }
}

impl Future for Gate {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.open.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.0.waker.register(cx.waker());
        if self.0.open.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Ticks {
    /// Opens every waiting gate; false if there was none.
    fn end_tick(&self) -> bool {
        let waiting = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()));
        for gate in &waiting {
            gate.open.store(true, Ordering::Release);
            gate.waker.wake();
        }
        !waiting.is_empty()
    }
}

/// Forwards wakes to the task and remembers that one happened.
#[derive(Default)]
struct Woken {
    flag: AtomicBool,
    task: AtomicWaker,
}

impl ArcWake for Woken {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.flag.store(true, Ordering::Release);
        arc_self.task.wake();
    }
}

/// Runs `work` (one request's execution), ending a tick each time it stalls.
pub async fn drive<F: Future>(work: F) -> F::Output {
    let ticks = Arc::new(Ticks::default());
    TICKS.scope(ticks.clone(), Driven::new(work, ticks)).await
}

struct Driven<F> {
    work: Pin<Box<F>>,
    ticks: Arc<Ticks>,
    woken: Arc<Woken>,
}

impl<F: Future> Driven<F> {
    fn new(work: F, ticks: Arc<Ticks>) -> Self {
        Driven {
            work: Box::pin(work),
            ticks,
            woken: Arc::default(),
        }
    }
}

impl<F: Future> Future for Driven<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.woken.task.register(cx.waker());
        loop {
            self.woken.flag.store(false, Ordering::Release);
            let woken = self.woken.clone();
            let waker = waker_ref(&woken);
            if let Poll::Ready(out) = self.work.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(out);
            }
            if self.woken.flag.load(Ordering::Acquire) || !self.ticks.end_tick() {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn a_gate_opens_when_the_work_stalls() {
        let opened = Arc::new(AtomicUsize::new(0));
        let o = opened.clone();
        drive(async move {
            let gates: Vec<_> = (0..3).map(|_| Gate::queue()).collect();
            futures_util::future::join_all(gates).await;
            o.fetch_add(1, Ordering::SeqCst);
        })
        .await;
        assert_eq!(opened.load(Ordering::SeqCst), 1);
        Gate::queue().await;
    }
}
