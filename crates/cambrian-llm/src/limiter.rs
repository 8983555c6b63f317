//! Adaptive concurrency per endpoint: additive increase, multiplicative decrease.
//!
//! Each endpoint starts at the configured maximum of requests in flight. A
//! 429 or 503 halves the limit (at most once per `decrease_window`, so one
//! burst of rejections counts once) and pauses new requests until the
//! server's `Retry-After` has passed; every success adds `1/limit`, so the
//! limit grows back by about one per round of requests, never above the
//! maximum.

use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
    paused_until: Option<Instant>,
    last_decrease: Option<Instant>,
    decreases: u64,
}

/// An AIMD concurrency limiter. Share it (e.g. in an `Arc`) between all
/// tasks talking to one endpoint.
#[derive(Debug)]
pub struct AimdLimiter {
    state: Mutex<State>,
    notify: Notify,
    max: usize,
    decrease_window: Duration,
}

/// A slot for one request in flight; released on drop.
#[derive(Debug)]
pub struct Permit<'a> {
    limiter: &'a AimdLimiter,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.limiter.state.lock() {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        self.limiter.notify.notify_waiters();
    }
}

impl AimdLimiter {
    /// `max` requests in flight at most (at least 1).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        AimdLimiter {
            state: Mutex::new(State {
                limit: max as f64,
                in_flight: 0,
                paused_until: None,
                last_decrease: None,
                decreases: 0,
            }),
            notify: Notify::new(),
            max,
            decrease_window: Duration::from_millis(200),
        }
    }

    /// Treat back-pressure signals closer together than `window` as one event.
    pub fn with_decrease_window(mut self, window: Duration) -> Self {
        self.decrease_window = window;
        self
    }

    /// Wait for a free slot (and for any back-off pause to end).
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pause = {
                let mut s = match self.state.lock() {
                    Ok(s) => s,
                    Err(p) => p.into_inner(),
                };
                let now = Instant::now();
                match s.paused_until {
                    Some(t) if t > now => Some(t - now),
                    _ => {
                        if s.in_flight < s.limit.floor().max(1.0) as usize {
                            s.in_flight += 1;
                            return Permit { limiter: self };
                        }
                        None
                    }
                }
            };
            match pause {
                Some(d) => tokio::time::sleep(d).await,
                None => notified.await,
            }
        }
    }

    /// A request succeeded: grow the limit by `1/limit`.
    pub fn on_success(&self) {
        let grew = {
            let Ok(mut s) = self.state.lock() else { return };
            let before = s.limit.floor();
            s.limit = (s.limit + 1.0 / s.limit).min(self.max as f64);
            s.limit.floor() > before
        };
        if grew {
            self.notify.notify_waiters();
        }
    }

    /// The server pushed back (429/503): halve the limit and pause for `pause`.
    pub fn on_backpressure(&self, pause: Duration) {
        let Ok(mut s) = self.state.lock() else { return };
        let now = Instant::now();
        let recent = s
            .last_decrease
            .is_some_and(|t| now.duration_since(t) < self.decrease_window);
        if !recent {
            s.limit = (s.limit / 2.0).max(1.0);
            s.last_decrease = Some(now);
            s.decreases += 1;
        }
        let until = now + pause;
        if s.paused_until.is_none_or(|t| t < until) {
            s.paused_until = Some(until);
        }
    }

    /// The current limit (whole requests).
    pub fn limit(&self) -> usize {
        self.state
            .lock()
            .map(|s| s.limit.floor() as usize)
            .unwrap_or(1)
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.state.lock().map(|s| s.in_flight).unwrap_or(0)
    }

    /// How many times the limit was halved.
    pub fn decreases(&self) -> u64 {
        self.state.lock().map(|s| s.decreases).unwrap_or(0)
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn never_more_than_limit_in_flight() {
        let lim = Arc::new(AimdLimiter::new(3));
        let peak = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (lim, peak, now) = (lim.clone(), peak.clone(), now.clone());
            tasks.push(tokio::spawn(async move {
                let _p = lim.acquire().await;
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::task::yield_now().await;
                now.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(lim.in_flight(), 0);
    }

    #[test]
    fn halves_once_per_burst_and_grows_back() {
        // A one-hour window makes "same burst" independent of timing.
        let lim = AimdLimiter::new(32).with_decrease_window(Duration::from_secs(3600));
        lim.on_backpressure(Duration::ZERO);
        lim.on_backpressure(Duration::ZERO); // same burst: ignored
        assert_eq!(lim.limit(), 16);
        assert_eq!(lim.decreases(), 1);
        // ~16 successes add ~1 to the limit.
        for _ in 0..17 {
            lim.on_success();
        }
        assert_eq!(lim.limit(), 17);
        for _ in 0..10_000 {
            lim.on_success();
        }
        assert_eq!(lim.limit(), 32);
    }
}
