//! The bearer: ModemManager's modems and bearer objects, plus the kernel's links,
//! turned into network reports.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use netcore::{
    ActivationRequest, Bearer, Error, NetAddress, NetBearType, NetCap, NetworkInfo, ReportSink,
    Result,
};
use netcore_dbus::{PROPERTIES_IFACE, Peer, clip};
use netcore_link::LinkState;
use netcore_link::properties::connection_properties;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, Value};

use crate::config::CellularConfig;
use crate::modem::{
    self, BEARER_IFACE, BearerObject, MANAGER_PATH, ManagedObjects, Modem, Properties, SERVICE,
    SIMPLE_IFACE,
};

/// The cellular bearer: one network per connected ModemManager bearer object, keyed
/// by its object path, with the SIM slot of its modem (`slot0`, `slot1`) as
/// identifier.
#[derive(Debug, Clone)]
pub struct CellularBearer {
    config: CellularConfig,
}

/// A modem and its bearer objects (path, state), as last read.
type Snapshot = Vec<(Modem, Vec<(String, BearerObject)>)>;

/// ModemManager on its bus.
struct Client {
    peer: Peer,
}

impl Client {
    async fn connect(config: &CellularConfig) -> Result<Self> {
        let peer = Peer::connect(
            config.bus_address.as_deref(),
            SERVICE,
            "ModemManager",
            config.call_timeout(),
        )
        .await?;
        Ok(Self { peer })
    }

    /// A bearer object's properties; `None` when it cannot be read (logged).
    async fn bearer(&self, path: &str) -> Option<BearerObject> {
        let reply = self
            .peer
            .call(path, PROPERTIES_IFACE, "GetAll", &(BEARER_IFACE,))
            .await;
        let props = reply.and_then(|reply| {
            reply
                .body()
                .deserialize::<Properties>()
                .map_err(|e| self.peer.error("GetAll", e))
        });
        match props {
            Ok(props) => Some(modem::bearer_object(path, &props)),
            Err(e) => {
                tracing::warn!(bearer = %clip(path), error = %e, "cannot read a bearer object");
                None
            }
        }
    }

    /// The modems and their bearers; `None` when ModemManager's reply is malformed.
    async fn snapshot(&self) -> Result<Option<Snapshot>> {
        let Some(objects) = self
            .peer
            .managed_objects::<ManagedObjects>(MANAGER_PATH)
            .await?
        else {
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
        match self
            .peer
            .managed_objects::<ManagedObjects>(MANAGER_PATH)
            .await?
        {
            Some(objects) => Ok(modem::modems(&objects)),
            None => Err(self
                .peer
                .error("GetManagedObjects", "the reply is not a{oa{sa{sv}}}")),
        }
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
    info.details.apn = Some(config.apn.clone()).filter(|apn| !apn.is_empty());
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
        let client = Client::connect(&self.config).await?;
        let service = client.peer.watch(&[MANAGER_PATH], false).await?;
        netcore_dbus::follow(
            "cellular",
            &sink,
            service,
            || client.snapshot(),
            |snapshot, links| self.networks(snapshot, links),
        )
        .await
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
                clip(id)
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
            .peer
            .call(&modem.path, SIMPLE_IFACE, "Connect", &(properties,))
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
            Error::invalid(format!("cellular: no network {:?} to release", clip(key)))
        })?;
        let client = Client::connect(&self.config).await?;
        let modems = client.modems().await?;
        let Some(modem) = modems.iter().find(|m| m.bearers.iter().any(|b| b == key)) else {
            return Err(Error::invalid(format!(
                "cellular: no network {:?} to release",
                clip(key)
            )));
        };
        tracing::info!(modem = %modem.path, bearer = %key, "disconnecting cellular data");
        client
            .peer
            .call(&modem.path, SIMPLE_IFACE, "Disconnect", &(path,))
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
        assert_eq!(info.details.apn, None, "no APN configured");
        let with_apn = CellularConfig {
            apn: "internet.example".into(),
            ..CellularConfig::default()
        };
        let info_apn = network(&with_apn, &modem("slot1", None), &connected(), None).unwrap();
        assert_eq!(info_apn.details.apn.as_deref(), Some("internet.example"));
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
            .activate(ActivationRequest::new(1, Some("wlan0".into())))
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
            .activate(ActivationRequest::new(1, Some("slot0".into())))
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
