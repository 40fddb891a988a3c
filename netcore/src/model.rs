//! The data model of the connection API (seed 001) as Rust types.
//!
//! Every type serializes with the seed's field names (`netId`, `bearerTypes`, ...) and
//! every enum with the seed's numbers. Values that arrive from outside (JSON, the CLI,
//! raw numbers) go through checked constructors or `TryFrom`: an out-of-range value is
//! refused with [`Error::InvalidValue`] (2100001), never clamped.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_repr::{Deserialize_repr, Serialize_repr};

use crate::error::{Error, Result};

/// Defines a seed enum: explicit numbers, serde as numbers, `TryFrom<i64>` refusing
/// unknown numbers with 2100001, and the seed's constant names.
macro_rules! seed_enum {
    (
        $(#[$meta:meta])*
        $name:ident: $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $seed:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize_repr, Deserialize_repr)]
        #[repr($repr)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )+
        }

        impl $name {
            /// Every value, in the seed's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The seed's number for this value.
            pub fn value(self) -> $repr {
                self as $repr
            }

            /// The seed's constant name for this value.
            pub fn seed_name(self) -> &'static str {
                match self { $($name::$variant => $seed,)+ }
            }
        }

        impl TryFrom<i64> for $name {
            type Error = Error;
            fn try_from(value: i64) -> Result<Self> {
                match value {
                    $( $value => Ok($name::$variant), )+
                    other => Err(Error::invalid(format!(
                        concat!("{} is not a ", stringify!($name), " value"), other
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.seed_name())
            }
        }
    };
}

seed_enum! {
    /// A network capability (seed `NetCap`).
    NetCap: u8 {
        /// The network reaches the carrier's MMSC.
        Mms = 0 => "NET_CAPABILITY_MMS",
        /// Traffic is not metered.
        NotMetered = 11 => "NET_CAPABILITY_NOT_METERED",
        /// The network is meant to reach the internet (set by the bearer).
        Internet = 12 => "NET_CAPABILITY_INTERNET",
        /// The network is not a VPN.
        NotVpn = 15 => "NET_CAPABILITY_NOT_VPN",
        /// netcore's probe reached the internet through this network.
        Validated = 16 => "NET_CAPABILITY_VALIDATED",
        /// The network has a captive portal.
        Portal = 17 => "NET_CAPABILITY_PORTAL",
        /// A connectivity check is running.
        CheckingConnectivity = 31 => "NET_CAPABILITY_CHECKING_CONNECTIVITY",
    }
}

seed_enum! {
    /// The kind of bearer behind a network (seed `NetBearType`).
    NetBearType: u8 {
        /// Cellular.
        Cellular = 0 => "BEARER_CELLULAR",
        /// Wi-Fi.
        Wifi = 1 => "BEARER_WIFI",
        /// Bluetooth tethering.
        Bluetooth = 2 => "BEARER_BLUETOOTH",
        /// Ethernet.
        Ethernet = 3 => "BEARER_ETHERNET",
        /// VPN.
        Vpn = 4 => "BEARER_VPN",
    }
}

seed_enum! {
    /// Which address families a lookup asks for (seed `FamilyType`).
    FamilyType: u8 {
        /// IPv4 and IPv6.
        All = 0 => "FAMILY_TYPE_ALL",
        /// IPv4 only.
        Ipv4 = 1 => "FAMILY_TYPE_IPV4",
        /// IPv6 only.
        Ipv6 = 2 => "FAMILY_TYPE_IPV6",
    }
}

seed_enum! {
    /// How IDNA conversion behaves (seed `ConversionProcess`).
    ConversionProcess: u8 {
        /// Only assigned code points convert.
        NoConfiguration = 0 => "NO_CONFIGURATION",
        /// Unassigned code points are allowed.
        AllowUnassigned = 1 => "ALLOW_UNASSIGNED",
        /// The result must follow the STD3 ASCII rules (RFC 1123).
        UseStd3AsciiRules = 2 => "USE_STD3_ASCII_RULES",
    }
}

seed_enum! {
    /// A TCP socket state (seed `TcpState`).
    TcpState: u8 {
        /// ESTABLISHED.
        Established = 1 => "TCP_ESTABLISHED",
        /// SYN_SENT.
        SynSent = 2 => "TCP_SYN_SENT",
        /// SYN_RECV.
        SynRecv = 3 => "TCP_SYN_RECV",
        /// FIN_WAIT1.
        FinWait1 = 4 => "TCP_FIN_WAIT1",
        /// FIN_WAIT2.
        FinWait2 = 5 => "TCP_FIN_WAIT2",
        /// TIME_WAIT.
        TimeWait = 6 => "TCP_TIME_WAIT",
        /// CLOSE.
        Close = 7 => "TCP_CLOSE",
        /// CLOSE_WAIT.
        CloseWait = 8 => "TCP_CLOSE_WAIT",
        /// LAST_ACK.
        LastAck = 9 => "TCP_LAST_ACK",
        /// LISTEN.
        Listen = 10 => "TCP_LISTEN",
        /// CLOSING.
        Closing = 11 => "TCP_CLOSING",
    }
}

seed_enum! {
    /// The packets a probe or traceroute sends (seed `PacketsType`).
    PacketsType: u8 {
        /// ICMP echo.
        Icmp = 0 => "NETCONN_PACKETS_ICMP",
        /// UDP datagrams.
        Udp = 1 => "NETCONN_PACKETS_UDP",
    }
}

seed_enum! {
    /// A transport protocol (seed `ProtocolType`).
    ProtocolType: u8 {
        /// TCP.
        Tcp = 6 => "PROTO_TYPE_TCP",
        /// UDP.
        Udp = 17 => "PROTO_TYPE_UDP",
    }
}

/// A network handle (seed `NetHandle`): netId 0 means "no network", real networks have
/// ids of 100 and more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawNetHandle")]
pub struct NetHandle {
    net_id: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNetHandle {
    net_id: i64,
}

impl TryFrom<RawNetHandle> for NetHandle {
    type Error = Error;
    fn try_from(raw: RawNetHandle) -> Result<Self> {
        NetHandle::new(raw.net_id)
    }
}

impl NetHandle {
    /// The handle meaning "no network" (netId 0).
    pub const NONE: NetHandle = NetHandle { net_id: 0 };
    /// The first id a real network gets.
    pub const FIRST_ID: u32 = 100;

    /// A handle from a raw netId: 0 or at least 100, else 2100001.
    pub fn new(net_id: i64) -> Result<Self> {
        match u32::try_from(net_id) {
            Ok(0) => Ok(Self::NONE),
            Ok(id) if id >= Self::FIRST_ID => Ok(Self { net_id: id }),
            _ => Err(Error::invalid(format!(
                "netId {net_id} is neither 0 nor at least {}",
                Self::FIRST_ID
            ))),
        }
    }

    /// The netId.
    pub fn net_id(self) -> u32 {
        self.net_id
    }

    /// Whether this is the "no network" handle.
    pub fn is_none(self) -> bool {
        self.net_id == 0
    }

    /// The handle after this one; used by the engine's registry.
    pub(crate) fn next(self) -> Self {
        Self {
            net_id: self.net_id.max(Self::FIRST_ID - 1) + 1,
        }
    }
}

impl Default for NetHandle {
    fn default() -> Self {
        Self::NONE
    }
}

impl fmt::Display for NetHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.net_id)
    }
}

/// A set of [`NetCap`]s, stored as a bit mask (every seed value is below 32) and
/// serialized as the seed's array of numbers, in ascending order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "Vec<NetCap>", from = "Vec<NetCap>")]
pub struct NetCapSet(u32);

impl NetCapSet {
    /// The empty set.
    pub const EMPTY: NetCapSet = NetCapSet(0);

    /// A set holding `caps`.
    pub fn of(caps: &[NetCap]) -> Self {
        caps.iter().copied().collect()
    }

    /// Whether `cap` is in the set.
    pub fn contains(self, cap: NetCap) -> bool {
        self.0 & Self::bit(cap) != 0
    }

    /// Whether every capability of `other` is in this set.
    pub fn contains_all(self, other: NetCapSet) -> bool {
        self.0 & other.0 == other.0
    }

    /// Adds `cap`.
    pub fn insert(&mut self, cap: NetCap) {
        self.0 |= Self::bit(cap);
    }

    /// Removes `cap`.
    pub fn remove(&mut self, cap: NetCap) {
        self.0 &= !Self::bit(cap);
    }

    /// Adds or removes `cap`.
    pub fn set(&mut self, cap: NetCap, present: bool) {
        if present {
            self.insert(cap);
        } else {
            self.remove(cap);
        }
    }

    /// The capabilities in ascending order of their numbers.
    pub fn iter(self) -> impl Iterator<Item = NetCap> {
        NetCap::ALL
            .iter()
            .copied()
            .filter(move |&cap| self.contains(cap))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn bit(cap: NetCap) -> u32 {
        1 << cap.value()
    }
}

impl FromIterator<NetCap> for NetCapSet {
    fn from_iter<I: IntoIterator<Item = NetCap>>(iter: I) -> Self {
        let mut set = NetCapSet::EMPTY;
        for cap in iter {
            set.insert(cap);
        }
        set
    }
}

impl From<Vec<NetCap>> for NetCapSet {
    fn from(caps: Vec<NetCap>) -> Self {
        caps.into_iter().collect()
    }
}

impl From<NetCapSet> for Vec<NetCap> {
    fn from(set: NetCapSet) -> Self {
        set.iter().collect()
    }
}

/// A network's capabilities and bearer types (seed `NetCapabilities`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetCapabilities {
    /// Uplink bandwidth in kbit/s; 0 or absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_up_bandwidth_kbps: Option<u32>,
    /// Downlink bandwidth in kbit/s; 0 or absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_down_bandwidth_kbps: Option<u32>,
    /// The capabilities.
    #[serde(default)]
    pub network_cap: NetCapSet,
    /// The bearer types: exactly one for a network, any number in a specifier.
    pub bearer_types: Vec<NetBearType>,
}

/// What a request asks of a network (seed `NetSpecifier`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetSpecifier {
    /// Bearer types (any of; empty means any) and capabilities (all of).
    pub net_capabilities: NetCapabilities,
    /// The bearer's own identifier: `slot0`/`slot1` for SIM cards, a Wi-Fi network id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_private_identifier: Option<String>,
}

impl NetSpecifier {
    /// A specifier asking for any of `bearer_types` with all of `caps`.
    pub fn new(bearer_types: &[NetBearType], caps: &[NetCap]) -> Self {
        Self {
            net_capabilities: NetCapabilities {
                network_cap: NetCapSet::of(caps),
                bearer_types: bearer_types.to_vec(),
                ..NetCapabilities::default()
            },
            bearer_private_identifier: None,
        }
    }

    /// The same specifier restricted to the bearer's identifier `id`.
    pub fn with_identifier(mut self, id: impl Into<String>) -> Self {
        self.bearer_private_identifier = Some(id.into());
        self
    }

    /// Whether a network with these capabilities and identifier satisfies the
    /// specifier: bearer types any-of (empty = any), capabilities all-of, identifier
    /// exact when given.
    pub fn matches(&self, caps: &NetCapabilities, identifier: Option<&str>) -> bool {
        let wanted = &self.net_capabilities;
        let bearer_ok = wanted.bearer_types.is_empty()
            || wanted
                .bearer_types
                .iter()
                .any(|t| caps.bearer_types.contains(t));
        let id_ok = match &self.bearer_private_identifier {
            Some(id) => identifier == Some(id.as_str()),
            None => true,
        };
        bearer_ok && id_ok && caps.network_cap.contains_all(wanted.network_cap)
    }
}

/// An IP address with a port (seed `NetAddress`). The family (1 IPv4, 2 IPv6) follows
/// from the address; a family that contradicts it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawNetAddress", into = "RawNetAddress")]
pub struct NetAddress {
    ip: IpAddr,
    port: u16,
}

/// The wire form of [`NetAddress`], with the seed's field names.
#[derive(Serialize, Deserialize)]
struct RawNetAddress {
    address: String,
    #[serde(default)]
    family: Option<i64>,
    #[serde(default)]
    port: Option<i64>,
}

impl TryFrom<RawNetAddress> for NetAddress {
    type Error = Error;
    fn try_from(raw: RawNetAddress) -> Result<Self> {
        NetAddress::parse(&raw.address, raw.family, raw.port)
    }
}

impl From<NetAddress> for RawNetAddress {
    fn from(a: NetAddress) -> Self {
        RawNetAddress {
            address: a.ip.to_string(),
            family: Some(a.family().into()),
            port: Some(a.port.into()),
        }
    }
}

/// The seed's family number for IPv4.
pub const FAMILY_IPV4: u8 = 1;
/// The seed's family number for IPv6.
pub const FAMILY_IPV6: u8 = 2;

impl NetAddress {
    /// An address with a port.
    pub fn new(ip: IpAddr, port: u16) -> Self {
        Self { ip, port }
    }

    /// An address from the seed's fields: a textual IP, an optional family (1 or 2,
    /// matching the address) and an optional port (0 to 65535). Else 2100001.
    pub fn parse(address: &str, family: Option<i64>, port: Option<i64>) -> Result<Self> {
        let ip: IpAddr = address
            .parse()
            .map_err(|_| Error::invalid(format!("{address:?} is not an IP address")))?;
        let port = match port {
            None => 0,
            Some(p) => u16::try_from(p)
                .map_err(|_| Error::invalid(format!("port {p} is outside 0..=65535")))?,
        };
        let address = Self { ip, port };
        if let Some(f) = family {
            if f != i64::from(FAMILY_IPV4) && f != i64::from(FAMILY_IPV6) {
                return Err(Error::invalid(format!(
                    "family {f} is neither 1 (IPv4) nor 2 (IPv6)"
                )));
            }
            if f != i64::from(address.family()) {
                return Err(Error::invalid(format!(
                    "family {f} does not match address {ip}"
                )));
            }
        }
        Ok(address)
    }

    /// The IP address.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The port (0 when none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The seed's family number: 1 for IPv4, 2 for IPv6.
    pub fn family(&self) -> u8 {
        if self.ip.is_ipv4() {
            FAMILY_IPV4
        } else {
            FAMILY_IPV6
        }
    }
}

impl From<IpAddr> for NetAddress {
    fn from(ip: IpAddr) -> Self {
        Self::new(ip, 0)
    }
}

impl fmt::Display for NetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        std::net::SocketAddr::new(self.ip, self.port).fmt(f)
    }
}

/// An address with its prefix length (seed `LinkAddress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawLinkAddress")]
pub struct LinkAddress {
    address: NetAddress,
    prefix_length: u8,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLinkAddress {
    address: NetAddress,
    prefix_length: i64,
}

impl TryFrom<RawLinkAddress> for LinkAddress {
    type Error = Error;
    fn try_from(raw: RawLinkAddress) -> Result<Self> {
        LinkAddress::new(raw.address.ip(), raw.prefix_length)
    }
}

impl LinkAddress {
    /// An address with a prefix length of at most 32 (IPv4) or 128 (IPv6), else
    /// 2100001.
    pub fn new(ip: IpAddr, prefix_length: i64) -> Result<Self> {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match u8::try_from(prefix_length) {
            Ok(p) if p <= max => Ok(Self {
                address: NetAddress::from(ip),
                prefix_length: p,
            }),
            _ => Err(Error::invalid(format!(
                "prefix length {prefix_length} is outside 0..={max} for {ip}"
            ))),
        }
    }

    /// The address (port 0).
    pub fn address(&self) -> NetAddress {
        self.address
    }

    /// The prefix length.
    pub fn prefix_length(&self) -> u8 {
        self.prefix_length
    }

    /// Whether this is 0.0.0.0/0 or ::/0.
    pub fn is_any(&self) -> bool {
        self.prefix_length == 0 && self.address.ip().is_unspecified()
    }
}

/// A route (seed `RouteInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteInfo {
    /// The interface the route leaves through.
    pub interface: String,
    /// The destination prefix.
    pub destination: LinkAddress,
    /// The gateway; the unspecified address of the family when there is none.
    pub gateway: NetAddress,
    /// Whether there is a gateway.
    pub has_gateway: bool,
    /// Whether the destination is 0.0.0.0/0 or ::/0.
    pub is_default_route: bool,
    /// Whether the route is excluded (traffic to it bypasses the network).
    #[serde(default)]
    pub is_excluded_route: bool,
}

impl RouteInfo {
    /// A route to `destination` through `interface`, via `gateway` when given; the
    /// flags are derived from the arguments.
    pub fn new(interface: &str, destination: LinkAddress, gateway: Option<IpAddr>) -> Self {
        let unspecified = if destination.address().ip().is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        };
        Self {
            interface: interface.to_owned(),
            destination,
            gateway: NetAddress::from(gateway.unwrap_or(unspecified)),
            has_gateway: gateway.is_some(),
            is_default_route: destination.is_any(),
            is_excluded_route: false,
        }
    }
}

/// A network's link properties (seed `ConnectionProperties`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionProperties {
    /// The interface name.
    pub interface_name: String,
    /// The search domains, comma separated.
    pub domains: String,
    /// The addresses of the interface.
    pub link_addresses: Vec<LinkAddress>,
    /// The routes through the interface.
    pub routes: Vec<RouteInfo>,
    /// The DNS servers.
    pub dnses: Vec<NetAddress>,
    /// The MTU.
    pub mtu: u32,
    /// Whether IPv4 works: a usable IPv4 address and an IPv4 default route.
    #[serde(rename = "isIPv4LinkValid", default)]
    pub is_ipv4_link_valid: bool,
    /// Whether IPv6 works: a usable IPv6 address and an IPv6 default route.
    #[serde(rename = "isIPv6LinkValid", default)]
    pub is_ipv6_link_valid: bool,
}

impl ConnectionProperties {
    /// Sets the `is_ipv4_link_valid` and `is_ipv6_link_valid` flags from the addresses
    /// and routes: a family is valid with a non-link-local address and a default route.
    pub fn update_link_validity(&mut self) {
        let has = |v4: bool| {
            let address = self.link_addresses.iter().any(|a| {
                let ip = a.address().ip();
                ip.is_ipv4() == v4 && !is_link_local(ip) && !ip.is_unspecified()
            });
            let route = self
                .routes
                .iter()
                .any(|r| r.is_default_route && r.destination.address().ip().is_ipv4() == v4);
            address && route
        };
        self.is_ipv4_link_valid = has(true);
        self.is_ipv6_link_valid = has(false);
    }
}

/// Whether `ip` is link-local (169.254.0.0/16 or fe80::/10).
pub fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// An HTTP proxy (seed `HttpProxy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawHttpProxy")]
pub struct HttpProxy {
    /// The proxy's host name or address.
    pub host: String,
    /// The proxy's port.
    pub port: u16,
    /// Hosts that bypass the proxy (the seed's matching rules).
    pub exclusion_list: Vec<String>,
    /// The user name; used only together with the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password; used only together with the user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawHttpProxy {
    host: String,
    port: i64,
    #[serde(default)]
    exclusion_list: Vec<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl TryFrom<RawHttpProxy> for HttpProxy {
    type Error = Error;
    fn try_from(raw: RawHttpProxy) -> Result<Self> {
        let mut proxy = HttpProxy::new(&raw.host, raw.port, raw.exclusion_list)?;
        proxy.username = raw.username;
        proxy.password = raw.password;
        Ok(proxy)
    }
}

impl HttpProxy {
    /// A proxy at `host:port` with an exclusion list. An empty host or a port outside
    /// 0..=65535 is "Invalid http proxy" (2100001).
    pub fn new(host: &str, port: i64, exclusion_list: Vec<String>) -> Result<Self> {
        if host.trim().is_empty() {
            return Err(Error::invalid("invalid http proxy: the host is empty"));
        }
        let port = u16::try_from(port).map_err(|_| {
            Error::invalid(format!(
                "invalid http proxy: port {port} is outside 0..=65535"
            ))
        })?;
        Ok(Self {
            host: host.to_owned(),
            port,
            exclusion_list,
            username: None,
            password: None,
        })
    }

    /// The credentials, only when both user name and password are set (seed note).
    pub fn credentials(&self) -> Option<(&str, &str)> {
        match (&self.username, &self.password) {
            (Some(u), Some(p)) => Some((u, p)),
            _ => None,
        }
    }
}

/// A change of a network's blocked state (seed `NetBlockStatusInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetBlockStatusInfo {
    /// The network.
    pub net_handle: NetHandle,
    /// Whether it is blocked.
    pub blocked: bool,
}

/// A network's capabilities with its handle (seed `NetCapabilityInfo`). The
/// capabilities are shared: cloning the info is cheap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetCapabilityInfo {
    /// The network.
    pub net_handle: NetHandle,
    /// Its capabilities.
    pub net_cap: Arc<NetCapabilities>,
}

/// A network's link properties with its handle (seed `NetConnectionPropertyInfo`).
/// The properties are shared: cloning the info is cheap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetConnectionPropertyInfo {
    /// The network.
    pub net_handle: NetHandle,
    /// Its properties.
    pub connection_properties: Arc<ConnectionProperties>,
}

/// Options of an address lookup (seed `QueryOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryOptions {
    /// The families to return.
    #[serde(default = "family_all")]
    pub family: FamilyType,
}

fn family_all() -> FamilyType {
    FamilyType::All
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            family: FamilyType::All,
        }
    }
}

/// An entry of the kernel's neighbour table (seed `NetIpMacInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetIpMacInfo {
    /// The neighbour's IP address.
    pub ip_address: NetAddress,
    /// The interface.
    pub iface: String,
    /// The MAC address, as `aa:bb:cc:dd:ee:ff`.
    pub mac_address: String,
}

/// A TCP socket of the system (seed `TcpNetPortStatesInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpNetPortStatesInfo {
    /// Local IP.
    pub tcp_local_ip: String,
    /// Local port.
    pub tcp_local_port: u16,
    /// Remote IP.
    pub tcp_remote_ip: String,
    /// Remote port.
    pub tcp_remote_port: u16,
    /// Owner's uid.
    pub tcp_uid: u32,
    /// Owner's pid (0 when unknown).
    pub tcp_pid: u32,
    /// State.
    pub tcp_state: TcpState,
}

/// A UDP socket of the system (seed `UdpNetPortStatesInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UdpNetPortStatesInfo {
    /// Local IP.
    pub udp_local_ip: String,
    /// Local port.
    pub udp_local_port: u16,
    /// Owner's uid.
    pub udp_uid: u32,
    /// Owner's pid (0 when unknown).
    pub udp_pid: u32,
}

/// The system's TCP and UDP sockets (seed `NetPortStatesInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetPortStatesInfo {
    /// TCP sockets.
    pub tcp_port_states_info: Vec<TcpNetPortStatesInfo>,
    /// UDP sockets.
    pub udp_port_states_info: Vec<UdpNetPortStatesInfo>,
}

/// Options of a traceroute (seed `TraceRouteOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawTraceRouteOptions")]
pub struct TraceRouteOptions {
    max_jump_number: u8,
    /// The packets sent.
    pub packets_type: PacketsType,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTraceRouteOptions {
    #[serde(default)]
    max_jump_number: Option<i64>,
    #[serde(default)]
    packets_type: Option<PacketsType>,
}

impl TryFrom<RawTraceRouteOptions> for TraceRouteOptions {
    type Error = Error;
    fn try_from(raw: RawTraceRouteOptions) -> Result<Self> {
        TraceRouteOptions::new(
            raw.max_jump_number
                .unwrap_or(i64::from(Self::DEFAULT_MAX_JUMPS)),
            raw.packets_type.unwrap_or(PacketsType::Icmp),
        )
    }
}

impl TraceRouteOptions {
    /// The default and largest number of hops.
    pub const DEFAULT_MAX_JUMPS: u8 = 30;

    /// Options with `max_jump_number` in 1..=30 (else 2100001).
    pub fn new(max_jump_number: i64, packets_type: PacketsType) -> Result<Self> {
        match u8::try_from(max_jump_number) {
            Ok(n) if (1..=Self::DEFAULT_MAX_JUMPS).contains(&n) => Ok(Self {
                max_jump_number: n,
                packets_type,
            }),
            _ => Err(Error::invalid(format!(
                "maxJumpNumber {max_jump_number} is outside 1..=30"
            ))),
        }
    }

    /// The largest number of hops probed.
    pub fn max_jump_number(&self) -> u8 {
        self.max_jump_number
    }
}

impl Default for TraceRouteOptions {
    fn default() -> Self {
        Self {
            max_jump_number: Self::DEFAULT_MAX_JUMPS,
            packets_type: PacketsType::Icmp,
        }
    }
}

/// Round-trip times in milliseconds, serialized as the seed's array
/// `[min, avg, max, stddev]`.
pub type RttStats = [f64; 4];

/// One hop of a traceroute (seed `TraceRouteInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceRouteInfo {
    /// The hop number, from 1.
    pub jump_no: u32,
    /// The address that answered, or `*` when none did.
    pub address: String,
    /// `[min, avg, max, stddev]` of the hop's probes in ms.
    pub rtt: RttStats,
}

/// The result of a probe series (seed `ProbeResultInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResultInfo {
    /// Lost packets in percent, 0 to 100.
    pub loss_rate: u8,
    /// `[min, avg, max, stddev]` of the answered probes in ms.
    pub rtt: RttStats,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn enums_keep_the_seed_numbers() {
        let caps: Vec<u8> = NetCap::ALL.iter().map(|c| c.value()).collect();
        assert_eq!(caps, vec![0, 11, 12, 15, 16, 17, 31]);
        let bearers: Vec<u8> = NetBearType::ALL.iter().map(|b| b.value()).collect();
        assert_eq!(bearers, vec![0, 1, 2, 3, 4]);
        assert_eq!(FamilyType::Ipv6.value(), 2);
        assert_eq!(ConversionProcess::UseStd3AsciiRules.value(), 2);
        assert_eq!(TcpState::Closing.value(), 11);
        assert_eq!(PacketsType::Udp.value(), 1);
        assert_eq!(ProtocolType::Udp.value(), 17);
        assert_eq!(NetCap::Internet.to_string(), "NET_CAPABILITY_INTERNET");
    }

    #[test]
    fn unknown_enum_numbers_are_2100001() {
        for bad in [-1, 1, 13, 32] {
            assert_eq!(NetCap::try_from(bad).unwrap_err().code(), 2100001);
        }
        assert_eq!(NetBearType::try_from(5).unwrap_err().code(), 2100001);
        assert_eq!(ProtocolType::try_from(7).unwrap_err().code(), 2100001);
        assert!(serde_json::from_value::<NetBearType>(json!(9)).is_err());
    }

    #[test]
    fn net_handle_is_0_or_at_least_100() {
        assert!(NetHandle::new(0).unwrap().is_none());
        assert_eq!(NetHandle::new(100).unwrap().net_id(), 100);
        for bad in [1, 99, -1, i64::from(u32::MAX) + 1] {
            assert_eq!(NetHandle::new(bad).unwrap_err().code(), 2100001, "{bad}");
        }
        let h: NetHandle = serde_json::from_value(json!({"netId": 101})).unwrap();
        assert_eq!(serde_json::to_value(h).unwrap(), json!({"netId": 101}));
        assert!(serde_json::from_value::<NetHandle>(json!({"netId": 42})).is_err());
    }

    #[test]
    fn capabilities_serialize_with_seed_names() {
        let caps = NetCapabilities {
            link_up_bandwidth_kbps: Some(1000),
            link_down_bandwidth_kbps: None,
            network_cap: NetCapSet::of(&[NetCap::Validated, NetCap::Internet]),
            bearer_types: vec![NetBearType::Wifi],
        };
        let v = serde_json::to_value(&caps).unwrap();
        assert_eq!(
            v,
            json!({"linkUpBandwidthKbps": 1000, "networkCap": [12, 16], "bearerTypes": [1]})
        );
        assert_eq!(serde_json::from_value::<NetCapabilities>(v).unwrap(), caps);
    }

    #[test]
    fn specifier_matching() {
        let wifi = NetCapabilities {
            network_cap: NetCapSet::of(&[NetCap::Internet, NetCap::NotMetered]),
            bearer_types: vec![NetBearType::Wifi],
            ..NetCapabilities::default()
        };
        let any = NetSpecifier::default();
        assert!(any.matches(&wifi, None));
        let cell_or_wifi = NetSpecifier::new(&[NetBearType::Cellular, NetBearType::Wifi], &[]);
        assert!(cell_or_wifi.matches(&wifi, None));
        let cell = NetSpecifier::new(&[NetBearType::Cellular], &[]);
        assert!(!cell.matches(&wifi, None));
        let validated = NetSpecifier::new(&[], &[NetCap::Internet, NetCap::Validated]);
        assert!(!validated.matches(&wifi, None));
        let id = NetSpecifier::new(&[NetBearType::Wifi], &[]).with_identifier("3");
        assert!(id.matches(&wifi, Some("3")));
        assert!(!id.matches(&wifi, Some("4")));
        assert!(!id.matches(&wifi, None));
    }

    #[test]
    fn net_address_checks_family_and_port() {
        let a = NetAddress::parse("192.0.2.1", Some(1), Some(8080)).unwrap();
        assert_eq!((a.family(), a.port()), (1, 8080));
        assert_eq!(
            serde_json::to_value(a).unwrap(),
            json!({"address": "192.0.2.1", "family": 1, "port": 8080})
        );
        let v6 = NetAddress::parse("2001:db8::1", None, None).unwrap();
        assert_eq!((v6.family(), v6.port()), (2, 0));
        for (addr, family, port) in [
            ("192.0.2.1", Some(2), None),
            ("192.0.2.1", Some(3), None),
            ("192.0.2.1", None, Some(65536)),
            ("192.0.2.1", None, Some(-1)),
            ("not an ip", None, None),
            ("", None, None),
        ] {
            let err = NetAddress::parse(addr, family, port).unwrap_err();
            assert_eq!(err.code(), 2100001, "{addr} {family:?} {port:?}");
        }
        assert!(
            serde_json::from_value::<NetAddress>(json!({"address": "1.2.3.4", "port": 70000}))
                .is_err()
        );
    }

    #[test]
    fn link_address_and_route_flags() {
        assert!(LinkAddress::new("10.0.0.1".parse().unwrap(), 33).is_err());
        assert!(LinkAddress::new("::1".parse().unwrap(), 129).is_err());
        let any = LinkAddress::new("0.0.0.0".parse().unwrap(), 0).unwrap();
        let route = RouteInfo::new("eth0", any, Some("192.0.2.1".parse().unwrap()));
        assert!(route.is_default_route && route.has_gateway);
        let net = LinkAddress::new("192.0.2.0".parse().unwrap(), 24).unwrap();
        let local = RouteInfo::new("eth0", net, None);
        assert!(!local.is_default_route && !local.has_gateway);
        assert_eq!(local.gateway.ip(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let v = serde_json::to_value(&route).unwrap();
        assert_eq!(v["isDefaultRoute"], json!(true));
        assert_eq!(v["destination"]["prefixLength"], json!(0));
    }

    #[test]
    fn link_validity_needs_address_and_default_route() {
        let mut p = ConnectionProperties {
            interface_name: "eth0".into(),
            link_addresses: vec![
                LinkAddress::new("192.0.2.5".parse().unwrap(), 24).unwrap(),
                LinkAddress::new("fe80::1".parse().unwrap(), 64).unwrap(),
            ],
            ..ConnectionProperties::default()
        };
        p.update_link_validity();
        assert!(!p.is_ipv4_link_valid && !p.is_ipv6_link_valid);
        let any4 = LinkAddress::new("0.0.0.0".parse().unwrap(), 0).unwrap();
        let any6 = LinkAddress::new("::".parse().unwrap(), 0).unwrap();
        p.routes.push(RouteInfo::new(
            "eth0",
            any4,
            Some("192.0.2.1".parse().unwrap()),
        ));
        p.routes.push(RouteInfo::new(
            "eth0",
            any6,
            Some("fe80::ff".parse().unwrap()),
        ));
        p.update_link_validity();
        assert!(p.is_ipv4_link_valid);
        assert!(
            !p.is_ipv6_link_valid,
            "a link-local address alone is not enough"
        );
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["isIPv4LinkValid"], json!(true));
    }

    #[test]
    fn http_proxy_validation() {
        let p = HttpProxy::new("proxy.test", 8080, vec!["a.test".into()]).unwrap();
        assert_eq!(p.credentials(), None);
        assert_eq!(HttpProxy::new("", 80, vec![]).unwrap_err().code(), 2100001);
        assert_eq!(
            HttpProxy::new("p", 65536, vec![]).unwrap_err().code(),
            2100001
        );
        let with_user: HttpProxy = serde_json::from_value(
            json!({"host": "p", "port": 1, "exclusionList": [], "username": "u"}),
        )
        .unwrap();
        assert_eq!(with_user.credentials(), None, "username alone is not used");
        let both: HttpProxy = serde_json::from_value(
            json!({"host": "p", "port": 1, "exclusionList": [], "username": "u", "password": "pw"}),
        )
        .unwrap();
        assert_eq!(both.credentials(), Some(("u", "pw")));
        assert!(
            serde_json::from_value::<HttpProxy>(
                json!({"host": "p", "port": -5, "exclusionList": []})
            )
            .is_err()
        );
    }

    #[test]
    fn traceroute_options_range() {
        assert_eq!(TraceRouteOptions::default().max_jump_number(), 30);
        assert!(TraceRouteOptions::new(1, PacketsType::Udp).is_ok());
        for bad in [0, 31, -3] {
            assert_eq!(
                TraceRouteOptions::new(bad, PacketsType::Icmp)
                    .unwrap_err()
                    .code(),
                2100001
            );
        }
        let o: TraceRouteOptions = serde_json::from_value(json!({})).unwrap();
        assert_eq!(o, TraceRouteOptions::default());
        assert!(serde_json::from_value::<TraceRouteOptions>(json!({"maxJumpNumber": 31})).is_err());
    }
}
