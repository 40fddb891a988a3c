//! Identifiers, configuration, inputs and outputs of the engine.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::app::AppId;
use crate::error::{Error, Result};
use crate::model::{
    ConnectionProperties, NetBearType, NetBlockStatusInfo, NetCapabilityInfo,
    NetConnectionPropertyInfo, NetHandle,
};

/// A bearer known to the engine, numbered in the order it was added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BearerId(pub u32);

/// A connection (the seed's `NetConnection` object), chosen by the caller and unique
/// among the connections it registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConnectionId(pub u64);

/// The order in which bearer types are preferred for the default network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceProfile {
    bearer_priority: Vec<NetBearType>,
}

impl DeviceProfile {
    /// The usual profile: Ethernet > Wi-Fi > Bluetooth > Cellular.
    pub fn standard() -> Self {
        Self {
            bearer_priority: vec![
                NetBearType::Ethernet,
                NetBearType::Wifi,
                NetBearType::Bluetooth,
                NetBearType::Cellular,
            ],
        }
    }

    /// A watch: Bluetooth (the paired phone) > Wi-Fi > Cellular > Ethernet.
    pub fn watch() -> Self {
        Self {
            bearer_priority: vec![
                NetBearType::Bluetooth,
                NetBearType::Wifi,
                NetBearType::Cellular,
                NetBearType::Ethernet,
            ],
        }
    }

    /// A profile preferring bearer types in the given order; types not listed come
    /// last. A type listed twice is refused (2100001).
    pub fn custom(order: &[NetBearType]) -> Result<Self> {
        for (i, t) in order.iter().enumerate() {
            if order[..i].contains(t) {
                return Err(Error::invalid(format!(
                    "bearer type {t} is listed twice in the priority"
                )));
            }
        }
        Ok(Self {
            bearer_priority: order.to_vec(),
        })
    }

    /// The rank of `bearer_type`: 0 is the most preferred.
    pub fn rank(&self, bearer_type: NetBearType) -> usize {
        self.bearer_priority
            .iter()
            .position(|&t| t == bearer_type)
            .unwrap_or(self.bearer_priority.len())
    }
}

impl Default for DeviceProfile {
    fn default() -> Self {
        Self::standard()
    }
}

/// How the engine selects networks and schedules checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EngineConfig {
    /// Bearer preference for the default network.
    pub profile: DeviceProfile,
    /// How long a network that nobody needs any more is kept before it is released.
    pub linger: Duration,
    /// A network must beat the current one by this many quality points to replace it,
    /// and must rise this far above `poor_quality` to stop counting as poor.
    pub quality_hysteresis: u8,
    /// Below this quality (percent) a network counts as poor and loses to any
    /// network that is not.
    pub poor_quality: u8,
    /// Most live (registered) requests one app may hold.
    pub max_requests_per_app: usize,
    /// The first wait before a failed check is repeated; it doubles each time.
    pub recheck_initial: Duration,
    /// The longest wait between repeated failed checks.
    pub recheck_max: Duration,
    /// The wait between checks of a network behind a captive portal.
    pub portal_recheck: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            profile: DeviceProfile::standard(),
            linger: Duration::from_secs(30),
            quality_hysteresis: 10,
            poor_quality: 20,
            max_requests_per_app: 2000,
            recheck_initial: Duration::from_secs(1),
            recheck_max: Duration::from_secs(600),
            portal_recheck: Duration::from_secs(15),
        }
    }
}

/// What a connectivity check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ValidationResult {
    /// The HTTPS probe got its 204: the network reaches the internet.
    Validated,
    /// Only the HTTP probe succeeded: plain HTTP can be spoofed, so not validated.
    Partial,
    /// A captive portal answered.
    Portal {
        /// Where the portal sends the user.
        url: String,
    },
    /// Nothing answered as expected.
    Failed,
}

/// An event for one registered connection, as the seed names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum NetEvent {
    /// `netAvailable`.
    Available(NetHandle),
    /// `netCapabilitiesChange`.
    CapabilitiesChange(NetCapabilityInfo),
    /// `netConnectionPropertiesChange`.
    ConnectionPropertiesChange(NetConnectionPropertyInfo),
    /// `netBlockStatusChange`.
    BlockStatusChange(NetBlockStatusInfo),
    /// `netLost`.
    Lost(NetHandle),
    /// `netUnavailable`.
    Unavailable,
}

impl NetEvent {
    /// The seed's name of the event (`netAvailable`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Available(_) => "netAvailable",
            Self::CapabilitiesChange(_) => "netCapabilitiesChange",
            Self::ConnectionPropertiesChange(_) => "netConnectionPropertiesChange",
            Self::BlockStatusChange(_) => "netBlockStatusChange",
            Self::Lost(_) => "netLost",
            Self::Unavailable => "netUnavailable",
        }
    }

    /// The network the event is about (none for `netUnavailable`).
    pub fn net_handle(&self) -> Option<NetHandle> {
        match self {
            Self::Available(h) | Self::Lost(h) => Some(*h),
            Self::CapabilitiesChange(i) => Some(i.net_handle),
            Self::ConnectionPropertiesChange(i) => Some(i.net_handle),
            Self::BlockStatusChange(i) => Some(i.net_handle),
            Self::Unavailable => None,
        }
    }
}

/// Something the shell must carry out for the engine. Each has one consumer in the
/// shell; the network lifecycle (`NetworkUp`, `NetworkChanged`, `NetworkDown`) is
/// what per-network state outside the engine (resolvers, later routing tables)
/// follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Action {
    /// `net` connected, with `properties`: set up what follows it (its resolver).
    /// Comes before any other action or event about it.
    NetworkUp {
        /// The network.
        net: NetHandle,
        /// Its properties.
        properties: Arc<ConnectionProperties>,
    },
    /// `net`'s properties changed (interface, addresses, routes, DNS servers).
    NetworkChanged {
        /// The network.
        net: NetHandle,
        /// Its new properties.
        properties: Arc<ConnectionProperties>,
    },
    /// `net` is gone: tear down what followed it.
    NetworkDown {
        /// The network.
        net: NetHandle,
    },
    /// Run a connectivity check of `net` and report it with `attempt`.
    StartValidation {
        /// The network.
        net: NetHandle,
        /// The attempt number to hand back with the result.
        attempt: u32,
    },
    /// Stop the running check of `net`: it went away or a newer check replaced it.
    CancelValidation {
        /// The network.
        net: NetHandle,
    },
    /// Ask `bearer` to bring up a network for `request`.
    Activate {
        /// The bearer.
        bearer: BearerId,
        /// The request that wants it.
        request: ConnectionId,
        /// Which network (`slot0`, a Wi-Fi network id), if the request named one.
        identifier: Option<String>,
    },
    /// Tell `bearer` that nobody needs its network `key` (`net`) any more.
    Release {
        /// The bearer.
        bearer: BearerId,
        /// The bearer's key of the network.
        key: String,
        /// The network.
        net: NetHandle,
    },
    /// The default network is now `net` ([`NetHandle::NONE`]: there is none).
    DefaultNetworkChanged {
        /// The new default network.
        net: NetHandle,
    },
    /// `app` is now bound to `net` ([`NetHandle::NONE`]: unbound).
    AppNetworkChanged {
        /// The app.
        app: AppId,
        /// Its network.
        net: NetHandle,
    },
}

/// What the engine produces: an event for a connection or an action for the shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Output {
    /// An event for the subscriber of `connection`.
    Event {
        /// The connection.
        connection: ConnectionId,
        /// The event.
        event: NetEvent,
    },
    /// An action for the shell.
    Action(Action),
    /// An event of some network, for monitors; only with
    /// [`Engine::observe_all`](super::Engine::observe_all).
    Observed(NetEvent),
}

/// The validation state of a network, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ValidationState {
    /// The network has no INTERNET capability: it is not checked.
    NotChecked,
    /// The first check is running.
    Checking,
    /// The last check's result (a newer check may be running).
    Checked(ValidationResult),
}
