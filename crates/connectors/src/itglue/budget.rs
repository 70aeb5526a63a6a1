//! The local request budget that keeps mspbridge under IT Glue's account-wide throttle.
//!
//! IT Glue allows 3,000 requests per 5 minutes per account and answers 429 beyond that; importing a
//! large account easily gets there. Every clone of a client shares one [`BudgetTracker`], a sliding
//! window log: a request may start only when fewer than `max_requests` started within the last
//! `window`, otherwise it waits until the oldest one leaves the window. A 429 additionally holds the
//! whole budget until the server's delay has passed, so clones stop hammering too. Time comes from
//! `tokio::time`, so tests drive it with `tokio::time::pause`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How many requests may start within a rolling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBudget {
    pub max_requests: u32,
    pub window: Duration,
}

impl RequestBudget {
    /// IT Glue's published limit is 3,000 requests per 5 minutes; the default stays 100 below it.
    pub const DEFAULT_MAX_REQUESTS: u32 = 2_900;
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

    /// Every problem with this budget, as sentences.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_requests == 0 {
            problems.push("the IT Glue request budget must allow at least one request".to_string());
        }
        if self.window.is_zero() {
            problems.push("the IT Glue request budget window must be longer than zero".to_string());
        }
        problems
    }
}

impl Default for RequestBudget {
    fn default() -> Self {
        RequestBudget {
            max_requests: Self::DEFAULT_MAX_REQUESTS,
            window: Self::DEFAULT_WINDOW,
        }
    }
}

#[derive(Debug)]
struct WindowState {
    started: VecDeque<Instant>,
    held_until: Option<Instant>,
    /// Requests started since the tracker was made (for metrics).
    total_started: u64,
    /// 429 answers since the tracker was made (for metrics).
    total_rate_limited: u64,
}

impl WindowState {
    fn forget_expired(&mut self, now: Instant, window: Duration) {
        while let Some(first) = self.started.front() {
            if *first + window <= now {
                self.started.pop_front();
            } else {
                break;
            }
        }
        if self.held_until.is_some_and(|until| until <= now) {
            self.held_until = None;
        }
    }
}

/// The shared, live state of a [`RequestBudget`]. Cloning shares the state.
#[derive(Debug, Clone)]
pub struct BudgetTracker {
    budget: RequestBudget,
    state: Arc<Mutex<WindowState>>,
}

impl BudgetTracker {
    pub fn new(budget: RequestBudget) -> Self {
        BudgetTracker {
            budget,
            state: Arc::new(Mutex::new(WindowState {
                started: VecDeque::new(),
                held_until: None,
                total_started: 0,
                total_rate_limited: 0,
            })),
        }
    }

    /// The configured budget.
    pub fn budget(&self) -> RequestBudget {
        self.budget
    }

    /// Waits until one more request may start, then counts it.
    pub async fn acquire(&self) {
        loop {
            let wake_at = {
                let mut state = self.lock();
                let now = Instant::now();
                state.forget_expired(now, self.budget.window);
                match state.held_until {
                    Some(until) => until,
                    None if state.started.len() < self.budget.max_requests as usize => {
                        state.started.push_back(now);
                        state.total_started += 1;
                        return;
                    }
                    None => {
                        let oldest = *state
                            .started
                            .front()
                            .expect("a full window holds at least one request");
                        oldest + self.budget.window
                    }
                }
            };
            tokio::time::sleep_until(wake_at).await;
        }
    }

    /// Stops every holder of this budget from starting requests for `delay` (the server said 429).
    pub fn hold_for(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut state = self.lock();
        state.total_rate_limited += 1;
        if state.held_until.is_none_or(|current| current < until) {
            state.held_until = Some(until);
        }
    }

    /// Requests started within the current window.
    pub fn used(&self) -> u32 {
        let mut state = self.lock();
        state.forget_expired(Instant::now(), self.budget.window);
        u32::try_from(state.started.len()).unwrap_or(u32::MAX)
    }

    /// Requests that may still start right now without waiting (0 while a 429 hold is active).
    pub fn remaining(&self) -> u32 {
        let mut state = self.lock();
        state.forget_expired(Instant::now(), self.budget.window);
        if state.held_until.is_some() {
            return 0;
        }
        let used = u32::try_from(state.started.len()).unwrap_or(u32::MAX);
        self.budget.max_requests.saturating_sub(used)
    }

    /// Requests started and 429 answers received since the tracker was made.
    pub fn totals(&self) -> (u64, u64) {
        let state = self.lock();
        (state.total_started, state.total_rate_limited)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WindowState> {
        // The state stays consistent even if a holder panicked mid-update (each update is one push
        // or pop), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(max_requests: u32, window_secs: u64) -> BudgetTracker {
        BudgetTracker::new(RequestBudget {
            max_requests,
            window: Duration::from_secs(window_secs),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn requests_within_budget_start_immediately() {
        let budget = tracker(3, 300);
        let start = Instant::now();
        for _ in 0..3 {
            budget.acquire().await;
        }
        assert_eq!(Instant::now(), start);
        assert_eq!(budget.used(), 3);
        assert_eq!(budget.remaining(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn exhausted_budget_waits_for_the_oldest_request_to_leave_the_window() {
        let budget = tracker(2, 300);
        let start = Instant::now();
        budget.acquire().await;
        tokio::time::advance(Duration::from_secs(100)).await;
        budget.acquire().await;
        budget.acquire().await;
        // The first request left the window at t=300; the third waited exactly until then.
        assert_eq!(Instant::now() - start, Duration::from_secs(300));
        assert_eq!(budget.used(), 2);
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(budget.used(), 1, "the t=100 request has expired");
        assert_eq!(budget.remaining(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_one_budget() {
        let first = tracker(2, 60);
        let second = first.clone();
        first.acquire().await;
        second.acquire().await;
        assert_eq!(first.used(), 2);
        assert_eq!(second.remaining(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_blocks_every_clone_until_it_passes() {
        let budget = tracker(100, 60);
        let start = Instant::now();
        budget.clone().hold_for(Duration::from_secs(30));
        assert_eq!(budget.remaining(), 0);
        budget.acquire().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(30));
        assert_eq!(budget.remaining(), 99);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_hold_does_not_shorten_a_longer_one() {
        let budget = tracker(10, 60);
        let start = Instant::now();
        budget.hold_for(Duration::from_secs(20));
        budget.hold_for(Duration::from_secs(5));
        budget.acquire().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(20));
    }

    #[test]
    fn default_budget_stays_below_the_published_limit() {
        let budget = RequestBudget::default();
        assert!(budget.max_requests < 3000);
        assert_eq!(budget.window, Duration::from_secs(300));
        assert!(budget.validate().is_empty());
        let empty = RequestBudget {
            max_requests: 0,
            window: Duration::ZERO,
        };
        assert_eq!(empty.validate().len(), 2);
    }
}
