//! The event machinery shared by every socket type: callbacks registered with
//! [`EventSource::on`] and removed one at a time or all at once with
//! [`EventSource::off`] (the seed's `on(type, callback)` / `off(type, callback?)`),
//! and the same events as an async [`Stream`](futures::Stream).
//!
//! A socket's events come from its [`Source`] (its reading), which no task of its
//! own drives: a stream reads it when polled, so the data is read in the consumer's
//! task; callbacks get a task that reads once the first is registered. Whoever reads
//! delivers to every callback and stream. Streams have a credit of unread messages
//! that bounds memory and slows the peer.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::{Context, Poll, Wake, Waker};

use netcore::Error;
use tokio::sync::{mpsc, watch};

/// How many `message` events a stream may hold unread; the socket reads on only when
/// each of its streams has room, so a slow reader slows the peer (TCP flow control,
/// or the kernel's receive buffer for UDP) instead of filling memory.
pub(crate) const STREAM_MESSAGE_CREDIT: usize = 8;

/// What the callbacks' task takes from the source before letting others run.
const CALLBACKS_BUDGET: Budget = Budget {
    events: 32,
    bytes: usize::MAX,
};

/// What a stream takes from the source when polled: small events several at once,
/// a large read alone (handled while its data is fresh in the cache).
const STREAM_BUDGET: Budget = Budget {
    events: STREAM_MESSAGE_CREDIT,
    bytes: 4 * 1024,
};

/// How much one [`Inner::drive`] call reads: at most `events`, and no more once
/// `bytes` of data came.
#[derive(Clone, Copy)]
struct Budget {
    events: usize,
    bytes: usize,
}

/// How a call to [`Inner::drive`] ended.
enum Drove {
    /// The source ended (or was detached).
    Ended,
    /// Nothing to read now, or a stream is full: the caller is woken when there may be.
    Waiting,
    /// Read as many events as asked; there may be more.
    Budget,
}

/// The seed's event types (`'message'`, `'listening'`, `'connect'`, `'close'`, `'error'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Data arrived (`'message'`).
    Message,
    /// A UDP socket is bound and receiving (`'listening'`).
    Listening,
    /// A connection was set up (`'connect'`); on a server it hands the new connection.
    Connect,
    /// The socket closed (`'close'`), by [`close`](crate::TcpSocket::close) or by the peer.
    Close,
    /// Something failed outside a call (`'error'`), e.g. the peer reset the connection.
    Error,
}

impl EventKind {
    /// The seed's name of the event type.
    pub fn seed_name(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Listening => "listening",
            Self::Connect => "connect",
            Self::Close => "close",
            Self::Error => "error",
        }
    }
}

/// An event that an [`EventHub`] can carry.
pub trait Event: Clone + Send + 'static {
    /// The type of the event, used to pick the callbacks it goes to.
    fn kind(&self) -> EventKind;

    /// How many bytes of data the event carries.
    fn size(&self) -> usize {
        0
    }
}

/// Identifies one callback registered with [`EventSource::on`], to remove it with
/// [`EventSource::off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

type Callback<E> = Arc<dyn Fn(&E) + Send + Sync>;

struct Registry<E> {
    next_id: u64,
    callbacks: Vec<(ListenerId, EventKind, Callback<E>)>,
    streams: Vec<Subscriber<E>>,
}

/// The sending side of one [`EventStream`].
struct Subscriber<E> {
    sender: mpsc::UnboundedSender<E>,
    /// `message` events sent and not yet taken by the stream.
    unread: Arc<AtomicUsize>,
}

/// Where a socket's events come from: its reading, polled by whoever waits for
/// events (a stream's consumer, or the task that runs the callbacks). So a stream's
/// consumer reads the socket in its own task, with no hand-off between tasks.
pub(crate) trait Source<E>: Send {
    /// The next event; `Ready(None)` once there will be none.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<E>>;
}

enum Slot<E> {
    /// Nothing to read yet (e.g. not connected).
    Waiting,
    /// Reading.
    Reading(Box<dyn Source<E>>),
    /// The source ended or was detached; it never comes back.
    Done,
}

/// The wakers of everyone waiting for the source, woken all at once: the source
/// registers this with the OS socket, whoever polled it.
#[derive(Default)]
struct WakeAll(Mutex<Vec<Waker>>);

impl WakeAll {
    fn register(&self, waker: &Waker) {
        let mut wakers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    fn wake_all(&self) {
        let wakers = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in wakers {
            waker.wake();
        }
    }
}

impl Wake for WakeAll {
    fn wake(self: Arc<Self>) {
        self.wake_all();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all();
    }
}

struct Inner<E> {
    kinds: &'static [EventKind],
    registry: Mutex<Registry<E>>,
    source: Mutex<Slot<E>>,
    waiting: Arc<WakeAll>,
    /// How many streams hold `STREAM_MESSAGE_CREDIT` unread messages; reading waits
    /// while any does.
    full_streams: AtomicUsize,
    /// `waiting` as a waker, handed to the source.
    wake_waiting: Waker,
    /// Becomes true with the first callback: the callbacks' task starts reading then.
    has_callbacks: watch::Sender<bool>,
}

/// The callbacks and streams of one socket, the event types that socket has, and
/// the source its events are read from.
pub struct EventHub<E>(Arc<Inner<E>>);

impl<E: Event> EventHub<E> {
    /// A hub for a socket that emits the events in `kinds`.
    pub(crate) fn new(kinds: &'static [EventKind]) -> Self {
        let waiting = Arc::new(WakeAll::default());
        Self(Arc::new(Inner {
            kinds,
            registry: Mutex::new(Registry {
                next_id: 0,
                callbacks: Vec::new(),
                streams: Vec::new(),
            }),
            source: Mutex::new(Slot::Waiting),
            full_streams: AtomicUsize::new(0),
            wake_waiting: Waker::from(Arc::clone(&waiting)),
            waiting,
            has_callbacks: watch::Sender::new(false),
        }))
    }

    fn check_kind(&self, kind: EventKind) -> Result<(), Error> {
        if self.0.kinds.contains(&kind) {
            Ok(())
        } else {
            Err(Error::Parameter(format!(
                "this socket has no {:?} event",
                kind.seed_name()
            )))
        }
    }

    /// Registers `callback` for events of type `kind`. A type the socket does not
    /// have is refused with 401.
    pub fn on(
        &self,
        kind: EventKind,
        callback: impl Fn(&E) + Send + Sync + 'static,
    ) -> Result<ListenerId, Error> {
        self.check_kind(kind)?;
        let mut registry = self.0.registry();
        let id = ListenerId(registry.next_id);
        registry.next_id += 1;
        registry.callbacks.push((id, kind, Arc::new(callback)));
        drop(registry);
        self.0.has_callbacks.send_replace(true);
        Ok(id)
    }

    /// Removes the callback `id` of type `kind`, or every callback of that type when
    /// `id` is `None`. Returns how many were removed (0 is not an error, as in the
    /// seed). A type the socket does not have is refused with 401.
    pub fn off(&self, kind: EventKind, id: Option<ListenerId>) -> Result<usize, Error> {
        self.check_kind(kind)?;
        let mut registry = self.0.registry();
        let before = registry.callbacks.len();
        registry
            .callbacks
            .retain(|(have, have_kind, _)| *have_kind != kind || id.is_some_and(|id| id != *have));
        Ok(before - registry.callbacks.len())
    }

    /// A stream of every event of the socket from now on. It ends when the socket has
    /// closed and emitted its last event.
    pub fn stream(&self) -> EventStream<E> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let unread = Arc::new(AtomicUsize::new(0));
        self.0.registry().streams.push(Subscriber {
            sender,
            unread: Arc::clone(&unread),
        });
        EventStream {
            receiver,
            unread,
            hub: Arc::clone(&self.0),
        }
    }

    /// Delivers `event` to the callbacks of its type, then to every stream; after
    /// `close`, drops every callback and ends every stream (which also breaks cycles
    /// of callbacks that hold their own socket).
    pub(crate) fn emit(&self, event: E) {
        self.0.emit(event);
    }

    /// Makes `source` the socket's reading, unless the hub is done already.
    pub(crate) fn attach(&self, source: Box<dyn Source<E>>) {
        let mut slot = self.0.slot();
        if matches!(*slot, Slot::Waiting) {
            *slot = Slot::Reading(source);
        }
        drop(slot);
        self.0.waiting.wake_all();
    }

    /// Stops reading for good and drops the source (waiting for a read in progress).
    pub(crate) fn detach(&self) {
        *self.0.slot() = Slot::Done;
        self.0.waiting.wake_all();
    }

    /// Runs the callbacks: once the first is registered, reads from the source until
    /// it ends. Streams read for themselves; this is for callbacks only.
    pub(crate) fn run_callbacks(&self) -> impl Future<Output = ()> + Send + 'static {
        let inner = Arc::clone(&self.0);
        async move {
            let mut has_callbacks = inner.has_callbacks.subscribe();
            // The sender lives in `inner`, which we hold: this cannot fail.
            let _ = has_callbacks.wait_for(|has| *has).await;
            std::future::poll_fn(|cx| match inner.drive(cx, CALLBACKS_BUDGET) {
                Drove::Ended => Poll::Ready(()),
                Drove::Waiting => Poll::Pending,
                Drove::Budget => {
                    // Others get a turn, then we go on.
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            })
            .await;
        }
    }
}

impl<E: Event> Inner<E> {
    fn registry(&self) -> MutexGuard<'_, Registry<E>> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn slot(&self) -> MutexGuard<'_, Slot<E>> {
        self.source.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn emit(&self, event: E) {
        let kind = event.kind();
        let mut registry = self.registry();
        if registry.callbacks.iter().any(|(_, k, _)| *k == kind) {
            // Callbacks run outside the lock, so a callback may call `on`/`off`.
            let callbacks: Vec<Callback<E>> = registry
                .callbacks
                .iter()
                .filter(|(_, k, _)| *k == kind)
                .map(|(_, _, c)| Arc::clone(c))
                .collect();
            drop(registry);
            for callback in callbacks {
                callback(&event);
            }
            registry = self.registry();
        }
        // Every stream but the last gets a copy, the last the event itself; a stream
        // whose receiver is gone is dropped.
        let count = registry.streams.len();
        let mut event = Some(event);
        let mut index = 0;
        registry.streams.retain(|s| {
            index += 1;
            let this = if index == count {
                event.take()
            } else {
                event.clone()
            };
            let sent = this.is_some_and(|this| s.sender.send(this).is_ok());
            if sent
                && kind == EventKind::Message
                && s.unread.fetch_add(1, Ordering::AcqRel) + 1 == STREAM_MESSAGE_CREDIT
            {
                self.full_streams.fetch_add(1, Ordering::AcqRel);
            }
            sent
        });
        drop(registry);
        if kind == EventKind::Close {
            self.finish();
        }
    }

    /// A stream took a `message`; `unread` is its count.
    fn stream_took(&self, unread: &AtomicUsize) {
        if unread.fetch_sub(1, Ordering::AcqRel) == STREAM_MESSAGE_CREDIT {
            self.full_streams.fetch_sub(1, Ordering::AcqRel);
            // The source may be waiting for room in this stream.
            self.waiting.wake_all();
        }
    }

    fn finish(&self) {
        let mut registry = self.registry();
        registry.callbacks.clear();
        registry.streams.clear();
    }

    /// Reads events from the source within `budget` and emits them. When it has none
    /// ready or a stream is full, `cx` is woken once there may be more. If another
    /// task is reading, leaves it to that one (`Waiting`).
    fn drive(&self, cx: &mut Context<'_>, budget: Budget) -> Drove {
        self.waiting.register(cx.waker());
        let mut slot = match self.source.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Drove::Waiting,
        };
        let source = match &mut *slot {
            Slot::Waiting => return Drove::Waiting,
            Slot::Done => return Drove::Ended,
            Slot::Reading(source) => source,
        };
        let mut source_cx = Context::from_waker(&self.wake_waiting);
        let mut bytes = 0;
        for _ in 0..budget.events {
            if self.full_streams.load(Ordering::Acquire) > 0 {
                // A stream taking a message wakes `waiting`.
                return Drove::Waiting;
            }
            if bytes >= budget.bytes {
                break;
            }
            match source.poll_event(&mut source_cx) {
                Poll::Ready(Some(event)) => {
                    bytes += event.size();
                    self.emit(event);
                }
                Poll::Ready(None) => {
                    *slot = Slot::Done;
                    drop(slot);
                    self.waiting.wake_all();
                    return Drove::Ended;
                }
                Poll::Pending => return Drove::Waiting,
            }
        }
        Drove::Budget
    }
}

/// The events of a socket as an async stream (see [`EventSource::events`]).
///
/// Polling the stream reads the socket. A stream holds at most a few unread `message`
/// events: while it is full the socket stops reading, for its callbacks and other
/// streams too. Drop a stream you no longer read.
pub struct EventStream<E> {
    receiver: mpsc::UnboundedReceiver<E>,
    unread: Arc<AtomicUsize>,
    hub: Arc<Inner<E>>,
}

impl<E> std::fmt::Debug for EventStream<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("unread", &self.unread)
            .finish_non_exhaustive()
    }
}

impl<E: Event> EventStream<E> {
    /// Counts a `message` taken from the channel.
    fn took(&self, event: &E) {
        if event.kind() == EventKind::Message {
            self.hub.stream_took(&self.unread);
        }
    }
}

impl<E: Event> futures::Stream for EventStream<E> {
    type Item = E;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<E>> {
        let this = self.get_mut();
        // Without registering for a wake-up first: reading below would wake this
        // very task for its own event, and poll it again for nothing.
        if let Ok(event) = this.receiver.try_recv() {
            this.took(&event);
            return Poll::Ready(Some(event));
        }
        // Whether the source ended or not, what it read is in the channel now.
        let _ = this.hub.drive(cx, STREAM_BUDGET);
        let polled = this.receiver.poll_recv(cx);
        if let Poll::Ready(Some(event)) = &polled {
            this.took(event);
        }
        polled
    }
}

impl<E> Drop for EventStream<E> {
    fn drop(&mut self) {
        self.receiver.close();
        let hub = &self.hub;
        hub.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .streams
            .retain(|s| !Arc::ptr_eq(&s.unread, &self.unread));
        // Needs no room any more.
        let before = self.unread.swap(0, Ordering::AcqRel);
        if before >= STREAM_MESSAGE_CREDIT {
            hub.full_streams.fetch_sub(1, Ordering::AcqRel);
        }
        hub.waiting.wake_all();
    }
}

/// `on`, `off` and `events` of every socket type.
pub trait EventSource {
    /// The events this socket emits.
    type Event: Event;

    /// The hub holding this socket's callbacks and streams.
    fn event_hub(&self) -> &EventHub<Self::Event>;

    /// Registers `callback` for events of type `kind` (the seed's `on(type, callback)`).
    /// Returns the id to remove it with [`off`](Self::off). A type the socket does not
    /// have is refused with 401.
    ///
    /// Callbacks run on the socket's task: keep them short, and spawn a task to call
    /// async methods such as `send`.
    fn on(
        &self,
        kind: EventKind,
        callback: impl Fn(&Self::Event) + Send + Sync + 'static,
    ) -> Result<ListenerId, Error> {
        self.event_hub().on(kind, callback)
    }

    /// Removes one callback of type `kind` (`Some(id)`) or all of them (`None`), the
    /// seed's `off(type, callback?)`. Returns how many were removed.
    fn off(&self, kind: EventKind, id: Option<ListenerId>) -> Result<usize, Error> {
        self.event_hub().off(kind, id)
    }

    /// Every event of this socket from now on, as an async stream.
    fn events(&self) -> EventStream<Self::Event> {
        self.event_hub().stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Clone, Debug, PartialEq)]
    struct Ping(EventKind);
    impl Event for Ping {
        fn kind(&self) -> EventKind {
            self.0
        }
    }

    fn counter(hub: &EventHub<Ping>, kind: EventKind) -> (ListenerId, Arc<AtomicUsize>) {
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        let id = hub
            .on(kind, move |_| {
                c.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        (id, count)
    }

    #[test]
    fn off_removes_one_or_all_of_a_kind() {
        let hub = EventHub::new(&[EventKind::Message, EventKind::Close]);
        let (a, count_a) = counter(&hub, EventKind::Message);
        let (_b, count_b) = counter(&hub, EventKind::Message);
        let (_c, count_c) = counter(&hub, EventKind::Close);

        hub.emit(Ping(EventKind::Message));
        assert_eq!(hub.off(EventKind::Message, Some(a)).unwrap(), 1);
        hub.emit(Ping(EventKind::Message));
        assert_eq!(
            (
                count_a.load(Ordering::SeqCst),
                count_b.load(Ordering::SeqCst)
            ),
            (1, 2)
        );

        assert_eq!(hub.off(EventKind::Message, None).unwrap(), 1);
        hub.emit(Ping(EventKind::Message));
        hub.emit(Ping(EventKind::Close));
        assert_eq!(count_b.load(Ordering::SeqCst), 2);
        assert_eq!(count_c.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn unknown_kind_is_a_parameter_error() {
        let hub: EventHub<Ping> = EventHub::new(&[EventKind::Message]);
        assert_eq!(hub.on(EventKind::Connect, |_| {}).unwrap_err().code(), 401);
        assert_eq!(hub.off(EventKind::Listening, None).unwrap_err().code(), 401);
    }

    #[tokio::test]
    async fn stream_sees_events_in_order_and_ends_after_close() {
        use futures::StreamExt;
        let hub = EventHub::new(&[EventKind::Message, EventKind::Close]);
        let mut stream = hub.stream();
        hub.emit(Ping(EventKind::Message));
        hub.emit(Ping(EventKind::Close));
        let got: Vec<Ping> = (&mut stream).collect().await;
        assert_eq!(got, vec![Ping(EventKind::Message), Ping(EventKind::Close)]);
    }
}
