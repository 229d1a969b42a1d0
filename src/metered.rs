//! Metric handles by their labels, made on first use and kept. The `metrics` macros look a
//! handle up in the registry on every use (building the key, hashing each label), which the
//! hot paths paid several times per request and per upstream call. Only label sets drawn from
//! a small closed list (static strings, status codes) belong here, so the map stays small.
//! A handle is bound to the recorder installed when it is made; the server installs its own
//! when it builds its router, before the first request.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

/// A counter of events and the histogram of their durations.
pub type Timed = (metrics::Counter, metrics::Histogram);

/// Handles of one metric (or a few that share their labels), by label values.
pub struct Handles<K, H> {
    made: RwLock<HashMap<K, H>>,
    make: fn(K) -> H,
}

impl<K: Hash + Eq + Copy, H> Handles<K, H> {
    /// `make` registers the handles of one set of label values.
    pub fn new(make: fn(K) -> H) -> Self {
        Handles {
            made: RwLock::default(),
            make,
        }
    }

    /// Runs `f` on the handles of `key`, made now if this is their first use.
    pub fn with<R>(&self, key: K, f: impl FnOnce(&H) -> R) -> R {
        if let Some(h) = self
            .made
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return f(h);
        }
        let mut made = self.made.write().unwrap_or_else(|e| e.into_inner());
        f(made.entry(key).or_insert_with(|| (self.make)(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn handles_are_made_once_per_label_set() {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let handles = Handles::new(|k: (&'static str, u16)| {
            MADE.fetch_add(1, Ordering::SeqCst);
            k.1
        });
        assert_eq!(handles.with(("a", 200), |h| *h), 200);
        assert_eq!(handles.with(("a", 200), |h| *h), 200);
        assert_eq!(handles.with(("a", 404), |h| *h), 404);
        assert_eq!(MADE.load(Ordering::SeqCst), 2);
    }
}
