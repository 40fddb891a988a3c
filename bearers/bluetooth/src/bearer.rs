//! The bearer: BlueZ's PAN devices, plus the kernel's links, turned into network
//! reports.

use std::collections::BTreeMap;

use async_trait::async_trait;
use netcore::{
    ActivationRequest, Bearer, Error, NetAddress, NetBearType, NetworkInfo, ReportSink, Result,
};
use netcore_dbus::Peer;
use netcore_link::LinkState;
use netcore_link::properties::connection_properties;

use crate::config::BluetoothConfig;
use crate::device::{self, ManagedObjects, NETWORK_IFACE, PanDevice, SERVICE, clip};

/// The Bluetooth bearer: one network per connected PAN device (`Network1`), keyed by
/// the device's object path, with its Bluetooth address as identifier.
#[derive(Debug, Clone)]
pub struct BluetoothBearer {
    config: BluetoothConfig,
}

/// BlueZ on its bus.
struct Client {
    peer: Peer,
}

impl Client {
    async fn connect(config: &BluetoothConfig) -> Result<Self> {
        let peer = Peer::connect(
            config.bus_address.as_deref(),
            SERVICE,
            "BlueZ",
            config.call_timeout(),
        )
        .await?;
        Ok(Self { peer })
    }

    /// The PAN devices; `None` when BlueZ's reply is malformed (logged).
    async fn devices(&self) -> Result<Option<Vec<PanDevice>>> {
        Ok(self
            .peer
            .managed_objects::<ManagedObjects>("/")
            .await?
            .map(|objects| device::pan_devices(&objects)))
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
        let client = Client::connect(&self.config).await?;
        let service = client.peer.watch(&["/org/bluez"], true).await?;
        netcore_dbus::follow(
            "bluetooth",
            &sink,
            service,
            || client.devices(),
            |devices, links| self.networks(devices, links),
        )
        .await
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
            .ok_or_else(|| client.peer.error("GetManagedObjects", "malformed reply"))?;
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
            .peer
            .call(
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
            .ok_or_else(|| client.peer.error("GetManagedObjects", "malformed reply"))?;
        if !devices.iter().any(|d| d.path == key) {
            return Err(Error::invalid(format!(
                "bluetooth: no network {:?} to release",
                clip(key)
            )));
        }
        tracing::info!(device = %key, "disconnecting bluetooth PAN");
        client
            .peer
            .call(key, NETWORK_IFACE, "Disconnect", &())
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
        let request = |id: &str| ActivationRequest::new(1, Some(id.into()));
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
