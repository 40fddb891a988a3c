//! The bus backend: [`NetManager`](crate::NetManager)'s calls to netcored over D-Bus.
//!
//! Events of the client's connections arrive as `NetEvents` signals sent to this
//! client alone; they are read, with the bus's `NameOwnerChanged`, from one stream in
//! the order the bus delivered them. When netcored goes away, every connection that
//! had a network gets `netLost` for it (and every monitor for each network it knew);
//! when netcored comes back, the client registers its connections, custom DNS rules,
//! app proxy and monitors again by itself: the app sees `netAvailable` as the
//! networks come. The app's network binding is not restored: the networks are new.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt;
use netcore::engine::{NetEvent, NetworkSnapshot};
use netcore::{AppId, Error, HttpProxy, NetHandle, NetSpecifier, Result};
use netcore_bus::{BUS_NAME, INTERFACE, Netcore1Proxy, error_from_bus, from_json, to_json};
use netcore_runtime::{DEFAULT_MAX_UNREAD_EVENTS, Subscription, SubscriptionSender, Watch};
use tokio::sync::watch;

/// A connection registered through the daemon.
struct Registered {
    events: SubscriptionSender,
    spec: Option<NetSpecifier>,
    timeout_ms: u32,
    /// The network it has now, to say it is lost when the daemon goes.
    current: Option<NetHandle>,
}

/// A monitor of every network through the daemon.
struct Watcher {
    events: SubscriptionSender,
    /// The networks it knows, to say they are lost when the daemon goes.
    known: BTreeSet<NetHandle>,
}

/// What the client replays when netcored comes back.
#[derive(Default)]
struct State {
    connections: HashMap<u64, Registered>,
    watchers: Vec<Watcher>,
    rules: BTreeMap<String, Vec<String>>,
    app_proxy: Option<HttpProxy>,
}

struct Shared {
    proxy: Netcore1Proxy<'static>,
    /// This process's app: the one the daemon sees.
    app: AppId,
    state: Mutex<State>,
    proxy_changes: watch::Sender<u64>,
    next_connection: AtomicU64,
    handle: tokio::runtime::Handle,
}

/// A client of netcored.
#[derive(Clone)]
pub(crate) struct BusClient {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusClient")
            .field("app", &self.shared.app)
            .finish_non_exhaustive()
    }
}

fn bus(error: zbus::Error) -> Error {
    error_from_bus(error)
}

fn fdo(error: zbus::fdo::Error) -> Error {
    Error::Service(format!("the bus: {error}"))
}

/// A call's reply as netcore's result: the daemon's error, or 2100002 when it could
/// not be reached.
pub(crate) trait Reply<T> {
    /// The reply with netcore's error.
    fn reply(self) -> Result<T>;
}

impl<T> Reply<T> for zbus::Result<T> {
    fn reply(self) -> Result<T> {
        self.map_err(error_from_bus)
    }
}

/// The handle of a netId from the daemon.
pub(crate) fn handle(net_id: u32) -> Result<NetHandle> {
    NetHandle::new(i64::from(net_id))
}

/// The handles of netIds from the daemon.
pub(crate) fn handles(net_ids: Vec<u32>) -> Result<Vec<NetHandle>> {
    net_ids.into_iter().map(handle).collect()
}

impl BusClient {
    /// A client of the netcored on the system bus (`$DBUS_SYSTEM_BUS_ADDRESS`, else
    /// the system's). 2100002 when there is no bus or no netcored on it.
    pub(crate) async fn connect() -> Result<Self> {
        let connection = zbus::Connection::system().await.map_err(|e| {
            Error::Service(format!("netcored: the system bus cannot be reached: {e}"))
        })?;
        Self::on(connection).await
    }

    /// Whether netcored runs on the system bus.
    pub(crate) async fn daemon_runs() -> bool {
        let Ok(connection) = zbus::Connection::system().await else {
            return false;
        };
        let Ok(dbus) = zbus::fdo::DBusProxy::new(&connection).await else {
            return false;
        };
        let Ok(name) = zbus::names::BusName::try_from(BUS_NAME) else {
            return false;
        };
        dbus.name_has_owner(name).await.unwrap_or(false)
    }

    async fn on(connection: zbus::Connection) -> Result<Self> {
        let proxy = Netcore1Proxy::new(&connection).await.map_err(bus)?;
        let dbus = zbus::fdo::DBusProxy::new(&connection).await.map_err(bus)?;
        let name = zbus::names::BusName::try_from(BUS_NAME)
            .map_err(|e| Error::Internal(format!("the bus name: {e}")))?;
        if !dbus.name_has_owner(name).await.map_err(fdo)? {
            return Err(Error::Service("netcored is not on the bus".into()));
        }
        for rule in [
            format!("type='signal',interface='{INTERFACE}'"),
            format!(
                "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='{BUS_NAME}'"
            ),
        ] {
            let rule = zbus::MatchRule::try_from(rule.as_str()).map_err(bus)?;
            dbus.add_match_rule(rule).await.map_err(fdo)?;
        }
        let shared = Arc::new(Shared {
            proxy,
            app: AppId::current(),
            state: Mutex::default(),
            proxy_changes: watch::Sender::new(0),
            next_connection: AtomicU64::new(1),
            handle: tokio::runtime::Handle::current(),
        });
        let stream = zbus::MessageStream::from(&connection);
        tokio::spawn(follow(Arc::downgrade(&shared), stream));
        Ok(Self { shared })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state()
    }

    /// This client, when it acts for `app`: the daemon knows a client by the uid the
    /// bus gives, so acting for another app is refused (201).
    pub(crate) fn acting_for(&self, app: AppId) -> Result<&Self> {
        if app == self.shared.app {
            Ok(self)
        } else {
            Err(Error::PermissionDenied(format!(
                "netcored serves this process as app {}: it cannot act for app {app}",
                self.shared.app
            )))
        }
    }

    /// The proxy to call netcored through.
    pub(crate) fn proxy(&self) -> &Netcore1Proxy<'static> {
        &self.shared.proxy
    }

    /// The tokio runtime the client runs on.
    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        &self.shared.handle
    }

    /// Follows changes of the proxy settings.
    pub(crate) fn proxy_changes(&self) -> watch::Receiver<u64> {
        self.shared.proxy_changes.subscribe()
    }

    /// A new id for a connection of this client.
    pub(crate) fn next_connection_id(&self) -> u64 {
        self.shared.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// `NetConnection.register` through netcored.
    pub(crate) async fn register(
        &self,
        id: u64,
        spec: Option<NetSpecifier>,
        timeout_ms: u32,
    ) -> Result<Subscription> {
        let (events, subscription) = Subscription::channel(DEFAULT_MAX_UNREAD_EVENTS);
        let specifier = spec.as_ref().map(to_json).unwrap_or_default();
        // Known before the call: the first events may come before its reply.
        self.state().connections.insert(
            id,
            Registered {
                events,
                spec,
                timeout_ms,
                current: None,
            },
        );
        if let Err(e) = self.proxy().register(id, &specifier, timeout_ms).await {
            self.state().connections.remove(&id);
            return Err(bus(e));
        }
        Ok(subscription)
    }

    /// `NetConnection.unregister` through netcored.
    pub(crate) async fn unregister(&self, id: u64) -> Result<()> {
        self.proxy().unregister(id).await.map_err(bus)?;
        if let Some(registered) = self.state().connections.remove(&id) {
            registered.events.close();
        }
        Ok(())
    }

    /// Every network now, then every event of every network.
    pub(crate) async fn watch(&self) -> Result<Watch> {
        let (events, subscription) = Subscription::channel(DEFAULT_MAX_UNREAD_EVENTS);
        let now = self.proxy().watch().await.map_err(bus)?;
        let (networks, default_net): (Vec<NetworkSnapshot>, NetHandle) = from_json("watch", &now)?;
        self.state().watchers.push(Watcher {
            events,
            known: networks.iter().map(|n| n.handle).collect(),
        });
        Ok(Watch::new(networks, default_net, subscription))
    }

    /// Adds a custom DNS rule, remembered to be added again after a restart.
    pub(crate) async fn add_custom_dns_rule(&self, host: &str, ips: Vec<String>) -> Result<()> {
        self.proxy()
            .add_custom_dns_rule(host, ips.clone())
            .await
            .map_err(bus)?;
        self.state().rules.insert(host.to_owned(), ips);
        Ok(())
    }

    /// Removes a custom DNS rule.
    pub(crate) async fn remove_custom_dns_rule(&self, host: &str) -> Result<()> {
        self.proxy()
            .remove_custom_dns_rule(host)
            .await
            .map_err(bus)?;
        self.state().rules.remove(host);
        Ok(())
    }

    /// Removes every custom DNS rule.
    pub(crate) async fn clear_custom_dns_rules(&self) -> Result<()> {
        self.proxy().clear_custom_dns_rules().await.map_err(bus)?;
        self.state().rules.clear();
        Ok(())
    }

    /// Sets the app's proxy, remembered to be set again after a restart.
    pub(crate) async fn set_app_http_proxy(&self, proxy: HttpProxy) -> Result<()> {
        self.proxy()
            .set_app_http_proxy(&to_json(&proxy))
            .await
            .map_err(bus)?;
        self.state().app_proxy = Some(proxy);
        Ok(())
    }

    /// Forgets the app's state in netcored and here.
    pub(crate) async fn remove_app(&self) -> Result<()> {
        self.proxy().remove_app().await.map_err(bus)?;
        let mut state = self.state();
        for (_, registered) in state.connections.drain() {
            registered.events.close();
        }
        state.rules.clear();
        state.app_proxy = None;
        Ok(())
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An event of connection `id`.
    fn connection_event(&self, id: u64, event: NetEvent) {
        let mut state = self.state();
        let Some(registered) = state.connections.get_mut(&id) else {
            return;
        };
        match &event {
            NetEvent::Available(net) => registered.current = Some(*net),
            NetEvent::Lost(net) if registered.current == Some(*net) => registered.current = None,
            _ => {}
        }
        if !registered.events.send(event) {
            state.connections.remove(&id);
        }
    }

    /// An event of the monitors.
    fn watch_event(&self, event: NetEvent) {
        let mut state = self.state();
        state.watchers.retain_mut(|watcher| {
            match &event {
                NetEvent::Available(net) => {
                    watcher.known.insert(*net);
                }
                NetEvent::Lost(net) => {
                    watcher.known.remove(net);
                }
                _ => {}
            }
            watcher.events.send(event.clone())
        });
        if state.watchers.is_empty() {
            let proxy = self.proxy.clone();
            self.handle.spawn(async move {
                let _ = proxy.unwatch().await;
            });
        }
    }

    /// netcored went away: what had a network loses it.
    fn daemon_gone(&self) {
        tracing::warn!("netcored left the bus: its networks are lost until it returns");
        let mut state = self.state();
        for registered in state.connections.values_mut() {
            if let Some(net) = registered.current.take() {
                registered.events.send(NetEvent::Lost(net));
            }
        }
        for watcher in &mut state.watchers {
            for net in std::mem::take(&mut watcher.known) {
                watcher.events.send(NetEvent::Lost(net));
            }
        }
    }

    /// netcored (re)appeared: register again what this client had.
    async fn daemon_back(&self) {
        tracing::info!("netcored is on the bus again: registering again");
        let (connections, rules, app_proxy, watchers) = {
            let state = self.state();
            let connections: Vec<(u64, Option<NetSpecifier>, u32)> = state
                .connections
                .iter()
                .map(|(&id, r)| (id, r.spec.clone(), r.timeout_ms))
                .collect();
            (
                connections,
                state.rules.clone(),
                state.app_proxy.clone(),
                state.watchers.len(),
            )
        };
        for (host, ips) in rules {
            if let Err(e) = self.proxy.add_custom_dns_rule(&host, ips).await {
                tracing::warn!(host, "a custom DNS rule could not be restored: {e}");
            }
        }
        if let Some(proxy) = app_proxy
            && let Err(e) = self.proxy.set_app_http_proxy(&to_json(&proxy)).await
        {
            tracing::warn!("the app proxy could not be restored: {e}");
        }
        if watchers > 0 {
            match self
                .proxy
                .watch()
                .await
                .map(|now| from_json::<(Vec<NetworkSnapshot>, NetHandle)>("watch", &now))
            {
                Ok(Ok((networks, _))) => {
                    for network in networks {
                        self.watch_event(NetEvent::Available(network.handle));
                    }
                }
                Ok(Err(e)) => tracing::warn!("monitors could not be restored: {e}"),
                Err(e) => tracing::warn!("monitors could not be restored: {e}"),
            }
        }
        for (id, spec, timeout_ms) in connections {
            let specifier = spec.as_ref().map(to_json).unwrap_or_default();
            if let Err(e) = self.proxy.register(id, &specifier, timeout_ms).await {
                let error = error_from_bus(e);
                tracing::warn!(
                    connection = id,
                    "a connection could not be restored: {error}"
                );
                if let Some(registered) = self.state().connections.remove(&id) {
                    registered.events.fail(error);
                }
            }
        }
        self.proxy_changes.send_modify(|changes| *changes += 1);
    }
}

/// Reads the client's signals and the daemon's comings and goings, in the order the
/// bus delivered them, for as long as the client lives.
async fn follow(shared: std::sync::Weak<Shared>, mut messages: zbus::MessageStream) {
    while let Some(Ok(message)) = messages.next().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if message.message_type() != zbus::message::Type::Signal {
            continue;
        }
        let header = message.header();
        let member = header.member().map(|m| m.as_str().to_owned());
        let ours = header.interface().is_some_and(|i| i.as_str() == INTERFACE);
        match member.as_deref() {
            Some("NetEvents") if ours => {
                let Ok((events, payloads)) = message
                    .body()
                    .deserialize::<(Vec<(u64, u32)>, Vec<String>)>()
                else {
                    continue;
                };
                let payloads: Vec<Option<NetEvent>> = payloads
                    .iter()
                    .map(|p| from_json::<NetEvent>("event", p).ok())
                    .collect();
                for (id, index) in events {
                    let event = usize::try_from(index)
                        .ok()
                        .and_then(|i| payloads.get(i).cloned().flatten());
                    if let Some(event) = event {
                        shared.connection_event(id, event);
                    }
                }
            }
            Some("WatchEvents") if ours => {
                let Ok(events) = message.body().deserialize::<Vec<String>>() else {
                    continue;
                };
                for event in events {
                    if let Ok(event) = from_json::<NetEvent>("event", &event) {
                        shared.watch_event(event);
                    }
                }
            }
            Some("ConnectionEnded") if ours => {
                if let Ok((id, error)) = message.body().deserialize::<(u64, String)>() {
                    let error = from_json::<Error>("error", &error)
                        .unwrap_or_else(|e| Error::Internal(format!("netcored: {e}")));
                    if let Some(registered) = shared.state().connections.remove(&id) {
                        registered.events.fail(error);
                    }
                }
            }
            Some("ProxyChanged") if ours => {
                shared.proxy_changes.send_modify(|changes| *changes += 1);
            }
            Some("NameOwnerChanged") => {
                let Ok((name, _, new_owner)) =
                    message.body().deserialize::<(String, String, String)>()
                else {
                    continue;
                };
                if name != BUS_NAME {
                    continue;
                }
                if new_owner.is_empty() {
                    shared.daemon_gone();
                } else {
                    shared.daemon_back().await;
                }
            }
            _ => {}
        }
    }
}
