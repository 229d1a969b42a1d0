//! Identical concurrent queries of one caller share one execution and its answer.
//!
//! Under load a new shared execution may also wait a moment (the window) before it starts, so
//! that the identical queries arriving meanwhile join it instead of running again: each query
//! then costs less, for the window's worth of latency. It waits only while all three hold:
//! - identical queries are the common case: at least half of the recent shared queries joined
//!   one in flight (with queries that rarely repeat, the wait would buy nothing);
//! - another shared execution is running (the cores have work meanwhile; an idle gateway never
//!   waits);
//! - recent executions ran for at least twice the window: a short execution costs little to
//!   run again, and waiting would cost its queries more than it saves.

use super::http::Answer;
use crate::inflight::{Flight, InFlight};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Moving share, in 1/1024ths, of recent shared queries that joined an execution in flight;
/// each query moves it by 1/32 of the way.
const FULL: u32 = 1024;
const STEP: u32 = 32;

pub struct Coalescing {
    executions: InFlight<Answer>,
    window: Duration,
    joined: AtomicU32,
    /// What the executions themselves update while they run.
    runs: Arc<Runs>,
}

#[derive(Default)]
struct Runs {
    /// Shared executions running now.
    running: AtomicUsize,
    /// Moving mean of how long recent shared executions ran, in microseconds.
    micros: AtomicU32,
}

impl Coalescing {
    /// Coalescing whose executions wait up to `window` for company (zero: never).
    pub fn new(window: Duration) -> Self {
        Coalescing {
            executions: InFlight::default(),
            window,
            joined: AtomicU32::new(0),
            runs: Arc::default(),
        }
    }

    /// The identical execution in flight under `key`, to join, if there is one.
    pub fn running(&self, key: u128) -> Option<Flight<Answer>> {
        let flight = self.executions.running(key)?;
        self.note(true);
        Some(flight)
    }

    /// The answer of the execution under `key`: one in flight, or the one `start` makes.
    /// `None` if it panicked.
    pub async fn join<F>(&self, key: u128, start: impl FnOnce() -> F) -> Option<Answer>
    where
        F: std::future::Future<Output = Answer> + Send + 'static,
    {
        let wait = self.wait();
        let runs = self.runs.clone();
        let start = move || {
            let work = start();
            async move {
                let _running = Running::enter(runs.clone());
                if let Some(wait) = wait {
                    metrics::counter!("flowgate_coalesce_waits_total").increment(1);
                    tokio::time::sleep(wait).await;
                }
                let started = std::time::Instant::now();
                let answer = work.await;
                let took = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
                let _ = runs
                    .micros
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |mean| {
                        Some(mean - mean / 8 + took / 8)
                    });
                answer
            }
        };
        let (answer, joined) = self.executions.join(key, start).await;
        self.note(joined);
        answer
    }

    /// How long a shared execution starting now waits for company, if at all.
    fn wait(&self) -> Option<Duration> {
        let repeating = self.joined.load(Ordering::Relaxed) >= FULL / 2;
        let busy = self.runs.running.load(Ordering::Relaxed) > 0;
        let run = Duration::from_micros(self.runs.micros.load(Ordering::Relaxed).into());
        let long = run >= 2 * self.window;
        (repeating && busy && long && !self.window.is_zero()).then_some(self.window)
    }

    fn note(&self, joined: bool) {
        let step = |share: u32| Some(share - share / STEP + if joined { STEP } else { 0 });
        let _ = self
            .joined
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, step);
    }
}

/// Counts a shared execution as running while it lives.
struct Running(Arc<Runs>);

impl Running {
    fn enter(runs: Arc<Runs>) -> Running {
        runs.running.fetch_add(1, Ordering::Relaxed);
        Running(runs)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_of_joins_moves_towards_what_queries_do() {
        let c = Coalescing::new(Duration::from_millis(2));
        for _ in 0..200 {
            c.note(true);
        }
        let high = c.joined.load(Ordering::Relaxed);
        assert!((FULL - 40..=FULL).contains(&high), "{high}");
        for _ in 0..200 {
            c.note(false);
        }
        assert!(c.joined.load(Ordering::Relaxed) < 40);
    }

    #[test]
    fn it_waits_only_when_queries_repeat_others_run_and_executions_are_long() {
        let c = Coalescing::new(Duration::from_millis(2));
        assert_eq!(c.wait(), None, "idle, nothing repeats");
        for _ in 0..200 {
            c.note(true);
        }
        assert_eq!(c.wait(), None, "idle");
        let _one = Running::enter(c.runs.clone());
        assert_eq!(c.wait(), None, "executions have been short");
        c.runs.micros.store(4_000, Ordering::Relaxed);
        assert_eq!(c.wait(), Some(Duration::from_millis(2)));
        for _ in 0..200 {
            c.note(false);
        }
        assert_eq!(c.wait(), None, "busy, but nothing repeats");
        let off = Coalescing::new(Duration::ZERO);
        for _ in 0..200 {
            off.note(true);
        }
        let _two = Running::enter(off.runs.clone());
        off.runs.micros.store(4_000, Ordering::Relaxed);
        assert_eq!(off.wait(), None, "no window");
    }
}
