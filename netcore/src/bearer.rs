//! Bearers: the producers of networks (Ethernet, Wi-Fi, cellular, ...).
//!
//! A bearer watches its peer (the kernel, wpa_supplicant, ModemManager, ...) and
//! reports its networks through a [`ReportSink`] as [`BearerEvent`]s. The engine turns
//! those reports into networks with netIds; it can ask a bearer to activate a network
//! for a request (a SIM slot, a Wi-Fi network id) and to release one nobody needs.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{ConnectionProperties, NetBearType, NetCap, NetCapSet};

/// Longest network key, identifier or interface name a bearer may report, in bytes.
pub const MAX_NAME_LEN: usize = 256;
/// Most addresses, routes or DNS servers a bearer may report for one network.
pub const MAX_LIST_LEN: usize = 1024;

/// What a bearer knows of one of its networks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NetworkInfo {
    /// The bearer type; must be the bearer's own.
    pub bearer_type: NetBearType,
    /// The seed's `bearerPrivateIdentifier`: `slot0`/`slot1`, a Wi-Fi network id.
    pub identifier: Option<String>,
    /// Capabilities the bearer declares (INTERNET, NOT_METERED, NOT_VPN, MMS). The
    /// engine owns VALIDATED, PORTAL and CHECKING_CONNECTIVITY and ignores them here.
    pub capabilities: NetCapSet,
    /// Uplink bandwidth in kbit/s, when known.
    pub link_up_bandwidth_kbps: Option<u32>,
    /// Downlink bandwidth in kbit/s, when known.
    pub link_down_bandwidth_kbps: Option<u32>,
    /// Interface, addresses, routes, DNS servers, MTU.
    pub properties: ConnectionProperties,
    /// Link quality in percent (0 to 100): Wi-Fi signal, cellular signal quality.
    pub quality: Option<u8>,
    /// Whether the network is blocked.
    pub blocked: bool,
    /// What only some bearers know (Wi-Fi SSID, cellular APN, ...).
    #[serde(default)]
    pub details: BearerDetails,
}

/// What only some bearers know of a network, for the second platform's profiles
/// (seed 004's Wi-Fi and cellular profile getters). Each string is at most
/// [`MAX_NAME_LEN`] bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct BearerDetails {
    /// Wi-Fi: the network's name (SSID, as wpa_supplicant prints it).
    pub ssid: Option<String>,
    /// Wi-Fi: the access point (BSSID).
    pub bssid: Option<String>,
    /// Wi-Fi: the channel's frequency in MHz.
    pub frequency_mhz: Option<u32>,
    /// Wi-Fi: the key management (wpa_supplicant's `key_mgmt`, e.g. `WPA2-PSK`).
    pub security: Option<String>,
    /// Wi-Fi: the signal in dBm.
    pub rssi_dbm: Option<i32>,
    /// Cellular: the access point name.
    pub apn: Option<String>,
}

impl BearerDetails {
    /// The strings, to bound their size.
    pub(crate) fn strings(&self) -> [&str; 4] {
        [
            self.ssid.as_deref().unwrap_or(""),
            self.bssid.as_deref().unwrap_or(""),
            self.security.as_deref().unwrap_or(""),
            self.apn.as_deref().unwrap_or(""),
        ]
    }
}

impl NetworkInfo {
    /// A network on `interface` with the usual capabilities of its bearer type:
    /// INTERNET and NOT_VPN, plus NOT_METERED for Ethernet and Wi-Fi; a VPN has
    /// INTERNET only.
    pub fn new(bearer_type: NetBearType, interface: &str) -> Self {
        let mut capabilities = NetCapSet::of(&[NetCap::Internet]);
        if bearer_type != NetBearType::Vpn {
            capabilities.insert(NetCap::NotVpn);
        }
        if matches!(bearer_type, NetBearType::Ethernet | NetBearType::Wifi) {
            capabilities.insert(NetCap::NotMetered);
        }
        Self {
            bearer_type,
            identifier: None,
            capabilities,
            link_up_bandwidth_kbps: None,
            link_down_bandwidth_kbps: None,
            properties: ConnectionProperties {
                interface_name: interface.to_owned(),
                mtu: 1500,
                ..ConnectionProperties::default()
            },
            quality: None,
            blocked: false,
            details: BearerDetails::default(),
        }
    }

    /// The same network with the identifier `id`.
    pub fn with_identifier(mut self, id: impl Into<String>) -> Self {
        self.identifier = Some(id.into());
        self
    }

    /// The same network with quality `quality` (percent).
    pub fn with_quality(mut self, quality: u8) -> Self {
        self.quality = Some(quality);
        self
    }

    /// The same network, metered or not.
    pub fn metered(mut self, metered: bool) -> Self {
        self.capabilities.set(NetCap::NotMetered, !metered);
        self
    }

    /// The same network with capability `cap` present or not.
    pub fn with_capability(mut self, cap: NetCap, present: bool) -> Self {
        self.capabilities.set(cap, present);
        self
    }

    /// The same network with `details`.
    pub fn with_details(mut self, details: BearerDetails) -> Self {
        self.details = details;
        self
    }
}

/// A report from a bearer about one of its networks, named by the bearer's own key
/// (an interface name, a D-Bus object path): unique within the bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BearerEvent {
    /// A network connected.
    Appeared {
        /// The bearer's key for it.
        key: String,
        /// What the bearer knows of it.
        info: NetworkInfo,
    },
    /// A network's capabilities, properties, quality or blocked state changed; `info`
    /// is the whole new state.
    Changed {
        /// The bearer's key for it.
        key: String,
        /// What the bearer knows of it now.
        info: NetworkInfo,
    },
    /// A network disconnected.
    Gone {
        /// The bearer's key for it.
        key: String,
    },
}

/// A bearer's configuration from its JSON form (a plugin's configuration, a file
/// section): `null` gives the defaults; what serde refuses, and what `check`
/// refuses, is [`Error::InvalidValue`] naming the bearer (`"wifi configuration:
/// ..."`).
pub fn config_from_value<T>(
    bearer: &str,
    value: serde_json::Value,
    check: impl FnOnce(&T) -> Result<()>,
) -> Result<T>
where
    T: serde::de::DeserializeOwned + Default,
{
    let config = if value.is_null() {
        T::default()
    } else {
        serde_json::from_value(value)
            .map_err(|e| Error::invalid(format!("{bearer} configuration: {e}")))?
    };
    check(&config)?;
    Ok(config)
}

/// [`config_from_value`] from JSON text.
pub fn config_from_json<T>(
    bearer: &str,
    text: &str,
    check: impl FnOnce(&T) -> Result<()>,
) -> Result<T>
where
    T: serde::de::DeserializeOwned + Default,
{
    let value = serde_json::from_str(text)
        .map_err(|e| Error::invalid(format!("{bearer} configuration: {e}")))?;
    config_from_value(bearer, value, check)
}

/// The reports that take a consumer from the networks `old` to the networks `new`
/// (both by key): `Gone` first, then `Appeared` and `Changed` in key order. Bearers
/// that recompute their networks from a snapshot (the kernel's, wpa_supplicant's)
/// report with it.
pub fn diff_reports(
    old: &BTreeMap<String, NetworkInfo>,
    new: &BTreeMap<String, NetworkInfo>,
) -> Vec<BearerEvent> {
    let gone = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(|key| BearerEvent::Gone { key: key.clone() });
    let came = new.iter().filter_map(|(key, info)| match old.get(key) {
        None => Some(BearerEvent::Appeared {
            key: key.clone(),
            info: info.clone(),
        }),
        Some(before) if before != info => Some(BearerEvent::Changed {
            key: key.clone(),
            info: info.clone(),
        }),
        Some(_) => None,
    });
    gone.chain(came).collect()
}

/// A request to a bearer to bring up a network (built with
/// [`ActivationRequest::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActivationRequest {
    /// The id of the request (a registered connection) that wants it.
    pub request: u64,
    /// Which network: `slot0`/`slot1`, a Wi-Fi network id; `None` for any.
    pub identifier: Option<String>,
}

impl ActivationRequest {
    /// A request from connection `request` for the network `identifier` (`None`:
    /// any).
    pub fn new(request: u64, identifier: Option<String>) -> Self {
        Self {
            request,
            identifier,
        }
    }
}

/// Where a bearer sends its reports. Sending never blocks and never fails: the
/// receiving side queues the report for the engine.
#[derive(Clone)]
pub struct ReportSink(Arc<dyn Fn(BearerEvent) + Send + Sync>);

impl ReportSink {
    /// A sink that hands every report to `deliver`.
    pub fn new(deliver: impl Fn(BearerEvent) + Send + Sync + 'static) -> Self {
        Self(Arc::new(deliver))
    }

    /// Sends a report.
    pub fn report(&self, event: BearerEvent) {
        (self.0)(event)
    }
}

impl std::fmt::Debug for ReportSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReportSink")
    }
}

/// A producer of networks. Implementations are driven by the host: [`Bearer::run`] is
/// polled for as long as the bearer lives, and [`Bearer::activate`] and
/// [`Bearer::release`] may be called concurrently with it.
#[async_trait]
pub trait Bearer: Send + Sync + 'static {
    /// The bearer type of every network this bearer reports.
    fn bearer_type(&self) -> NetBearType;

    /// A short name for logs ("ethernet", "wifi:wlan0").
    fn name(&self) -> &str;

    /// Watches the peer and reports networks to `sink` until the bearer stops. An
    /// `Err` means the bearer failed: the host reports its networks gone and runs it
    /// again after a backoff. When it starts (again), the bearer reports every network
    /// it has as [`BearerEvent::Appeared`].
    async fn run(&self, sink: ReportSink) -> Result<()>;

    /// Asks the bearer to bring up a network for a request. The network, when it
    /// comes, is reported through the sink as usual. The default refuses: the bearer's
    /// networks come up on their own.
    async fn activate(&self, request: ActivationRequest) -> Result<()> {
        Err(crate::Error::Service(format!(
            "bearer {} cannot activate networks on request (asked for {:?})",
            self.name(),
            request.identifier
        )))
    }

    /// Tells the bearer that nobody needs the network `key` any more; a bearer whose
    /// networks cost something (cellular data) may take it down. The default keeps it.
    async fn release(&self, key: &str) -> Result<()> {
        let _ = key;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_reports_gone_then_appeared_and_changed() {
        let info = |name: &str, mtu: u32| {
            let mut i = NetworkInfo::new(NetBearType::Ethernet, name);
            i.properties.mtu = mtu;
            i
        };
        let old: BTreeMap<_, _> = [
            ("a".to_string(), info("a", 1500)),
            ("b".into(), info("b", 1500)),
        ]
        .into();
        let new: BTreeMap<_, _> = [
            ("b".to_string(), info("b", 1400)),
            ("c".into(), info("c", 1500)),
        ]
        .into();
        assert_eq!(
            diff_reports(&old, &new),
            vec![
                BearerEvent::Gone { key: "a".into() },
                BearerEvent::Changed {
                    key: "b".into(),
                    info: info("b", 1400)
                },
                BearerEvent::Appeared {
                    key: "c".into(),
                    info: info("c", 1500)
                },
            ]
        );
        assert!(diff_reports(&new, &new).is_empty());
    }
}
