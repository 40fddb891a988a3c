//! The event machinery shared by every socket type: callbacks registered with
//! [`EventSource::on`] and removed one at a time or all at once with
//! [`EventSource::off`] (the seed's `on(type, callback)` / `off(type, callback?)`),
//! and the same events as an async [`Stream`](futures::Stream).

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use netcore::Error;
use tokio::sync::{mpsc, watch};

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
}

/// Identifies one callback registered with [`EventSource::on`], to remove it with
/// [`EventSource::off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

type Callback<E> = Arc<dyn Fn(&E) + Send + Sync>;

struct Registry<E> {
    next_id: u64,
    callbacks: Vec<(ListenerId, EventKind, Callback<E>)>,
    streams: Vec<mpsc::UnboundedSender<E>>,
}

/// The callbacks and streams of one socket, and the event types that socket has.
pub struct EventHub<E> {
    kinds: &'static [EventKind],
    registry: Mutex<Registry<E>>,
    /// Becomes true once anyone listens; a socket starts reading only then, so that no
    /// data is read and dropped before a listener exists.
    listened: watch::Sender<bool>,
}

impl<E: Event> EventHub<E> {
    /// A hub for a socket that emits the events in `kinds`.
    pub(crate) fn new(kinds: &'static [EventKind]) -> Self {
        Self {
            kinds,
            registry: Mutex::new(Registry {
                next_id: 0,
                callbacks: Vec::new(),
                streams: Vec::new(),
            }),
            listened: watch::Sender::new(false),
        }
    }

    fn registry(&self) -> MutexGuard<'_, Registry<E>> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_kind(&self, kind: EventKind) -> Result<(), Error> {
        if self.kinds.contains(&kind) {
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
        let mut registry = self.registry();
        let id = ListenerId(registry.next_id);
        registry.next_id += 1;
        registry.callbacks.push((id, kind, Arc::new(callback)));
        drop(registry);
        self.listened.send_replace(true);
        Ok(id)
    }

    /// Removes the callback `id` of type `kind`, or every callback of that type when
    /// `id` is `None`. Returns how many were removed (0 is not an error, as in the
    /// seed). A type the socket does not have is refused with 401.
    pub fn off(&self, kind: EventKind, id: Option<ListenerId>) -> Result<usize, Error> {
        self.check_kind(kind)?;
        let mut registry = self.registry();
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
        self.registry().streams.push(sender);
        self.listened.send_replace(true);
        EventStream(receiver)
    }

    /// Delivers `event` to the callbacks of its type (outside the lock, so a callback
    /// may call `on`/`off`), then to every stream.
    pub(crate) fn emit(&self, event: E) {
        let kind = event.kind();
        let callbacks: Vec<Callback<E>> = self
            .registry()
            .callbacks
            .iter()
            .filter(|(_, k, _)| *k == kind)
            .map(|(_, _, c)| Arc::clone(c))
            .collect();
        for callback in callbacks {
            callback(&event);
        }
        self.registry()
            .streams
            .retain(|s| s.send(event.clone()).is_ok());
    }

    /// Drops every callback and ends every stream; called after the last event, which
    /// also breaks cycles of callbacks that hold their own socket.
    pub(crate) fn finish(&self) {
        let mut registry = self.registry();
        registry.callbacks.clear();
        registry.streams.clear();
    }

    /// Waits until someone listens (a callback or a stream).
    pub(crate) async fn listened(&self) {
        let mut receiver = self.listened.subscribe();
        // The sender lives as long as `self`, so this cannot fail while we borrow it.
        let _ = receiver.wait_for(|listened| *listened).await;
    }
}

/// The events of a socket as an async stream (see [`EventSource::events`]).
#[derive(Debug)]
pub struct EventStream<E>(mpsc::UnboundedReceiver<E>);

impl<E> futures::Stream for EventStream<E> {
    type Item = E;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<E>> {
        self.0.poll_recv(cx)
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
    async fn stream_sees_events_in_order_and_ends_on_finish() {
        use futures::StreamExt;
        let hub = EventHub::new(&[EventKind::Message, EventKind::Close]);
        let mut stream = hub.stream();
        hub.emit(Ping(EventKind::Message));
        hub.emit(Ping(EventKind::Close));
        hub.finish();
        let got: Vec<Ping> = (&mut stream).collect().await;
        assert_eq!(got, vec![Ping(EventKind::Message), Ping(EventKind::Close)]);
    }
}
