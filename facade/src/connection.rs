//! `NetConnection`: a request for a network plus its subscriber.
//!
//! Events arrive in the seed's order. Read them as a stream with
//! [`NetConnection::next_event`], or set callbacks with the `on_*` methods before
//! [`NetConnection::register`], as the seed's `on(type, callback)` is used.
//!
//! Changes of a network that were not read yet merge into the latest (a reader
//! that falls behind sees the current capabilities, not every step); `netAvailable`,
//! `netLost` and `netUnavailable` always arrive, in order. A connection that leaves
//! more events unread than the runtime allows (`Config::max_unread_events`) is
//! disconnected: its events end and [`NetConnection::error`] says why.

use netcore::engine::{ConnectionId, NetEvent};
use netcore::{
    Error, NetBlockStatusInfo, NetCapabilityInfo, NetConnectionPropertyInfo, NetHandle,
    NetSpecifier, Result,
};
use netcore_runtime::Subscription;
use tokio::task::JoinHandle;

use crate::manager::{Backend, NetManager};

type Callback<T> = Box<dyn FnMut(T) + Send>;

/// The callbacks set with the `on_*` methods.
#[derive(Default)]
struct Callbacks {
    available: Vec<Callback<NetHandle>>,
    lost: Vec<Callback<NetHandle>>,
    unavailable: Vec<Callback<()>>,
    capabilities: Vec<Callback<NetCapabilityInfo>>,
    properties: Vec<Callback<NetConnectionPropertyInfo>>,
    block: Vec<Callback<NetBlockStatusInfo>>,
}

impl Callbacks {
    fn is_empty(&self) -> bool {
        self.available.is_empty()
            && self.lost.is_empty()
            && self.unavailable.is_empty()
            && self.capabilities.is_empty()
            && self.properties.is_empty()
            && self.block.is_empty()
    }

    fn call(&mut self, event: NetEvent) {
        fn each<T: Clone>(callbacks: &mut [Callback<T>], value: T) {
            for callback in callbacks {
                callback(value.clone());
            }
        }
        match event {
            NetEvent::Available(h) => each(&mut self.available, h),
            NetEvent::Lost(h) => each(&mut self.lost, h),
            NetEvent::Unavailable => each(&mut self.unavailable, ()),
            NetEvent::CapabilitiesChange(i) => each(&mut self.capabilities, i),
            NetEvent::ConnectionPropertiesChange(i) => each(&mut self.properties, i),
            NetEvent::BlockStatusChange(i) => each(&mut self.block, i),
            other => tracing::debug!(event = other.name(), "no callback for this event"),
        }
    }
}

/// The seed's `NetConnection`.
pub struct NetConnection {
    manager: NetManager,
    id: ConnectionId,
    spec: Option<NetSpecifier>,
    timeout_ms: u32,
    callbacks: Callbacks,
    events: Option<Subscription>,
    dispatcher: Option<JoinHandle<(Callbacks, Subscription)>>,
    /// Why the events ended early, once the callbacks' dispatcher has stopped.
    error: Option<Error>,
    registered: bool,
}

impl std::fmt::Debug for NetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetConnection")
            .field("id", &self.id)
            .field("spec", &self.spec)
            .field("registered", &self.registered)
            .finish()
    }
}

macro_rules! on_event {
    ($(#[$doc:meta])* $name:ident, $field:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $name(&mut self, callback: impl FnMut($ty) + Send + 'static) -> &mut Self {
            self.callbacks.$field.push(Box::new(callback));
            self
        }
    };
}

impl NetConnection {
    pub(crate) fn new(manager: NetManager, spec: Option<NetSpecifier>, timeout_ms: u32) -> Self {
        let id = manager.next_connection_id();
        Self {
            manager,
            id,
            spec,
            timeout_ms,
            callbacks: Callbacks::default(),
            events: None,
            dispatcher: None,
            error: None,
            registered: false,
        }
    }

    /// The connection's id.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    on_event!(
        /// `on('netAvailable')`.
        on_net_available, available, NetHandle
    );
    on_event!(
        /// `on('netLost')`.
        on_net_lost, lost, NetHandle
    );
    on_event!(
        /// `on('netUnavailable')`.
        on_net_unavailable, unavailable, ()
    );
    on_event!(
        /// `on('netCapabilitiesChange')`.
        on_net_capabilities_change, capabilities, NetCapabilityInfo
    );
    on_event!(
        /// `on('netConnectionPropertiesChange')`.
        on_net_connection_properties_change, properties, NetConnectionPropertyInfo
    );
    on_event!(
        /// `on('netBlockStatusChange')`.
        on_net_block_status_change, block, NetBlockStatusInfo
    );

    /// `register` (GET_NETWORK_INFO): starts following the network. With callbacks
    /// set, they are called in event order on the runtime; without, read
    /// [`NetConnection::next_event`]. Errors: 2101008 when already registered,
    /// 2101022 when the app has 2000 registered connections.
    pub async fn register(&mut self) -> Result<()> {
        let mut events = match &self.manager.backend {
            Backend::Embedded(runtime) => runtime.register(
                self.manager.app,
                self.id,
                self.spec.clone(),
                self.timeout_ms,
            )?,
            Backend::Bus(bus) => {
                if self.registered {
                    return Err(Error::CallbackExists(format!(
                        "connection {} is already registered",
                        self.id.0
                    )));
                }
                bus.acting_for(self.manager.app)?
                    .register(self.id.0, self.spec.clone(), self.timeout_ms)
                    .await?
            }
        };
        self.registered = true;
        self.error = None;
        if self.callbacks.is_empty() {
            self.events = Some(events);
        } else {
            let mut callbacks = std::mem::take(&mut self.callbacks);
            self.dispatcher = Some(self.manager.handle().spawn(async move {
                while let Some(event) = events.recv().await {
                    callbacks.call(event);
                }
                if let Some(error) = events.error() {
                    tracing::warn!("connection events ended: {error}");
                }
                (callbacks, events)
            }));
        }
        Ok(())
    }

    /// `unregister`: stops following the network; no event arrives after it.
    /// Errors: 2101007 when not registered.
    pub async fn unregister(&mut self) -> Result<()> {
        match &self.manager.backend {
            Backend::Embedded(runtime) => runtime.unregister(self.id)?,
            Backend::Bus(bus) => bus.unregister(self.id.0).await?,
        }
        self.registered = false;
        if let Some(dispatcher) = self.dispatcher.take()
            && let Ok((callbacks, events)) = dispatcher.await
        {
            self.callbacks = callbacks;
            self.error = events.error();
        }
        Ok(())
    }

    /// The next event, in order; `None` once unregistered and drained, or when
    /// callbacks receive the events instead.
    pub async fn next_event(&mut self) -> Option<NetEvent> {
        self.events.as_mut()?.recv().await
    }

    /// The next event if one is queued now.
    pub fn try_next_event(&mut self) -> Option<NetEvent> {
        self.events.as_mut()?.try_recv()
    }

    /// Why the events ended before [`NetConnection::unregister`]: the connection left
    /// too many events unread and was disconnected (it is no longer registered; its
    /// `unregister` is 2101007). `None` while the events flow.
    pub fn error(&self) -> Option<Error> {
        match &self.events {
            Some(events) => events.error(),
            None => self.error.clone(),
        }
    }
}

impl Drop for NetConnection {
    fn drop(&mut self) {
        if !self.registered {
            return;
        }
        match &self.manager.backend {
            Backend::Embedded(runtime) => {
                let _ = runtime.unregister(self.id);
            }
            Backend::Bus(bus) => {
                let (bus, id) = (bus.clone(), self.id.0);
                bus.handle().clone().spawn(async move {
                    let _ = bus.unregister(id).await;
                });
            }
        }
    }
}
