//! The bearer: BlueZ's PAN devices, plus the kernel's links, turned into network
//! reports.

use std::collections::BTreeMap;
use std::future::Future;

use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use netcore::{
    ActivationRequest, Bearer, BearerEvent, Error, NetAddress, NetBearType, NetworkInfo,
    ReportSink, Result,
};
use netcore_link::properties::connection_properties;
use netcore_link::{LinkState, LinkWatcher};
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, Message, MessageStream};

use crate::config::BluetoothConfig;
use crate::device::{self, ManagedObjects, NETWORK_IFACE, PanDevice, SERVICE, clip};

const DBUS_NAME: &str = "org.freedesktop.DBus";
const DBUS_PATH: &str = "/org/freedesktop/DBus";
const OBJECT_MANAGER_IFACE: &str = "org.freedesktop.DBus.ObjectManager";

/// The Bluetooth bearer: one network per connected PAN device (`Network1`), keyed by
/// the device's object path, with its Bluetooth address as identifier.
#[derive(Debug, Clone)]
pub struct BluetoothBearer {
    config: BluetoothConfig,
}

/// A peer failure ([`Error::Service`]) with a clipped detail.
fn peer_error(what: &str, detail: impl std::fmt::Display) -> Error {
    let detail = detail.to_string();
    let detail = if detail.len() > 300 {
        clip(&detail)
    } else {
        detail
    };
    Error::Service(format!("BlueZ: {what}: {detail}"))
}

/// A connection to the bus BlueZ is on, with the call timeout.
struct Client {
    connection: Connection,
    config: BluetoothConfig,
}

impl Client {
    async fn connect(config: &BluetoothConfig) -> Result<Self> {
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

    async fn timed<T>(&self, what: &str, call: impl Future<Output = zbus::Result<T>>) -> Result<T> {
        tokio::time::timeout(self.config.call_timeout(), call)
            .await
            .map_err(|_| peer_error(what, "no reply in time"))?
            .map_err(|e| peer_error(what, e))
    }

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

    async fn service_present(&self) -> Result<bool> {
        let reply = self
            .call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "NameHasOwner", &(SERVICE,))
            .await?;
        reply
            .body()
            .deserialize::<bool>()
            .map_err(|e| peer_error("NameHasOwner", e))
    }

    /// The PAN devices; `None` when BlueZ's reply is malformed (logged).
    async fn devices(&self) -> Result<Option<Vec<PanDevice>>> {
        let reply = self
            .call(SERVICE, "/", OBJECT_MANAGER_IFACE, "GetManagedObjects", &())
            .await?;
        match reply.body().deserialize::<ManagedObjects>() {
            Ok(objects) => Ok(Some(device::pan_devices(&objects))),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a malformed GetManagedObjects reply");
                Ok(None)
            }
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

/// The network of a connected PAN device, with the kernel properties of its
/// interface when known.
pub(crate) fn network(
    config: &BluetoothConfig,
    device: &PanDevice,
    link_properties: Option<netcore::ConnectionProperties>,
) -> Option<NetworkInfo> {
    if !device.connected {
        return None;
    }
    let interface = device.interface.as_deref()?;
    let mut info = NetworkInfo::new(NetBearType::Bluetooth, interface);
    info.identifier = device.address.clone();
    if let Some(props) = link_properties {
        info.properties = props;
    }
    info.properties.dnses = config.dns.iter().map(|ip| NetAddress::from(*ip)).collect();
    Some(info)
}

impl BluetoothBearer {
    /// A bearer with `config`, checked first: a bad configuration is
    /// [`Error::InvalidValue`].
    pub fn new(config: BluetoothConfig) -> Result<Self> {
        config.check()?;
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &BluetoothConfig {
        &self.config
    }

    fn networks(&self, devices: &[PanDevice], state: &LinkState) -> BTreeMap<String, NetworkInfo> {
        let mut networks = BTreeMap::new();
        for device in devices {
            let Some(interface) = device.interface.as_deref().filter(|_| device.connected) else {
                continue;
            };
            let Some(link) = state.link_by_name(interface) else {
                tracing::debug!(device = %device.path, %interface, "connected, but the kernel has no such interface");
                continue;
            };
            let props = connection_properties(link, state);
            if let Some(info) = network(&self.config, device, Some(props)) {
                networks.insert(device.path.clone(), info);
            }
        }
        networks
    }

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
        let mut properties = client
            .stream(
                MatchRule::builder()
                    .msg_type(MessageType::Signal)
                    .path_namespace("/org/bluez")
                    .map(|b| b.build()),
            )
            .await?;
        let mut objects = client
            .stream(
                MatchRule::builder()
                    .msg_type(MessageType::Signal)
                    .path("/")
                    .and_then(|b| b.interface(OBJECT_MANAGER_IFACE))
                    .map(|b| b.build()),
            )
            .await?;
        if !client.service_present().await? {
            return Err(Error::Service(format!("{SERVICE} is not on the bus")));
        }
        let mut watcher = LinkWatcher::start().await?;
        let mut devices = client.devices().await?.unwrap_or_default();
        tracing::info!(
            devices = devices.len(),
            "bluetooth bearer attached to BlueZ"
        );
        loop {
            let current = self.networks(&devices, watcher.state());
            for event in netcore::bearer::diff_reports(reported, &current) {
                tracing::debug!(?event, "bluetooth report");
                sink.report(event);
            }
            *reported = current;

            let changed = tokio::select! {
                event = watcher.next_event() => {
                    event.inspect_err(|e| tracing::warn!(error = %e, "bluetooth bearer lost the kernel"))?;
                    false
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
                        Ok(_) => false,
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring a malformed NameOwnerChanged");
                            false
                        }
                    }
                }
                message = properties.next() => {
                    message
                        .ok_or_else(|| peer_error("the bus", "connection closed"))?
                        .map_err(|e| peer_error("the bus", e))?;
                    true
                }
                message = objects.next() => {
                    message
                        .ok_or_else(|| peer_error("the bus", "connection closed"))?
                        .map_err(|e| peer_error("the bus", e))?;
                    true
                }
            };
            if changed {
                // Read once for every signal that is already here.
                for stream in [&mut properties, &mut objects] {
                    while let Some(Some(more)) = stream.next().now_or_never() {
                        more.map_err(|e| peer_error("the bus", e))?;
                    }
                }
                match client.devices().await? {
                    Some(fresh) => devices = fresh,
                    None => tracing::debug!("keeping the previous BlueZ state"),
                }
            }
        }
    }
}

#[async_trait]
impl Bearer for BluetoothBearer {
    fn bearer_type(&self) -> NetBearType {
        NetBearType::Bluetooth
    }

    fn name(&self) -> &str {
        "bluetooth"
    }

    /// Attaches to BlueZ and reports its connected PAN devices until BlueZ leaves the
    /// bus (`NameOwnerChanged`) or the bus closes: then every reported network is
    /// reported `Gone` and the error ([`Error::Service`]) returned, for the host to
    /// run the bearer again. BlueZ absent at start is the same error.
    async fn run(&self, sink: ReportSink) -> Result<()> {
        let mut reported = BTreeMap::new();
        let result = self.follow(&sink, &mut reported).await;
        if let Err(e) = &result {
            tracing::debug!(error = %e, "bluetooth bearer stops");
        }
        for key in reported.into_keys() {
            sink.report(BearerEvent::Gone { key });
        }
        result
    }

    /// Connects the PAN of the device whose Bluetooth address is
    /// `request.identifier` (`None`: the first device offering one) with
    /// `Network1.Connect(role)`. An identifier that is not a Bluetooth address, or
    /// no such device, is [`Error::InvalidValue`]; BlueZ failing is
    /// [`Error::Service`].
    async fn activate(&self, request: ActivationRequest) -> Result<()> {
        let wanted = match &request.identifier {
            Some(id) if device::is_bluetooth_address(id) => Some(id.to_ascii_uppercase()),
            Some(id) => {
                return Err(Error::invalid(format!(
                    "bluetooth identifier {:?} is not a Bluetooth address",
                    clip(id)
                )));
            }
            None => None,
        };
        let client = Client::connect(&self.config).await?;
        let devices = client
            .devices()
            .await?
            .ok_or_else(|| peer_error("GetManagedObjects", "malformed reply"))?;
        let Some(device) = devices
            .iter()
            .find(|d| wanted.is_none() || d.address == wanted)
        else {
            return Err(Error::invalid(format!(
                "no PAN device {}",
                wanted.as_deref().unwrap_or("at all")
            )));
        };
        tracing::info!(device = %device.path, role = %self.config.role, "connecting bluetooth PAN");
        let reply = client
            .call(
                SERVICE,
                &device.path,
                NETWORK_IFACE,
                "Connect",
                &(self.config.role.as_str(),),
            )
            .await?;
        match reply.body().deserialize::<String>() {
            Ok(interface) => {
                tracing::info!(interface = %clip(&interface), "bluetooth PAN connected")
            }
            Err(e) => tracing::warn!(error = %e, "Network1.Connect replied without an interface"),
        }
        Ok(())
    }

    /// Disconnects the PAN of device `key` (`Network1.Disconnect`) unless
    /// `release_disconnects` is off. A key that is no PAN device is
    /// [`Error::InvalidValue`].
    async fn release(&self, key: &str) -> Result<()> {
        if !self.config.release_disconnects {
            return Ok(());
        }
        let client = Client::connect(&self.config).await?;
        let devices = client
            .devices()
            .await?
            .ok_or_else(|| peer_error("GetManagedObjects", "malformed reply"))?;
        if !devices.iter().any(|d| d.path == key) {
            return Err(Error::invalid(format!(
                "bluetooth: no network {:?} to release",
                clip(key)
            )));
        }
        tracing::info!(device = %key, "disconnecting bluetooth PAN");
        client
            .call(SERVICE, key, NETWORK_IFACE, "Disconnect", &())
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcore::NetCap;

    fn device(connected: bool, interface: Option<&str>) -> PanDevice {
        PanDevice {
            path: "/org/bluez/hci0/dev_AA".into(),
            address: Some("AA:BB:CC:DD:EE:FF".into()),
            connected,
            interface: interface.map(Into::into),
        }
    }

    #[test]
    fn a_connected_pan_is_a_metered_internet_network() {
        let config = BluetoothConfig {
            dns: vec!["192.0.2.53".parse().unwrap()],
            ..BluetoothConfig::default()
        };
        let info = network(&config, &device(true, Some("bnep0")), None).unwrap();
        assert_eq!(info.bearer_type, NetBearType::Bluetooth);
        assert_eq!(info.identifier.as_deref(), Some("AA:BB:CC:DD:EE:FF"));
        assert_eq!(info.properties.interface_name, "bnep0");
        assert!(info.capabilities.contains(NetCap::Internet));
        assert!(info.capabilities.contains(NetCap::NotVpn));
        assert!(!info.capabilities.contains(NetCap::NotMetered));
        assert_eq!(info.properties.dnses.len(), 1);
        assert_eq!(network(&config, &device(false, Some("bnep0")), None), None);
        assert_eq!(network(&config, &device(true, None), None), None);
    }

    #[tokio::test]
    async fn bad_identifiers_and_absent_buses() {
        let bearer = BluetoothBearer::new(BluetoothConfig {
            bus_address: Some("unix:path=/nonexistent/netcore-test-bus".into()),
            ..BluetoothConfig::default()
        })
        .unwrap();
        let request = |id: &str| ActivationRequest {
            request: 1,
            identifier: Some(id.into()),
        };
        let e = bearer.activate(request("slot0")).await.unwrap_err();
        assert_eq!(e.code(), 2_100_001, "{e}");
        let e = bearer
            .activate(request("AA:BB:CC:DD:EE:FF"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), 2_100_002, "{e}");
        let e = bearer
            .run(ReportSink::new(|event| {
                panic!("no report expected: {event:?}")
            }))
            .await
            .unwrap_err();
        assert_eq!(e.code(), 2_100_002, "{e}");
        let e = bearer.release("/org/bluez/hci0/dev_AA").await.unwrap_err();
        assert_eq!(e.code(), 2_100_002, "{e}");
    }
}
