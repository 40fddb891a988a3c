//! The bearer: ModemManager's modems and bearer objects, plus the kernel's links,
//! turned into network reports.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use netcore::{
    ActivationRequest, Bearer, BearerEvent, Error, NetAddress, NetBearType, NetCap, NetworkInfo,
    ReportSink, Result,
};
use netcore_link::properties::connection_properties;
use netcore_link::{LinkState, LinkWatcher};
use zbus::message::Type as MessageType;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, Value};
use zbus::{Connection, MatchRule, Message, MessageStream};

use crate::config::{CellularConfig, netcore_clip};
use crate::modem::{
    self, BEARER_IFACE, BearerObject, MANAGER_PATH, ManagedObjects, Modem, Properties, SERVICE,
    SIMPLE_IFACE,
};

const DBUS_NAME: &str = "org.freedesktop.DBus";
const DBUS_PATH: &str = "/org/freedesktop/DBus";
const OBJECT_MANAGER_IFACE: &str = "org.freedesktop.DBus.ObjectManager";
const PROPERTIES_IFACE: &str = "org.freedesktop.DBus.Properties";

/// The cellular bearer: one network per connected ModemManager bearer object, keyed
/// by its object path, with the SIM slot of its modem (`slot0`, `slot1`) as
/// identifier.
#[derive(Debug, Clone)]
pub struct CellularBearer {
    config: CellularConfig,
}

/// A modem and its bearer objects (path, state), as last read.
type Snapshot = Vec<(Modem, Vec<(String, BearerObject)>)>;

/// A connection to the bus ModemManager is on, with the call timeout.
struct Client {
    connection: Connection,
    config: CellularConfig,
}

/// A peer failure ([`Error::Service`]) with a clipped detail.
fn peer_error(what: &str, detail: impl std::fmt::Display) -> Error {
    let detail = detail.to_string();
    let detail = if detail.len() > 300 {
        netcore_clip(&detail)
    } else {
        detail
    };
    Error::Service(format!("ModemManager: {what}: {detail}"))
}

impl Client {
    async fn connect(config: &CellularConfig) -> Result<Self> {
        let connecting = async {
            let builder = match &config.bus_address {
                Some(address) => zbus::connection::Builder::address(address.as_str())?,
                None => zbus::connection::Builder::system()?,
            };
            builder.build().await
        };
        let connection = tokio::time::timeout(config.call_timeout(), connecting)
            .await
            .map_err(|_| peer_error("connecting to the bus", "timed out"))?
            .map_err(|e| peer_error("connecting to the bus", e))?;
        Ok(Self {
            connection,
            config: config.clone(),
        })
    }

    /// Calls `method`; a failed or late call is [`Error::Service`].
    async fn call<B>(
        &self,
        destination: &str,
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
                .call_method(Some(destination), path, Some(interface), method, body),
        )
        .await
    }

    async fn timed<T>(&self, what: &str, call: impl Future<Output = zbus::Result<T>>) -> Result<T> {
        tokio::time::timeout(self.config.call_timeout(), call)
            .await
            .map_err(|_| peer_error(what, "no reply in time"))?
            .map_err(|e| peer_error(what, e))
    }

    async fn service_present(&self) -> Result<bool> {
        let reply = self
            .call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "NameHasOwner", &(SERVICE,))
            .await?;
        reply
            .body()
            .deserialize::<bool>()
            .map_err(|e| peer_error("NameHasOwner", e))
    }

    /// `GetManagedObjects`; `None` when the reply has the wrong shape (logged).
    async fn managed_objects(&self) -> Result<Option<ManagedObjects>> {
        let reply = self
            .call(
                SERVICE,
                MANAGER_PATH,
                OBJECT_MANAGER_IFACE,
                "GetManagedObjects",
                &(),
            )
            .await?;
        match reply.body().deserialize::<ManagedObjects>() {
            Ok(objects) => Ok(Some(objects)),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a malformed GetManagedObjects reply");
                Ok(None)
            }
        }
    }

    /// A bearer object's properties; `None` when it cannot be read (logged).
    async fn bearer(&self, path: &str) -> Option<BearerObject> {
        let reply = self
            .call(SERVICE, path, PROPERTIES_IFACE, "GetAll", &(BEARER_IFACE,))
            .await;
        let props = reply.and_then(|reply| {
            reply
                .body()
                .deserialize::<Properties>()
                .map_err(|e| peer_error("GetAll", e))
        });
        match props {
            Ok(props) => Some(modem::bearer_object(path, &props)),
            Err(e) => {
                tracing::warn!(bearer = %netcore_clip(path), error = %e, "cannot read a bearer object");
                None
            }
        }
    }

    /// The modems and their bearers; `None` when ModemManager's reply is malformed.
    async fn snapshot(&self) -> Result<Option<Snapshot>> {
        let Some(objects) = self.managed_objects().await? else {
            return Ok(None);
        };
        let mut snapshot = Vec::new();
        for modem in modem::modems(&objects) {
            let mut bearers = Vec::new();
            for path in &modem.bearers {
                if let Some(bearer) = self.bearer(path).await {
                    bearers.push((path.clone(), bearer));
                }
            }
            snapshot.push((modem, bearers));
        }
        Ok(Some(snapshot))
    }

    /// The modems, for activation and release.
    async fn modems(&self) -> Result<Vec<Modem>> {
        match self.managed_objects().await? {
            Some(objects) => Ok(modem::modems(&objects)),
            None => Err(peer_error(
                "GetManagedObjects",
                "the reply is not a{oa{sa{sv}}}",
            )),
        }
    }

    async fn stream(&self, rule: zbus::Result<MatchRule<'static>>) -> Result<MessageStream> {
        let rule = rule.map_err(|e| Error::Internal(format!("a D-Bus match rule: {e}")))?;
        self.timed(
            "AddMatch",
            MessageStream::for_match_rule(rule, &self.connection, Some(256)),
        )
        .await
    }
}

/// The network of a connected bearer object of `modem`, with the kernel properties
/// of its interface (`None`: no such interface, no network).
pub(crate) fn network(
    config: &CellularConfig,
    modem: &Modem,
    bearer: &BearerObject,
    link_properties: Option<netcore::ConnectionProperties>,
) -> Option<NetworkInfo> {
    if !bearer.connected {
        return None;
    }
    let interface = bearer.interface.as_deref()?;
    let mut info = NetworkInfo::new(NetBearType::Cellular, interface)
        .with_identifier(modem.slot.clone())
        .with_capability(NetCap::Mms, config.serves_mms());
    info.quality = modem.quality;
    if let Some(props) = link_properties {
        info.properties = props;
    }
    info.properties.dnses = bearer.dns.iter().map(|ip| NetAddress::from(*ip)).collect();
    Some(info)
}

impl CellularBearer {
    /// A bearer with `config`, checked first: a bad configuration is
    /// [`Error::InvalidValue`].
    pub fn new(config: CellularConfig) -> Result<Self> {
        config.check()?;
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &CellularConfig {
        &self.config
    }

    /// The networks of every connected bearer object whose interface the kernel has.
    fn networks(&self, snapshot: &Snapshot, state: &LinkState) -> BTreeMap<String, NetworkInfo> {
        let mut networks = BTreeMap::new();
        for (modem, bearers) in snapshot {
            for (path, bearer) in bearers {
                if !bearer.connected {
                    continue;
                }
                let Some(interface) = bearer.interface.as_deref() else {
                    tracing::warn!(bearer = %path, "connected bearer without an interface");
                    continue;
                };
                let Some(link) = state.link_by_name(interface) else {
                    tracing::debug!(bearer = %path, %interface, "connected, but the kernel has no such interface");
                    continue;
                };
                let props = connection_properties(link, state);
                if let Some(info) = network(&self.config, modem, bearer, Some(props)) {
                    networks.insert(path.clone(), info);
                }
            }
        }
        networks
    }

    /// Follows ModemManager and the kernel, keeping `reported` up to date, until
    /// ModemManager leaves the bus or the bus or kernel fails.
    async fn follow(
        &self,
        sink: &ReportSink,
        reported: &mut BTreeMap<String, NetworkInfo>,
    ) -> Result<()> {
        let client = Client::connect(&self.config).await?;
        let mut owners = client
            .stream(
                MatchRule::builder()
                    .msg_type(MessageType::Signal)
                    .sender(DBUS_NAME)
                    .and_then(|b| b.path(DBUS_PATH))
                    .and_then(|b| b.interface(DBUS_NAME))
                    .and_then(|b| b.member("NameOwnerChanged"))
                    .and_then(|b| b.arg(0, SERVICE))
                    .map(|b| b.build()),
            )
            .await?;
        let mut signals = client
            .stream(
                MatchRule::builder()
                    .msg_type(MessageType::Signal)
                    .path_namespace(MANAGER_PATH)
                    .map(|b| b.build()),
            )
            .await?;
        if !client.service_present().await? {
            return Err(Error::Service(format!("{SERVICE} is not on the bus")));
        }
        let mut watcher = LinkWatcher::start().await?;
        let mut snapshot = client.snapshot().await?.unwrap_or_default();
        tracing::info!(
            modems = snapshot.len(),
            "cellular bearer attached to ModemManager"
        );
        loop {
            let current = self.networks(&snapshot, watcher.state());
            for event in netcore::bearer::diff_reports(reported, &current) {
                tracing::debug!(?event, "cellular report");
                sink.report(event);
            }
            *reported = current;

            tokio::select! {
                event = watcher.next_event() => {
                    event.inspect_err(|e| tracing::warn!(error = %e, "cellular bearer lost the kernel"))?;
                }
                message = owners.next() => {
                    let message = message
                        .ok_or_else(|| peer_error("the bus", "connection closed"))?
                        .map_err(|e| peer_error("the bus", e))?;
                    match message.body().deserialize::<(String, String, String)>() {
                        Ok((name, _, new_owner)) if name == SERVICE => {
                            return Err(if new_owner.is_empty() {
                                Error::Service(format!("{SERVICE} left the bus"))
                            } else {
                                Error::Service(format!("{SERVICE} has a new owner; attaching again"))
                            });
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "ignoring a malformed NameOwnerChanged"),
                    }
                }
                message = signals.next() => {
                    message
                        .ok_or_else(|| peer_error("the bus", "connection closed"))?
                        .map_err(|e| peer_error("the bus", e))?;
                    // Several signals for one change (InterfacesAdded, then
                    // PropertiesChanged): read once for all that are already here.
                    while let Some(Some(more)) = signals.next().now_or_never() {
                        more.map_err(|e| peer_error("the bus", e))?;
                    }
                    match client.snapshot().await? {
                        Some(fresh) => snapshot = fresh,
                        None => tracing::debug!("keeping the previous ModemManager state"),
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Bearer for CellularBearer {
    fn bearer_type(&self) -> NetBearType {
        NetBearType::Cellular
    }

    fn name(&self) -> &str {
        "cellular"
    }

    /// Attaches to ModemManager and reports its connected bearers until ModemManager
    /// leaves the bus (`NameOwnerChanged`) or the bus closes: then every reported
    /// network is reported `Gone` and the error ([`Error::Service`]) returned, for the
    /// host to run the bearer again. ModemManager absent at start is the same error.
    async fn run(&self, sink: ReportSink) -> Result<()> {
        let mut reported = BTreeMap::new();
        let result = self.follow(&sink, &mut reported).await;
        if let Err(e) = &result {
            tracing::debug!(error = %e, "cellular bearer stops");
        }
        for key in reported.into_keys() {
            sink.report(BearerEvent::Gone { key });
        }
        result
    }

    /// Connects the modem whose active SIM slot is `request.identifier` (`slot0`,
    /// `slot1`; `None`: the first modem) with `Modem.Simple.Connect` and the
    /// configured APN. An identifier that is not `slotN`, or no modem on that slot,
    /// is [`Error::InvalidValue`]; ModemManager failing is [`Error::Service`].
    async fn activate(&self, request: ActivationRequest) -> Result<()> {
        if let Some(id) = &request.identifier
            && modem::parse_slot(id).is_none()
        {
            return Err(Error::invalid(format!(
                "cellular identifier {:?} is not a SIM slot (slot0, slot1, ...)",
                netcore_clip(id)
            )));
        }
        let client = Client::connect(&self.config).await?;
        let modems = client.modems().await?;
        let chosen = modems
            .iter()
            .find(|m| request.identifier.as_ref().is_none_or(|id| &m.slot == id));
        let Some(modem) = chosen else {
            return Err(Error::invalid(format!(
                "no modem with SIM slot {} ({} modems)",
                request.identifier.as_deref().unwrap_or("any"),
                modems.len()
            )));
        };
        let mut properties: HashMap<&str, Value<'_>> = HashMap::new();
        if !self.config.apn.is_empty() {
            properties.insert("apn", Value::from(self.config.apn.as_str()));
        }
        if let Some(user) = &self.config.user {
            properties.insert("user", Value::from(user.as_str()));
        }
        if let Some(password) = &self.config.password {
            properties.insert("password", Value::from(password.as_str()));
        }
        tracing::info!(modem = %modem.path, slot = %modem.slot, apn = %self.config.apn, "connecting cellular data");
        let reply = client
            .call(
                SERVICE,
                &modem.path,
                SIMPLE_IFACE,
                "Connect",
                &(properties,),
            )
            .await?;
        match reply.body().deserialize::<OwnedObjectPath>() {
            Ok(bearer) => tracing::info!(bearer = %bearer.as_str(), "cellular data connected"),
            Err(e) => tracing::warn!(error = %e, "Connect replied without a bearer path"),
        }
        Ok(())
    }

    /// Disconnects the bearer object `key` (`Modem.Simple.Disconnect`) unless
    /// `release_disconnects` is off. A key no modem has is [`Error::InvalidValue`].
    async fn release(&self, key: &str) -> Result<()> {
        if !self.config.release_disconnects {
            return Ok(());
        }
        let path = ObjectPath::try_from(key).map_err(|_| {
            Error::invalid(format!(
                "cellular: no network {:?} to release",
                netcore_clip(key)
            ))
        })?;
        let client = Client::connect(&self.config).await?;
        let modems = client.modems().await?;
        let Some(modem) = modems.iter().find(|m| m.bearers.iter().any(|b| b == key)) else {
            return Err(Error::invalid(format!(
                "cellular: no network {:?} to release",
                netcore_clip(key)
            )));
        };
        tracing::info!(modem = %modem.path, bearer = %key, "disconnecting cellular data");
        client
            .call(SERVICE, &modem.path, SIMPLE_IFACE, "Disconnect", &(path,))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modem(slot: &str, quality: Option<u8>) -> Modem {
        Modem {
            path: "/m".into(),
            state: Some(11),
            slot: slot.into(),
            quality,
            bearers: vec!["/b/0".into()],
        }
    }

    fn connected() -> BearerObject {
        BearerObject {
            connected: true,
            interface: Some("wwan0".into()),
            dns: vec!["10.64.0.53".parse().unwrap()],
        }
    }

    #[test]
    fn a_connected_bearer_is_a_metered_internet_network_on_its_slot() {
        let config = CellularConfig::default();
        let info = network(&config, &modem("slot1", Some(70)), &connected(), None).unwrap();
        assert_eq!(info.bearer_type, NetBearType::Cellular);
        assert_eq!(info.identifier.as_deref(), Some("slot1"));
        assert_eq!(info.properties.interface_name, "wwan0");
        assert_eq!(info.quality, Some(70));
        assert!(info.capabilities.contains(NetCap::Internet));
        assert!(info.capabilities.contains(NetCap::NotVpn));
        assert!(!info.capabilities.contains(NetCap::NotMetered));
        assert!(!info.capabilities.contains(NetCap::Mms));
        assert_eq!(
            info.properties.dnses,
            [NetAddress::from(
                "10.64.0.53".parse::<std::net::IpAddr>().unwrap()
            )]
        );
    }

    #[test]
    fn mms_follows_the_apn_types() {
        let config = CellularConfig {
            apn_types: vec!["default".into(), "mms".into()],
            ..CellularConfig::default()
        };
        let info = network(&config, &modem("slot0", None), &connected(), None).unwrap();
        assert!(info.capabilities.contains(NetCap::Mms));
        assert_eq!(info.quality, None);
    }

    #[test]
    fn no_network_without_connection_or_interface() {
        let config = CellularConfig::default();
        let down = BearerObject {
            connected: false,
            ..connected()
        };
        assert_eq!(network(&config, &modem("slot0", None), &down, None), None);
        let nameless = BearerObject {
            interface: None,
            ..connected()
        };
        assert_eq!(
            network(&config, &modem("slot0", None), &nameless, None),
            None
        );
    }

    #[test]
    fn kernel_properties_are_kept_and_dns_added() {
        let config = CellularConfig::default();
        let kernel = netcore::ConnectionProperties {
            interface_name: "wwan0".into(),
            mtu: 1430,
            ..Default::default()
        };
        let info = network(&config, &modem("slot0", None), &connected(), Some(kernel)).unwrap();
        assert_eq!(info.properties.mtu, 1430);
        assert_eq!(info.properties.dnses.len(), 1);
    }

    #[tokio::test]
    async fn activation_refuses_identifiers_that_are_not_slots() {
        let bearer = CellularBearer::new(CellularConfig::default()).unwrap();
        let e = bearer
            .activate(ActivationRequest {
                request: 1,
                identifier: Some("wlan0".into()),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), 2_100_001, "{e}");
    }

    #[tokio::test]
    async fn an_absent_bus_is_a_peer_failure() {
        let bearer = CellularBearer::new(CellularConfig {
            bus_address: Some("unix:path=/nonexistent/netcore-test-bus".into()),
            ..CellularConfig::default()
        })
        .unwrap();
        let e = bearer
            .run(ReportSink::new(|event| {
                panic!("no report expected: {event:?}")
            }))
            .await
            .unwrap_err();
        assert_eq!(e.code(), 2_100_002, "{e}");
        let e = bearer
            .activate(ActivationRequest {
                request: 1,
                identifier: Some("slot0".into()),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), 2_100_002, "{e}");
        let e = bearer
            .release("/org/freedesktop/ModemManager1/Bearer/0")
            .await
            .unwrap_err();
        assert_eq!(e.code(), 2_100_002, "{e}");
    }
}
