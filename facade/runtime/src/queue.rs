//! The runtime's bounded queues: a subscriber's events ([`Subscription`]), and a FIFO
//! whose waiting entries merge by key ([`Coalescing`]) for bearer reports and the
//! engine's actions.
//!
//! Nothing that an app, a bearer or a plugin does can grow them without limit:
//! - once a subscriber falls behind ([`MERGE_AFTER_UNREAD`] unread events), its
//!   capability, property and block-status changes of one network merge into the
//!   latest; `netAvailable`, `netLost` and `netUnavailable` are never dropped or
//!   reordered; a subscriber with more than its limit of unread events is closed
//!   with an error;
//! - reports and actions merge by what they are about (a bearer's network, a
//!   network's check), so what waits is bounded by what exists.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use netcore::engine::NetEvent;
use netcore::{Error, NetHandle};
use tokio::sync::Notify;

/// How many unread events a subscriber may have before it is closed, unless the
/// configuration says otherwise.
pub const DEFAULT_MAX_UNREAD_EVENTS: usize = 1024;

/// From this many unread events on, a subscriber's changes of one network merge:
/// one that keeps up sees every change, one that falls behind sees the latest.
pub const MERGE_AFTER_UNREAD: usize = 32;

/// Why a [`Subscription`] ended.
#[derive(Debug, Clone)]
enum End {
    /// Its request was unregistered, or its app removed.
    Closed,
    /// It fell too far behind.
    Failed(Error),
}

#[derive(Debug)]
struct Queue {
    events: VecDeque<NetEvent>,
    /// Where the events that may still merge start: after the last `netAvailable`,
    /// `netLost` or `netUnavailable`.
    mergeable_from: usize,
    max_unread: usize,
    end: Option<End>,
    receiver_alive: bool,
}

#[derive(Debug)]
struct Channel {
    queue: Mutex<Queue>,
    ready: Notify,
    /// Woken too whenever the subscription has something new to read: one task can
    /// read many subscriptions ([`Subscription::wake_also`]).
    also: Mutex<Option<Arc<Notify>>>,
}

impl Channel {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the reader (and whoever else follows) that there is something new.
    fn wake(&self) {
        self.ready.notify_one();
        if let Some(also) = &*self.also.lock().unwrap_or_else(|e| e.into_inner()) {
            also.notify_one();
        }
    }
}

/// The change events that merge, and what they are about.
fn change_of(event: &NetEvent) -> Option<(u8, NetHandle)> {
    match event {
        NetEvent::CapabilitiesChange(info) => Some((0, info.net_handle)),
        NetEvent::ConnectionPropertiesChange(info) => Some((1, info.net_handle)),
        NetEvent::BlockStatusChange(info) => Some((2, info.net_handle)),
        _ => None,
    }
}

/// What became of an event given to a [`Publisher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Queued (or merged into a waiting change of the same kind).
    Queued,
    /// The subscriber is gone (dropped, or closed before).
    Gone,
    /// The subscriber had too many unread events: it is now closed with an error.
    Overflowed,
}

/// The runtime's end of a subscription.
#[derive(Debug, Clone)]
pub(crate) struct Publisher(Arc<Channel>);

/// A stream of events for one subscriber: a registered connection, or a monitor of
/// every network ([`crate::Watch`]). Events come in the engine's order; changes of
/// one network that were not read yet merge into the latest. It ends (`None`) when
/// its request is unregistered or its app removed, after the events queued before;
/// a subscriber that leaves more unread events than the runtime allows is ended at
/// once, and [`Subscription::error`] says so.
#[derive(Debug)]
pub struct Subscription(Arc<Channel>);

/// A new subscription with at most `max_unread` unread events.
pub(crate) fn subscription(max_unread: usize) -> (Publisher, Subscription) {
    let channel = Arc::new(Channel {
        queue: Mutex::new(Queue {
            events: VecDeque::new(),
            mergeable_from: 0,
            max_unread,
            end: None,
            receiver_alive: true,
        }),
        ready: Notify::new(),
        also: Mutex::default(),
    });
    (Publisher(Arc::clone(&channel)), Subscription(channel))
}

impl Publisher {
    /// Queues `event`.
    pub(crate) fn send(&self, event: NetEvent) -> Delivery {
        let mut queue = self.0.queue();
        if queue.end.is_some() || !queue.receiver_alive {
            return Delivery::Gone;
        }
        match change_of(&event) {
            Some(change) if queue.events.len() >= MERGE_AFTER_UNREAD => {
                let start = queue.mergeable_from;
                // The latest waiting change of the kind: it becomes this one.
                if let Some(waiting) = queue
                    .events
                    .range_mut(start..)
                    .rev()
                    .find(|e| change_of(e) == Some(change))
                {
                    *waiting = event;
                    return Delivery::Queued;
                }
                queue.events.push_back(event);
            }
            Some(_) => queue.events.push_back(event),
            None => {
                queue.events.push_back(event);
                queue.mergeable_from = queue.events.len();
            }
        }
        if queue.events.len() > queue.max_unread {
            let unread = queue.events.len();
            queue.end = Some(End::Failed(Error::Internal(format!(
                "the subscriber left {unread} events unread, more than the {} allowed: it \
                 was disconnected",
                queue.max_unread
            ))));
            drop(queue);
            self.0.wake();
            return Delivery::Overflowed;
        }
        drop(queue);
        self.0.wake();
        Delivery::Queued
    }

    /// Ends the subscription with `error`: the subscriber reads what is queued, then
    /// `None`, and [`Subscription::error`] gives `error`.
    pub(crate) fn fail(&self, error: Error) {
        let mut queue = self.0.queue();
        if queue.end.is_none() {
            queue.end = Some(End::Failed(error));
        }
        drop(queue);
        self.0.wake();
    }

    /// Ends the subscription: the subscriber reads what is queued, then `None`.
    pub(crate) fn close(&self) {
        let mut queue = self.0.queue();
        if queue.end.is_none() {
            queue.end = Some(End::Closed);
        }
        drop(queue);
        self.0.wake();
    }
}

impl Subscription {
    /// A subscription fed by something else than the runtime (a bus client): the
    /// events given to the returned sender, with the same merging and limit.
    pub fn channel(max_unread: usize) -> (SubscriptionSender, Subscription) {
        let (publisher, subscription) = subscription(max_unread);
        (SubscriptionSender(publisher), subscription)
    }

    /// The next event, in order; `None` once the subscription ended and every event
    /// queued before was read.
    pub async fn recv(&mut self) -> Option<NetEvent> {
        loop {
            if let Some(next) = self.take() {
                return next;
            }
            self.0.ready.notified().await;
        }
    }

    /// Wakes `notify` too whenever there is something new to read (an event, or the
    /// end): a task reading many subscriptions with [`Subscription::try_recv`]
    /// waits on one notification for all of them.
    pub fn wake_also(&self, notify: Arc<Notify>) {
        *self.0.also.lock().unwrap_or_else(|e| e.into_inner()) = Some(notify);
    }

    /// The next event if one is queued now (`None` also when it ended).
    pub fn try_recv(&mut self) -> Option<NetEvent> {
        self.take().flatten()
    }

    /// `Some(next)` when there is an answer now: an event, or `None` for the end.
    fn take(&mut self) -> Option<Option<NetEvent>> {
        let mut queue = self.0.queue();
        if let Some(event) = queue.events.pop_front() {
            queue.mergeable_from = queue.mergeable_from.saturating_sub(1);
            return Some(Some(event));
        }
        queue.end.as_ref().map(|_| None)
    }

    /// Why the subscription ended early (the subscriber fell too far behind, or
    /// what fed it failed). `None` while it runs and when it ended normally.
    pub fn error(&self) -> Option<Error> {
        match &self.0.queue().end {
            Some(End::Failed(error)) => Some(error.clone()),
            _ => None,
        }
    }

    /// Whether the subscription ended (events may still be queued).
    pub fn is_closed(&self) -> bool {
        self.0.queue().end.is_some()
    }

    /// How many events are queued and unread.
    pub fn unread(&self) -> usize {
        self.0.queue().events.len()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut queue = self.0.queue();
        queue.receiver_alive = false;
        queue.events.clear();
    }
}

/// Feeds a [`Subscription`] made with [`Subscription::channel`].
#[derive(Debug, Clone)]
pub struct SubscriptionSender(Publisher);

impl SubscriptionSender {
    /// Queues `event`; false when the subscription is gone or just overflowed.
    pub fn send(&self, event: NetEvent) -> bool {
        self.0.send(event) == Delivery::Queued
    }

    /// Ends the subscription after what is queued.
    pub fn close(&self) {
        self.0.close()
    }

    /// Ends the subscription after what is queued, with `error` for
    /// [`Subscription::error`].
    pub fn fail(&self, error: Error) {
        self.0.fail(error)
    }
}

/// How a new entry meets a waiting one with the same key.
pub(crate) enum Merge<V> {
    /// The waiting entry becomes this value, where it waits.
    InPlace(V),
    /// The waiting entry goes; this value waits at the back.
    ToBack(V),
    /// Both go: together they change nothing.
    Cancel,
    /// Both stay, the new one at the back.
    Append(V),
}

/// What [`Coalescing::push`] did, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// One more entry waits.
    Added,
    /// As many entries wait as before.
    Merged,
    /// One entry fewer waits.
    Cancelled,
}

/// A FIFO whose waiting entries with the same key merge, so that what waits is
/// bounded by the number of keys (twice that at most, with [`Merge::Append`]).
#[derive(Debug)]
pub(crate) struct Coalescing<K, V> {
    entries: BTreeMap<u64, (K, V)>,
    /// The latest waiting entry of each key.
    latest: HashMap<K, u64>,
    next: u64,
}

impl<K, V> Default for Coalescing<K, V> {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
            latest: HashMap::new(),
            next: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V> Coalescing<K, V> {
    /// Queues `value` under `key`; when an entry of `key` waits, `merge` decides.
    pub(crate) fn push(
        &mut self,
        key: K,
        value: V,
        merge: impl FnOnce(&V, V) -> Merge<V>,
    ) -> Pushed {
        let Some(&seq) = self.latest.get(&key) else {
            self.append(key, value);
            return Pushed::Added;
        };
        let Some((_, waiting)) = self.entries.get_mut(&seq) else {
            self.append(key, value);
            return Pushed::Added;
        };
        match merge(waiting, value) {
            Merge::InPlace(value) => {
                *waiting = value;
                Pushed::Merged
            }
            Merge::ToBack(value) => {
                self.entries.remove(&seq);
                self.append(key, value);
                Pushed::Merged
            }
            Merge::Cancel => {
                self.entries.remove(&seq);
                self.latest.remove(&key);
                Pushed::Cancelled
            }
            Merge::Append(value) => {
                self.append(key, value);
                Pushed::Added
            }
        }
    }

    fn append(&mut self, key: K, value: V) {
        let seq = self.next;
        self.next += 1;
        self.latest.insert(key.clone(), seq);
        self.entries.insert(seq, (key, value));
    }

    /// The oldest entry.
    pub(crate) fn pop(&mut self) -> Option<(K, V)> {
        let (seq, (key, value)) = self.entries.pop_first()?;
        if self.latest.get(&key) == Some(&seq) {
            self.latest.remove(&key);
        }
        Some((key, value))
    }

    /// How many entries wait.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether an entry of `key` waits.
    pub(crate) fn contains(&self, key: &K) -> bool {
        self.latest.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use netcore::{NetCapabilities, NetCapabilityInfo, NetConnectionPropertyInfo};

    use super::*;

    fn net(id: i64) -> NetHandle {
        NetHandle::new(id).unwrap()
    }

    fn caps(id: i64, bandwidth: u32) -> NetEvent {
        NetEvent::CapabilitiesChange(NetCapabilityInfo {
            net_handle: net(id),
            net_cap: Arc::new(NetCapabilities {
                link_up_bandwidth_kbps: Some(bandwidth),
                ..NetCapabilities::default()
            }),
        })
    }

    fn props(id: i64) -> NetEvent {
        NetEvent::ConnectionPropertiesChange(NetConnectionPropertyInfo {
            net_handle: net(id),
            connection_properties: Arc::default(),
        })
    }

    fn drain(subscription: &mut Subscription) -> Vec<NetEvent> {
        std::iter::from_fn(|| subscription.try_recv()).collect()
    }

    /// Fills the subscription with `MERGE_AFTER_UNREAD` events of network 999, so
    /// that it is behind.
    fn fall_behind(tx: &Publisher) {
        for _ in 0..MERGE_AFTER_UNREAD {
            tx.send(NetEvent::Lost(net(999)));
        }
    }

    #[test]
    fn a_subscriber_that_keeps_up_sees_every_change() {
        let (tx, mut rx) = subscription(100);
        tx.send(NetEvent::Available(net(100)));
        tx.send(caps(100, 1));
        tx.send(caps(100, 2));
        assert_eq!(
            drain(&mut rx),
            vec![NetEvent::Available(net(100)), caps(100, 1), caps(100, 2)]
        );
    }

    #[test]
    fn changes_merge_but_never_across_available_or_lost() {
        let (tx, mut rx) = subscription(100);
        fall_behind(&tx);
        tx.send(NetEvent::Available(net(100)));
        tx.send(caps(100, 1));
        tx.send(props(100));
        for bandwidth in 2..1000 {
            tx.send(caps(100, bandwidth));
        }
        tx.send(NetEvent::Lost(net(100)));
        tx.send(NetEvent::Available(net(100)));
        tx.send(caps(100, 5000));
        assert_eq!(rx.unread(), MERGE_AFTER_UNREAD + 6);
        assert_eq!(
            drain(&mut rx)[MERGE_AFTER_UNREAD..],
            [
                NetEvent::Available(net(100)),
                caps(100, 999),
                props(100),
                NetEvent::Lost(net(100)),
                NetEvent::Available(net(100)),
                caps(100, 5000),
            ]
        );
        // Read changes no longer merge with new ones.
        fall_behind(&tx);
        tx.send(caps(100, 1));
        tx.send(caps(101, 1));
        tx.send(caps(100, 2));
        assert_eq!(
            drain(&mut rx)[MERGE_AFTER_UNREAD..],
            [caps(100, 2), caps(101, 1)]
        );
    }

    #[test]
    fn the_latest_change_wins_over_older_unmerged_ones() {
        let (tx, mut rx) = subscription(100);
        for _ in 0..MERGE_AFTER_UNREAD - 2 {
            tx.send(NetEvent::Lost(net(999)));
        }
        tx.send(caps(100, 1));
        tx.send(caps(100, 2));
        tx.send(caps(100, 3));
        assert_eq!(
            drain(&mut rx)[MERGE_AFTER_UNREAD - 2..],
            [caps(100, 1), caps(100, 3)]
        );
    }

    #[test]
    fn a_subscriber_past_its_limit_is_closed_with_an_error() {
        let (tx, mut rx) = subscription(4);
        for id in 100..104 {
            assert_eq!(tx.send(NetEvent::Available(net(id))), Delivery::Queued);
        }
        assert!(rx.error().is_none());
        assert_eq!(tx.send(NetEvent::Lost(net(100))), Delivery::Overflowed);
        assert_eq!(tx.send(NetEvent::Lost(net(101))), Delivery::Gone);
        let error = rx.error().expect("an error");
        assert_eq!(error.code(), 2100003);
        assert!(error.to_string().contains("unread"), "{error}");
        // What was queued can still be read, then the end.
        assert_eq!(drain(&mut rx).len(), 5);
        assert!(rx.try_recv().is_none());
        assert!(rx.is_closed());
    }

    #[tokio::test]
    async fn recv_waits_and_ends_after_the_queued_events() {
        let (tx, mut rx) = subscription(8);
        let sender = tokio::spawn(async move {
            tokio::task::yield_now().await;
            tx.send(NetEvent::Unavailable);
            tx.close();
            assert_eq!(tx.send(NetEvent::Unavailable), Delivery::Gone);
        });
        assert_eq!(rx.recv().await, Some(NetEvent::Unavailable));
        assert_eq!(rx.recv().await, None);
        assert!(rx.error().is_none());
        sender.await.unwrap();
    }

    #[test]
    fn a_dropped_subscription_is_gone() {
        let (tx, rx) = subscription(8);
        drop(rx);
        assert_eq!(tx.send(NetEvent::Unavailable), Delivery::Gone);
    }

    #[test]
    fn coalescing_merges_by_key_in_order() {
        let mut q: Coalescing<&str, u32> = Coalescing::default();
        let replace = |_: &u32, new: u32| Merge::InPlace(new);
        assert_eq!(q.push("a", 1, replace), Pushed::Added);
        assert_eq!(q.push("b", 1, replace), Pushed::Added);
        assert_eq!(q.push("a", 2, replace), Pushed::Merged);
        assert_eq!(q.push("b", 2, |_, new| Merge::ToBack(new)), Pushed::Merged);
        assert_eq!(q.push("c", 1, replace), Pushed::Added);
        assert_eq!(q.push("c", 0, |_, _| Merge::Cancel), Pushed::Cancelled);
        assert_eq!(q.push("a", 3, |_, new| Merge::Append(new)), Pushed::Added);
        assert!(q.contains(&"a") && !q.contains(&"c"));
        let order: Vec<(&str, u32)> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![("a", 2), ("b", 2), ("a", 3)]);
        assert_eq!(q.len(), 0);
        // After an appended entry is taken, the older one of the same key is no
        // longer the one new entries merge with.
        q.push("a", 1, replace);
        q.push("a", 2, |_, new| Merge::Append(new));
        assert_eq!(q.pop(), Some(("a", 1)));
        q.push("a", 3, replace);
        assert_eq!(q.pop(), Some(("a", 3)));
        assert_eq!(q.pop(), None);
    }
}
