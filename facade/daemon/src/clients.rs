//! The apps netcored serves: who each client on the bus is (from the bus, never from
//! a message), what it may do, and what it registered.
//!
//! A client is a connection to the bus (a unique name). Its app is its uid, as the
//! bus daemon says (`GetConnectionCredentials`); its permissions come from the policy
//! for that uid and the groups of its process. The events of its registered
//! connections and of its monitor go to it alone, by one task per client that sends
//! whatever is waiting in one signal (`NetEvents`, `WatchEvents`): a default switch
//! seen by a client's hundred connections is one message, not four hundred. When it
//! leaves the bus, its connections are unregistered at once; when the last client of
//! its app leaves, the app's state goes too.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use futures::StreamExt;
use netcore::engine::{ConnectionId, NetEvent};
use netcore::{AppId, Error, NetSpecifier, Result};
use netcore_bus::to_json;
use netcore_runtime::{Runtime, Subscription};
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use zbus::names::{BusName, OwnedUniqueName, UniqueName};
use zbus::object_server::SignalEmitter;

use crate::policy::{Permission, Policy, require};
use crate::service::ServiceSignals;

/// Who a client is.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its app: its uid.
    pub app: AppId,
    /// Its process, when the bus knows it.
    pub pid: Option<u32>,
    /// What it may do.
    pub permissions: BTreeSet<Permission>,
}

impl Caller {
    /// `Ok` when the caller holds every permission `call` needs, else 201.
    pub fn require(&self, call: &str, needed: &[Permission]) -> Result<()> {
        require(&self.permissions, needed, self.app, call)
    }
}

#[derive(Default)]
struct Registered {
    /// The client's ids of its connections, with the runtime's and their events.
    connections: HashMap<u64, (ConnectionId, Subscription)>,
    /// The events of its monitor, if it watches.
    watch: Option<Subscription>,
    /// The task that sends the client its events.
    forwarder: Option<AbortHandle>,
}

/// What the forwarder found waiting. Each distinct event is written once: the
/// connections' entries point into `payloads` (a switch seen by a hundred
/// connections carries its network's properties once).
#[derive(Default)]
struct Waiting {
    events: Vec<(u64, u32)>,
    payloads: Vec<String>,
    distinct: Vec<NetEvent>,
    watched: Vec<String>,
    /// Connections whose events ended with an error: they are gone.
    failed: Vec<(u64, String)>,
}

/// One client on the bus.
pub struct Client {
    /// Who it is.
    pub caller: Caller,
    name: OwnedUniqueName,
    registered: Mutex<Registered>,
    /// Woken when any of its subscriptions has something new.
    wake: Arc<Notify>,
}

impl Client {
    fn registered(&self) -> MutexGuard<'_, Registered> {
        self.registered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes everything waiting in the client's subscriptions, in order per
    /// subscription.
    fn take_waiting(&self) -> Waiting {
        let mut waiting = Waiting::default();
        let mut registered = self.registered();
        registered.connections.retain(|&id, (_, events)| {
            while let Some(event) = events.try_recv() {
                let index = match waiting.distinct.iter().position(|e| *e == event) {
                    Some(index) => index,
                    None => {
                        waiting.payloads.push(to_json(&event));
                        waiting.distinct.push(event);
                        waiting.distinct.len() - 1
                    }
                };
                waiting
                    .events
                    .push((id, u32::try_from(index).unwrap_or(u32::MAX)));
            }
            match events.error() {
                Some(error) => {
                    waiting.failed.push((id, to_json(&error)));
                    false
                }
                None => true,
            }
        });
        if let Some(watch) = &mut registered.watch {
            while let Some(event) = watch.try_recv() {
                waiting.watched.push(to_json(&event));
            }
        }
        waiting
    }
}

/// Sends `client` what waits for it, each time something does, while it lives.
async fn forward(client: Weak<Client>, wake: Arc<Notify>, emitter: SignalEmitter<'static>) {
    loop {
        wake.notified().await;
        let Some(client) = client.upgrade() else {
            return;
        };
        let waiting = client.take_waiting();
        drop(client);
        let sent = async {
            if !waiting.events.is_empty() {
                emitter.net_events(waiting.events, waiting.payloads).await?;
            }
            if !waiting.watched.is_empty() {
                emitter.watch_events(waiting.watched).await?;
            }
            for (id, error) in waiting.failed {
                emitter.connection_ended(id, error).await?;
            }
            zbus::Result::Ok(())
        };
        if let Err(e) = sent.await {
            tracing::debug!("events could not be sent: {e}");
        }
    }
}

/// Every client netcored knows.
pub struct Clients {
    runtime: Runtime,
    policy: Policy,
    connection: zbus::Connection,
    clients: Mutex<HashMap<OwnedUniqueName, Arc<Client>>>,
}

impl Clients {
    /// No clients yet.
    pub fn new(runtime: Runtime, policy: Policy, connection: zbus::Connection) -> Self {
        Self {
            runtime,
            policy,
            connection,
            clients: Mutex::default(),
        }
    }

    fn clients(&self) -> MutexGuard<'_, HashMap<OwnedUniqueName, Arc<Client>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client `sender`, asking the bus who it is the first time.
    pub async fn client(&self, sender: Option<&UniqueName<'_>>) -> Result<Arc<Client>> {
        let sender =
            sender.ok_or_else(|| Error::PermissionDenied("a call without a sender".into()))?;
        if let Some(client) = self.clients().get(sender.as_str()) {
            return Ok(Arc::clone(client));
        }
        let dbus = zbus::fdo::DBusProxy::new(&self.connection)
            .await
            .map_err(|e| Error::Internal(format!("the bus: {e}")))?;
        let credentials = dbus
            .get_connection_credentials(BusName::Unique(sender.clone()))
            .await
            .map_err(|e| {
                Error::PermissionDenied(format!("the bus does not vouch for {sender}: {e}"))
            })?;
        let uid = credentials
            .unix_user_id()
            .ok_or_else(|| Error::PermissionDenied(format!("the bus gives no uid for {sender}")))?;
        let app = AppId::from_uid(uid);
        let pid = credentials.process_id();
        let groups = match credentials.unix_group_ids() {
            Some(groups) => groups.clone(),
            None => pid.map(groups_of).unwrap_or_default(),
        };
        let caller = Caller {
            app,
            pid,
            permissions: self.policy.permissions_of(app, &groups),
        };
        tracing::debug!(%app, ?pid, client = %sender, "new client");
        let client = Arc::new(Client {
            caller,
            name: sender.to_owned().into(),
            registered: Mutex::default(),
            wake: Arc::new(Notify::new()),
        });
        let mut clients = self.clients();
        let client = clients.entry(client.name.clone()).or_insert(client).clone();
        Ok(client)
    }

    /// `NetConnection.register` for `client`, whose id of it is `id`: its events go to
    /// the client alone, in `NetEvents` signals carrying `id`.
    pub fn register(
        &self,
        client: &Arc<Client>,
        id: u64,
        spec: Option<NetSpecifier>,
        timeout_ms: u32,
    ) -> Result<()> {
        let mut registered = client.registered();
        if registered.connections.contains_key(&id) {
            return Err(Error::CallbackExists(format!(
                "connection {id} is already registered"
            )));
        }
        self.start_forwarder(client, &mut registered)?;
        let connection = self.runtime.next_connection_id();
        let events = self
            .runtime
            .register(client.caller.app, connection, spec, timeout_ms)?;
        events.wake_also(Arc::clone(&client.wake));
        registered.connections.insert(id, (connection, events));
        // The first events may be queued already.
        client.wake.notify_one();
        Ok(())
    }

    /// Starts the client's forwarder if it has none yet.
    fn start_forwarder(&self, client: &Arc<Client>, registered: &mut Registered) -> Result<()> {
        if registered.forwarder.is_none() {
            let emitter = self.emitter_to(&client.name)?;
            let task = self.runtime.handle().spawn(forward(
                Arc::downgrade(client),
                Arc::clone(&client.wake),
                emitter,
            ));
            registered.forwarder = Some(task.abort_handle());
        }
        Ok(())
    }

    /// `NetConnection.unregister` of the client's connection `id`; 2101007 when it has
    /// none of that id.
    pub fn unregister(&self, client: &Client, id: u64) -> Result<()> {
        let (connection, _) =
            client.registered().connections.remove(&id).ok_or_else(|| {
                Error::CallbackNotFound(format!("connection {id} is not registered"))
            })?;
        self.runtime.unregister(connection)
    }

    /// Starts the client's monitor; returns the networks and default network now.
    pub fn watch(&self, client: &Arc<Client>) -> Result<String> {
        let mut registered = client.registered();
        self.start_forwarder(client, &mut registered)?;
        let watch = self.runtime.watch();
        watch.events.wake_also(Arc::clone(&client.wake));
        registered.watch = Some(watch.events);
        client.wake.notify_one();
        Ok(to_json(&(&watch.networks, watch.default_net)))
    }

    /// Stops the client's monitor.
    pub fn unwatch(&self, client: &Client) {
        client.registered().watch = None;
    }

    /// Tells every client that the proxy settings changed (the one broadcast: it
    /// carries nothing).
    pub async fn broadcast_proxy_changed(&self) {
        match SignalEmitter::new(&self.connection, netcore_bus::OBJECT_PATH) {
            Ok(emitter) => {
                if let Err(e) = emitter.proxy_changed().await {
                    tracing::debug!("ProxyChanged could not be sent: {e}");
                }
            }
            Err(e) => tracing::debug!("signal emitter: {e}"),
        }
    }

    fn emitter_to(&self, client: &OwnedUniqueName) -> Result<SignalEmitter<'static>> {
        Ok(
            SignalEmitter::new(&self.connection, netcore_bus::OBJECT_PATH)
                .map_err(|e| Error::Internal(format!("signal emitter: {e}")))?
                .set_destination(BusName::Unique(client.inner().to_owned()))
                .into_owned(),
        )
    }

    /// The client `name` left the bus: its connections go, and its app's state when it
    /// was the app's last client.
    pub async fn left(&self, name: &str) {
        let Some(client) = self.clients().remove(name) else {
            return;
        };
        let registered = std::mem::take(&mut *client.registered());
        if let Some(forwarder) = registered.forwarder {
            forwarder.abort();
        }
        let count = registered.connections.len();
        for (connection, _) in registered.connections.into_values() {
            let _ = self.runtime.unregister(connection);
        }
        let app = client.caller.app;
        let last = !self.clients().values().any(|c| c.caller.app == app);
        let pid = client.caller.pid;
        tracing::debug!(%app, ?pid, client = name, connections = count, last, "client left");
        if last {
            self.runtime.remove_app(app).await;
        }
    }

    /// Forgets the clients that leave the bus, as long as the bus runs.
    pub async fn follow_departures(self: Arc<Self>) -> Result<()> {
        let dbus = zbus::fdo::DBusProxy::new(&self.connection)
            .await
            .map_err(|e| Error::Internal(format!("the bus: {e}")))?;
        let mut changes = dbus
            .receive_name_owner_changed()
            .await
            .map_err(|e| Error::Internal(format!("the bus: {e}")))?;
        while let Some(change) = changes.next().await {
            let Ok(args) = change.args() else { continue };
            if args.new_owner().is_none() && args.name().starts_with(':') {
                self.left(args.name().as_str()).await;
            }
        }
        Ok(())
    }
}

/// The groups of process `pid` (its primary and supplementary groups), from
/// `/proc`; none when they cannot be read.
fn groups_of(pid: u32) -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    let mut groups = Vec::new();
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("Groups:") {
            groups.extend(
                rest.split_whitespace()
                    .filter_map(|g| g.parse::<u32>().ok()),
            );
        } else if let Some(rest) = line.strip_prefix("Gid:") {
            // Real, effective, saved, filesystem: the effective one.
            groups.extend(
                rest.split_whitespace()
                    .nth(1)
                    .and_then(|g| g.parse::<u32>().ok()),
            );
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_groups_of_this_process() {
        let groups = groups_of(std::process::id());
        let gid = nix::unistd::getegid().as_raw();
        assert!(groups.contains(&gid), "{groups:?} lacks {gid}");
        assert!(groups_of(u32::MAX).is_empty());
    }
}
