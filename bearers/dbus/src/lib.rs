//! What netcore's D-Bus bearers (cellular on ModemManager, Bluetooth on BlueZ)
//! share: a [`Peer`], a bus connection to one service whose every call has a time
//! limit and whose failures are [`Error::Service`]; a [`ServiceWatch`] that says
//! when the service's objects changed and ends when the service leaves the bus; and
//! [`follow`], the run of such a bearer: the service's state and the kernel's links
//! turned into network reports.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use futures::stream::SelectAll;
use futures::{FutureExt, StreamExt};
use netcore::{BearerEvent, Error, NetworkInfo, ReportSink, Result};
use netcore_link::{LinkState, LinkWatcher};
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, Message, MessageStream};

#[cfg(feature = "testing")]
pub mod testing;

const DBUS_NAME: &str = "org.freedesktop.DBus";
const DBUS_PATH: &str = "/org/freedesktop/DBus";
/// The standard object manager interface.
pub const OBJECT_MANAGER_IFACE: &str = "org.freedesktop.DBus.ObjectManager";
/// The standard properties interface.
pub const PROPERTIES_IFACE: &str = "org.freedesktop.DBus.Properties";

/// Signals a stream keeps before the oldest are dropped.
const SIGNAL_QUEUE: usize = 256;

/// `text` cut to 64 characters (with `…`), for logs and errors about peer data.
pub fn clip(text: &str) -> String {
    let mut clipped: String = text.chars().take(64).collect();
    if clipped.len() < text.len() {
        clipped.push('…');
    }
    clipped
}

/// A connection to the bus a service is on.
pub struct Peer {
    connection: Connection,
    service: &'static str,
    /// How the service is named in errors, e.g. `ModemManager`.
    label: &'static str,
    timeout: Duration,
}

impl Peer {
    /// Connects to the bus at `bus_address` (the system bus if `None`) to talk to
    /// `service`, each call within `timeout`.
    pub async fn connect(
        bus_address: Option<&str>,
        service: &'static str,
        label: &'static str,
        timeout: Duration,
    ) -> Result<Self> {
        let connecting = async {
            let builder = match bus_address {
                Some(address) => zbus::connection::Builder::address(address)?,
                None => zbus::connection::Builder::system()?,
            };
            builder.build().await
        };
        let peer_error = |detail: &dyn std::fmt::Display| {
            Error::Service(format!("{label}: connecting to the bus: {detail}"))
        };
        let connection = tokio::time::timeout(timeout, connecting)
            .await
            .map_err(|_| peer_error(&"timed out"))?
            .map_err(|e| peer_error(&e))?;
        Ok(Self {
            connection,
            service,
            label,
            timeout,
        })
    }

    /// A failure of the peer ([`Error::Service`]), its detail clipped when long.
    pub fn error(&self, what: &str, detail: impl std::fmt::Display) -> Error {
        let detail = detail.to_string();
        let detail = if detail.len() > 300 {
            clip(&detail)
        } else {
            detail
        };
        Error::Service(format!("{}: {what}: {detail}", self.label))
    }

    /// Runs `call` within the time limit; failing or late is [`Error::Service`].
    pub async fn timed<T>(
        &self,
        what: &str,
        call: impl Future<Output = zbus::Result<T>>,
    ) -> Result<T> {
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| self.error(what, "no reply in time"))?
            .map_err(|e| self.error(what, e))
    }

    /// Calls `method` of the service's object at `path`.
    pub async fn call<B>(
        &self,
        path: &str,
        interface: &str,
        method: &str,
        body: &B,
    ) -> Result<Message>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.timed(
            method,
            self.connection
                .call_method(Some(self.service), path, Some(interface), method, body),
        )
        .await
    }

    /// `GetManagedObjects` of the object manager at `path`; `None` when the reply
    /// does not have the shape of `T` (logged).
    pub async fn managed_objects<T>(&self, path: &str) -> Result<Option<T>>
    where
        T: for<'de> serde::Deserialize<'de> + zbus::zvariant::Type,
    {
        let reply = self
            .call(path, OBJECT_MANAGER_IFACE, "GetManagedObjects", &())
            .await?;
        match reply.body().deserialize::<T>() {
            Ok(objects) => Ok(Some(objects)),
            Err(e) => {
                tracing::warn!(peer = self.label, error = %e, "ignoring a malformed GetManagedObjects reply");
                Ok(None)
            }
        }
    }

    async fn stream(&self, rule: zbus::Result<MatchRule<'static>>) -> Result<MessageStream> {
        let rule = rule.map_err(|e| Error::Internal(format!("a D-Bus match rule: {e}")))?;
        self.timed(
            "AddMatch",
            MessageStream::for_match_rule(rule, &self.connection, Some(SIGNAL_QUEUE)),
        )
        .await
    }

    /// Starts watching the service: its signals on the objects at or below each of
    /// `path_namespaces`, the object manager signals at `/` if `root_object_manager`,
    /// and its owner. Subscribes first, then checks that the service is on the bus
    /// (absent: [`Error::Service`]), so no change is missed in between.
    pub async fn watch(
        &self,
        path_namespaces: &[&'static str],
        root_object_manager: bool,
    ) -> Result<ServiceWatch> {
        let owners = self
            .stream(
                MatchRule::builder()
                    .msg_type(MessageType::Signal)
                    .sender(DBUS_NAME)
                    .and_then(|b| b.path(DBUS_PATH))
                    .and_then(|b| b.interface(DBUS_NAME))
                    .and_then(|b| b.member("NameOwnerChanged"))
                    .and_then(|b| b.arg(0, self.service))
                    .map(|b| b.build()),
            )
            .await?;
        let mut signals = SelectAll::new();
        for namespace in path_namespaces {
            signals.push(
                self.stream(
                    MatchRule::builder()
                        .msg_type(MessageType::Signal)
                        .path_namespace(*namespace)
                        .map(|b| b.build()),
                )
                .await?,
            );
        }
        if root_object_manager {
            signals.push(
                self.stream(
                    MatchRule::builder()
                        .msg_type(MessageType::Signal)
                        .path("/")
                        .and_then(|b| b.interface(OBJECT_MANAGER_IFACE))
                        .map(|b| b.build()),
                )
                .await?,
            );
        }
        let reply = self
            .timed(
                "NameHasOwner",
                self.connection.call_method(
                    Some(DBUS_NAME),
                    DBUS_PATH,
                    Some(DBUS_NAME),
                    "NameHasOwner",
                    &(self.service,),
                ),
            )
            .await?;
        let present = reply
            .body()
            .deserialize::<bool>()
            .map_err(|e| self.error("NameHasOwner", e))?;
        if !present {
            return Err(Error::Service(format!(
                "{} is not on the bus",
                self.service
            )));
        }
        Ok(ServiceWatch {
            owners,
            signals,
            service: self.service,
            label: self.label,
        })
    }
}

/// Watches one service on the bus (see [`Peer::watch`]).
pub struct ServiceWatch {
    owners: MessageStream,
    signals: SelectAll<MessageStream>,
    service: &'static str,
    label: &'static str,
}

impl ServiceWatch {
    fn bus_error(&self, detail: impl std::fmt::Display) -> Error {
        Error::Service(format!("{}: the bus: {detail}", self.label))
    }

    /// Waits until the service's objects changed: returns after a signal, having
    /// read every signal already queued too (one change often comes as several).
    /// Fails ([`Error::Service`]) when the service leaves the bus or gets a new
    /// owner, or the bus connection closes. Cancel-safe.
    pub async fn changed(&mut self) -> Result<()> {
        loop {
            tokio::select! {
                message = self.owners.next() => {
                    let message = message
                        .ok_or_else(|| self.bus_error("connection closed"))?
                        .map_err(|e| self.bus_error(e))?;
                    match message.body().deserialize::<(String, String, String)>() {
                        Ok((name, _, new_owner)) if name == self.service => {
                            return Err(Error::Service(if new_owner.is_empty() {
                                format!("{} left the bus", self.service)
                            } else {
                                format!("{} has a new owner; attaching again", self.service)
                            }));
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "ignoring a malformed NameOwnerChanged"),
                    }
                }
                message = self.signals.next() => {
                    message
                        .ok_or_else(|| self.bus_error("connection closed"))?
                        .map_err(|e| self.bus_error(e))?;
                    while let Some(Some(more)) = self.signals.next().now_or_never() {
                        more.map_err(|e| self.bus_error(e))?;
                    }
                    return Ok(());
                }
            }
        }
    }
}

/// Runs a D-Bus bearer: reports the networks that `networks` makes of the service's
/// state (read with `read` at start and after each change of the service) and the
/// kernel's links, until the service leaves the bus, the bus closes or the kernel
/// watch fails. Then every network reported is reported `Gone`, and the error
/// returned for the host to run the bearer again.
pub async fn follow<S, R>(
    bearer: &str,
    sink: &ReportSink,
    service: ServiceWatch,
    read: impl Fn() -> R,
    networks: impl Fn(&S, &LinkState) -> BTreeMap<String, NetworkInfo>,
) -> Result<()>
where
    S: Default,
    R: Future<Output = Result<Option<S>>>,
{
    let mut reported = BTreeMap::new();
    let result = follow_until_failure(bearer, sink, service, read, networks, &mut reported).await;
    if let Err(e) = &result {
        tracing::debug!(bearer, error = %e, "bearer stops");
    }
    for key in reported.into_keys() {
        sink.report(BearerEvent::Gone { key });
    }
    result
}

async fn follow_until_failure<S, R>(
    bearer: &str,
    sink: &ReportSink,
    mut service: ServiceWatch,
    read: impl Fn() -> R,
    networks: impl Fn(&S, &LinkState) -> BTreeMap<String, NetworkInfo>,
    reported: &mut BTreeMap<String, NetworkInfo>,
) -> Result<()>
where
    S: Default,
    R: Future<Output = Result<Option<S>>>,
{
    let mut links = LinkWatcher::start().await?;
    let mut state = read().await?.unwrap_or_default();
    tracing::info!(bearer, peer = service.label, "bearer attached");
    loop {
        let current = networks(&state, links.state());
        for event in netcore::bearer::diff_reports(reported, &current) {
            tracing::debug!(bearer, ?event, "report");
            sink.report(event);
        }
        *reported = current;

        tokio::select! {
            event = links.next_event() => {
                event.inspect_err(|e| tracing::warn!(bearer, error = %e, "bearer lost the kernel"))?;
            }
            changed = service.changed() => {
                changed?;
                match read().await? {
                    Some(fresh) => state = fresh,
                    None => tracing::debug!(bearer, peer = service.label, "keeping the previous state"),
                }
            }
        }
    }
}
