//! Bearers' reports on their way to the engine, and the supervision that runs each
//! bearer and restarts it when it fails.
//!
//! Reports wait in one FIFO for every bearer (the engine sees them in the order they
//! were made), merged per network while they wait: a network that changes a
//! thousand times before the driver looks is one report. A bearer can have at most
//! [`MAX_WAITING_PER_BEARER`] reports waiting; beyond that (it reports more networks
//! than a bearer may have) its reports of new networks are refused with a logged
//! error.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::FutureExt;
use netcore::engine::{BearerId, MAX_NETWORKS_PER_BEARER};
use netcore::{Bearer, BearerEvent, ReportSink};
use tokio::sync::Notify;

use crate::queue::{Coalescing, Merge, Pushed};

/// The most reports of one bearer that may wait: every network it may have, gone
/// and back.
pub const MAX_WAITING_PER_BEARER: usize = 2 * MAX_NETWORKS_PER_BEARER + 1;

/// How long a bearer that failed (its peer is gone or not there yet) waits before it
/// runs again, at first and at most: a returning peer is followed within a second.
const RETRY_BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(1));
/// The same for a bearer that panicked: a bug, retried ever more slowly.
const PANIC_BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(60));

/// What a report is about: a network of one run (generation) of a bearer, or the end
/// of that run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ReportKey {
    Network(BearerId, u64, String),
    Ended(BearerId, u64),
}

/// A report from a bearer's run.
#[derive(Debug)]
pub(crate) enum Report {
    /// A network appeared, changed or went.
    Event(Box<BearerEvent>),
    /// The run ended (failed, panicked or stopped): its networks are gone.
    Ended,
}

#[derive(Default)]
struct Waiting {
    queue: Coalescing<ReportKey, Report>,
    per_bearer: HashMap<BearerId, usize>,
    /// Each bearer's last run that ended: later reports of it are stale.
    ended: HashMap<BearerId, u64>,
}

/// The reports of every bearer, waiting for the driver.
pub(crate) struct ReportQueue {
    waiting: Mutex<Waiting>,
    /// Wakes the driver.
    wake: Arc<Notify>,
}

/// How a report meets a waiting one of the same network.
fn merge(waiting: &Report, new: Report) -> Merge<Report> {
    use BearerEvent::{Appeared, Changed, Gone};
    let (Report::Event(waiting), Report::Event(new)) = (waiting, new) else {
        // A run's end has a key of its own: it never meets another report.
        return Merge::Append(Report::Ended);
    };
    let merged = match (&**waiting, *new) {
        // The engine never saw it: nothing happened.
        (Appeared { .. }, Gone { .. }) => return Merge::Cancel,
        (Appeared { .. }, Appeared { key, info } | Changed { key, info }) => Appeared { key, info },
        (Changed { .. } | Gone { .. }, Gone { key }) => Gone { key },
        (Changed { .. }, new) => new,
        // Gone, then back: a new network for the engine.
        (_, new) => return Merge::Append(Report::Event(Box::new(new))),
    };
    Merge::InPlace(Report::Event(Box::new(merged)))
}

impl ReportQueue {
    pub(crate) fn new(wake: Arc<Notify>) -> Self {
        Self {
            waiting: Mutex::default(),
            wake,
        }
    }

    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a report of run `generation` of `bearer`; false when refused.
    pub(crate) fn push(&self, bearer: BearerId, generation: u64, event: BearerEvent) -> bool {
        let key = match &event {
            BearerEvent::Appeared { key, .. }
            | BearerEvent::Changed { key, .. }
            | BearerEvent::Gone { key } => key.clone(),
            _ => String::new(),
        };
        let key = ReportKey::Network(bearer, generation, key);
        let mut waiting = self.waiting();
        if waiting.ended.get(&bearer) >= Some(&generation) {
            return false;
        }
        let count = waiting.per_bearer.get(&bearer).copied().unwrap_or(0);
        if count >= MAX_WAITING_PER_BEARER && !waiting.queue.contains(&key) {
            drop(waiting);
            tracing::error!(
                bearer = bearer.0,
                "refused a bearer report: {count} of its reports wait already, more than a \
                 bearer of at most {MAX_NETWORKS_PER_BEARER} networks can have"
            );
            return false;
        }
        let pushed = waiting
            .queue
            .push(key, Report::Event(Box::new(event)), merge);
        let count = waiting.per_bearer.entry(bearer).or_default();
        match pushed {
            Pushed::Added => *count += 1,
            Pushed::Merged => {}
            Pushed::Cancelled => *count = count.saturating_sub(1),
        }
        drop(waiting);
        self.wake.notify_one();
        true
    }

    /// Queues the end of run `generation` of `bearer`.
    fn push_ended(&self, bearer: BearerId, generation: u64) {
        let key = ReportKey::Ended(bearer, generation);
        let mut waiting = self.waiting();
        waiting
            .queue
            .push(key, Report::Ended, |_, new| Merge::Append(new));
        *waiting.per_bearer.entry(bearer).or_default() += 1;
        waiting.ended.insert(bearer, generation);
        drop(waiting);
        self.wake.notify_one();
    }

    /// The oldest report: its bearer, run and content.
    pub(crate) fn pop(&self) -> Option<(BearerId, u64, Report)> {
        let mut waiting = self.waiting();
        let (key, report) = waiting.queue.pop()?;
        let (ReportKey::Network(bearer, generation, _) | ReportKey::Ended(bearer, generation)) =
            key;
        if let Some(count) = waiting.per_bearer.get_mut(&bearer) {
            *count = count.saturating_sub(1);
        }
        Some((bearer, generation, report))
    }
}

/// Runs `bearer` (known to the engine as `id`), restarting it when it fails (within
/// [`RETRY_BACKOFF`]: a peer that returns is followed within a second) or panics
/// (within [`PANIC_BACKOFF`]). Each run reports through a sink of its own, and its
/// end is reported so that the engine forgets its networks. A failure is logged at
/// info level once (a peer that is not installed, such as ModemManager on a device
/// without a modem, is a normal state), the same failure again only at debug level;
/// a panic is an error.
pub(crate) async fn supervise(id: BearerId, bearer: Arc<dyn Bearer>, reports: Arc<ReportQueue>) {
    let mut retry = RETRY_BACKOFF.0;
    let mut after_panic = PANIC_BACKOFF.0;
    let mut last_failure = String::new();
    for generation in 1.. {
        let queue = Arc::clone(&reports);
        let sink = ReportSink::new(move |event| {
            queue.push(id, generation, event);
        });
        let started = Instant::now();
        let outcome = AssertUnwindSafe(bearer.run(sink)).catch_unwind().await;
        reports.push_ended(id, generation);
        match outcome {
            Ok(Ok(())) => {
                tracing::info!(bearer = bearer.name(), "bearer stopped");
                return;
            }
            Ok(Err(e)) => {
                let failure = e.to_string();
                if failure == last_failure {
                    tracing::debug!(bearer = bearer.name(), "bearer failed again: {failure}");
                } else {
                    tracing::info!(bearer = bearer.name(), "bearer failed: {failure}");
                    last_failure = failure;
                }
                if started.elapsed() > RETRY_BACKOFF.1 {
                    retry = RETRY_BACKOFF.0;
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_BACKOFF.1);
            }
            Err(_) => {
                tracing::error!(bearer = bearer.name(), "bearer panicked");
                if started.elapsed() > PANIC_BACKOFF.1 {
                    after_panic = PANIC_BACKOFF.0;
                }
                tokio::time::sleep(after_panic).await;
                after_panic = (after_panic * 2).min(PANIC_BACKOFF.1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use netcore::{NetBearType, NetworkInfo};

    use super::*;

    fn appeared(key: &str, quality: u8) -> BearerEvent {
        BearerEvent::Appeared {
            key: key.into(),
            info: NetworkInfo::new(NetBearType::Wifi, key).with_quality(quality),
        }
    }

    fn changed(key: &str, quality: u8) -> BearerEvent {
        BearerEvent::Changed {
            key: key.into(),
            info: NetworkInfo::new(NetBearType::Wifi, key).with_quality(quality),
        }
    }

    fn gone(key: &str) -> BearerEvent {
        BearerEvent::Gone { key: key.into() }
    }

    fn drain(queue: &ReportQueue) -> Vec<String> {
        std::iter::from_fn(|| queue.pop())
            .map(|(bearer, generation, report)| {
                let what = match report {
                    Report::Event(event) => match *event {
                        BearerEvent::Appeared { key, info } => {
                            format!("appeared {key} {:?}", info.quality)
                        }
                        BearerEvent::Changed { key, info } => {
                            format!("changed {key} {:?}", info.quality)
                        }
                        BearerEvent::Gone { key } => format!("gone {key}"),
                        other => format!("{other:?}"),
                    },
                    Report::Ended => "ended".to_owned(),
                };
                format!("{}.{generation} {what}", bearer.0)
            })
            .collect()
    }

    #[test]
    fn reports_of_one_network_merge_while_they_wait() {
        let queue = ReportQueue::new(Arc::new(Notify::new()));
        let (a, b) = (BearerId(0), BearerId(1));
        queue.push(a, 1, appeared("wlan0", 1));
        queue.push(b, 1, changed("eth0", 1));
        for quality in 2..1000 {
            queue.push(a, 1, changed("wlan0", (quality % 100) as u8));
        }
        queue.push(b, 1, gone("eth0"));
        queue.push(a, 1, appeared("wlan1", 1));
        queue.push(a, 1, gone("wlan1"));
        assert_eq!(
            drain(&queue),
            vec!["0.1 appeared wlan0 Some(99)", "1.1 gone eth0"]
        );
        // Gone then back is two reports; a new run's reports never merge with the
        // old run's, which end first.
        queue.push(a, 1, changed("wlan0", 5));
        queue.push(a, 1, gone("wlan0"));
        queue.push(a, 1, appeared("wlan0", 6));
        queue.push_ended(a, 1);
        queue.push(a, 2, appeared("wlan0", 7));
        assert!(!queue.push(a, 1, changed("wlan0", 8)), "the run ended");
        assert_eq!(
            drain(&queue),
            vec![
                "0.1 gone wlan0",
                "0.1 appeared wlan0 Some(6)",
                "0.1 ended",
                "0.2 appeared wlan0 Some(7)",
            ]
        );
    }

    #[test]
    fn a_bearer_flooding_new_networks_is_bounded() {
        let queue = ReportQueue::new(Arc::new(Notify::new()));
        let flood = BearerId(0);
        let calm = BearerId(1);
        let accepted = (0..MAX_WAITING_PER_BEARER + 100)
            .filter(|i| queue.push(flood, 1, appeared(&format!("n{i}"), 1)))
            .count();
        assert_eq!(accepted, MAX_WAITING_PER_BEARER);
        // Its known networks still update, and other bearers are not held up.
        assert!(queue.push(flood, 1, changed("n0", 50)));
        assert!(queue.push(calm, 1, appeared("eth0", 1)));
        let reports = drain(&queue);
        assert_eq!(reports.len(), MAX_WAITING_PER_BEARER + 1);
        assert_eq!(reports[0], "0.1 appeared n0 Some(50)");
        assert!(queue.push(flood, 1, appeared("later", 1)), "room again");
    }
}
