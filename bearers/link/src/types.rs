//! The link layer's own types: what the kernel knows of links, addresses, routes and
//! neighbours, free of netlink types.

use std::fmt;
use std::net::IpAddr;

/// A hardware (MAC) address, as the kernel reports it (6 bytes for Ethernet).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HardwareAddress(pub Vec<u8>);

impl HardwareAddress {
    /// Whether every byte is zero (tun devices, loopback).
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|b| *b == 0)
    }
}

impl fmt::Display for HardwareAddress {
    /// Lowercase hex bytes separated by colons: `aa:bb:cc:dd:ee:ff`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// The kind of a link, from the kernel's `IFLA_INFO_KIND` and link layer type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkKind {
    /// A device without a kind: a physical NIC (or a driver that reports none).
    Device,
    /// The loopback device.
    Loopback,
    /// A veth pair end.
    Veth,
    /// A TUN device (layer 3).
    Tun,
    /// A TAP device (layer 2).
    Tap,
    /// A bridge.
    Bridge,
    /// A VLAN.
    Vlan,
    /// A bond.
    Bond,
    /// A dummy device.
    Dummy,
    /// A WireGuard device.
    Wireguard,
    /// Any other kind, by the kernel's name for it.
    Other(String),
}

/// The operational state (RFC 2863) the kernel reports for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OperState {
    /// Unknown (drivers that do not track it, e.g. tun, dummy, loopback).
    #[default]
    Unknown,
    /// Not present.
    NotPresent,
    /// Down.
    Down,
    /// Down because a lower layer is down (a veth whose peer is down).
    LowerLayerDown,
    /// Testing.
    Testing,
    /// Dormant (waiting for an external event, e.g. 802.1X).
    Dormant,
    /// Up.
    Up,
}

/// Traffic counters of a link, from the kernel's 64-bit link statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkCounters {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Packets dropped on sending.
    pub tx_dropped: u64,
}

/// A network interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The interface index.
    pub index: u32,
    /// The interface name.
    pub name: String,
    /// The kind of link.
    pub kind: LinkKind,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// The lower layer is up: the link has carrier (`IFF_LOWER_UP`).
    pub lower_up: bool,
    /// `IFF_RUNNING`.
    pub running: bool,
    /// The loopback device (`IFF_LOOPBACK`).
    pub loopback: bool,
    /// A wireless device (`/sys/class/net/IF/wireless` or `phy80211` exists).
    pub wireless: bool,
    /// The operational state.
    pub oper_state: OperState,
    /// The MTU.
    pub mtu: u32,
    /// The hardware address, when it has one.
    pub mac: Option<HardwareAddress>,
    /// The link speed in Mb/s, from `/sys/class/net/IF/speed`, when the driver
    /// reports one.
    pub speed_mbps: Option<u32>,
    /// Traffic counters at the time of the report.
    pub counters: LinkCounters,
}

impl Link {
    /// Whether the link carries traffic: administratively up, lower layer up, and not
    /// reported down, lower-layer-down, dormant or absent by its operational state.
    pub fn has_carrier(&self) -> bool {
        self.up
            && self.lower_up
            && !matches!(
                self.oper_state,
                OperState::Down
                    | OperState::LowerLayerDown
                    | OperState::Dormant
                    | OperState::NotPresent
            )
    }
}

/// An IP address of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    /// The index of the link holding it.
    pub index: u32,
    /// The address.
    pub address: IpAddr,
    /// The prefix length.
    pub prefix_len: u8,
    /// Still in duplicate address detection (IPv6), not usable yet.
    pub tentative: bool,
    /// Deprecated (IPv6): usable, but not for new connections.
    pub deprecated: bool,
}

/// A route of the kernel's routing tables.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route {
    /// The routing table (254 main, 255 local, ...).
    pub table: u32,
    /// The destination address.
    pub destination: IpAddr,
    /// The destination prefix length.
    pub prefix_len: u8,
    /// The gateway, when there is one.
    pub gateway: Option<IpAddr>,
    /// The index of the output interface, when there is one.
    pub index: Option<u32>,
    /// The metric (priority).
    pub metric: Option<u32>,
    /// The preferred source address.
    pub source: Option<IpAddr>,
    /// The route type.
    pub kind: RouteKind,
    /// Who installed it.
    pub protocol: RouteOrigin,
}

impl Route {
    /// The main routing table.
    pub const MAIN_TABLE: u32 = 254;
    /// The local routing table.
    pub const LOCAL_TABLE: u32 = 255;

    /// Whether this is a default route (0.0.0.0/0 or ::/0).
    pub fn is_default(&self) -> bool {
        self.prefix_len == 0 && self.destination.is_unspecified()
    }
}

/// The type of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RouteKind {
    /// A gateway or direct route.
    Unicast,
    /// A local address.
    Local,
    /// A broadcast address.
    Broadcast,
    /// Multicast.
    Multicast,
    /// Traffic is dropped.
    Blackhole,
    /// Traffic gets "unreachable".
    Unreachable,
    /// Traffic gets "prohibited".
    Prohibit,
    /// Any other type.
    Other,
}

/// Who installed a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RouteOrigin {
    /// The kernel (prefix routes of addresses).
    Kernel,
    /// Installed at boot.
    Boot,
    /// An administrator or a daemon (`ip route add`, netcore).
    Static,
    /// IPv6 router advertisement.
    RouterAdvertisement,
    /// DHCP.
    Dhcp,
    /// Anything else.
    Other,
}

/// The state of a neighbour entry (`NUD_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum NeighbourState {
    /// Resolution in progress.
    Incomplete,
    /// Confirmed reachable.
    Reachable,
    /// Not confirmed recently.
    Stale,
    /// Waiting before probing.
    Delay,
    /// Probing.
    Probe,
    /// Resolution failed.
    Failed,
    /// No ARP needed.
    NoArp,
    /// Static entry.
    Permanent,
    /// Any other state.
    Other,
}

/// An entry of the kernel's neighbour (ARP / NDP) table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Neighbour {
    /// The index of the link.
    pub index: u32,
    /// The neighbour's IP address.
    pub address: IpAddr,
    /// Its hardware address, when resolved.
    pub mac: Option<HardwareAddress>,
    /// The entry's state.
    pub state: NeighbourState,
}

impl Neighbour {
    /// Whether the entry maps the IP to a known hardware address (not failed or
    /// incomplete).
    pub fn is_resolved(&self) -> bool {
        self.mac.as_ref().is_some_and(|m| !m.is_zero())
            && !matches!(
                self.state,
                NeighbourState::Incomplete | NeighbourState::Failed
            )
    }
}

/// An IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// A policy routing rule (`ip rule`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The family.
    pub family: IpFamily,
    /// The priority (lower is evaluated first).
    pub priority: u32,
    /// The table looked up.
    pub table: u32,
    /// The uid range `start..=end` the rule applies to.
    pub uid_range: Option<(u32, u32)>,
    /// The firewall mark.
    pub fwmark: Option<u32>,
    /// The bits of the mark the rule compares (all when `None`).
    pub fwmask: Option<u32>,
    /// The input interface name.
    pub input_interface: Option<String>,
    /// The output interface name.
    pub output_interface: Option<String>,
    /// Ignore the table's routes whose prefix is this long or shorter
    /// (`suppress_prefixlength`: 0 ignores the default route).
    pub suppress_prefix_length: Option<u32>,
    /// The rule answers "network unreachable" instead of looking up `table`.
    pub unreachable: bool,
}

impl Rule {
    /// A rule of `family` looking up `table` at `priority`, matching everything.
    pub fn new(family: IpFamily, priority: u32, table: u32) -> Self {
        Self {
            family,
            priority,
            table,
            uid_range: None,
            fwmark: None,
            fwmask: None,
            input_interface: None,
            output_interface: None,
            suppress_prefix_length: None,
            unreachable: false,
        }
    }

    /// A rule of `family` at `priority` that makes what it matches unreachable.
    pub fn unreachable(family: IpFamily, priority: u32) -> Self {
        Self {
            unreachable: true,
            ..Self::new(family, priority, 0)
        }
    }

    /// The same rule ignoring the table's routes of prefix `length` or shorter.
    pub fn with_suppress_prefix_length(mut self, length: u32) -> Self {
        self.suppress_prefix_length = Some(length);
        self
    }

    /// The same rule restricted to uids `start..=end`.
    pub fn with_uid_range(mut self, start: u32, end: u32) -> Self {
        self.uid_range = Some((start, end));
        self
    }

    /// The same rule restricted to packets whose mark, masked with `mask`, is
    /// `mark`.
    pub fn with_fwmark(mut self, mark: u32, mask: u32) -> Self {
        self.fwmark = Some(mark);
        self.fwmask = Some(mask);
        self
    }

    /// The same rule restricted to packets leaving through the link `name` (sockets
    /// bound to it).
    pub fn with_output_interface(mut self, name: &str) -> Self {
        self.output_interface = Some(name.to_owned());
        self
    }
}

/// A route to install or remove (`ip route add|del`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    /// The destination address.
    pub destination: IpAddr,
    /// The destination prefix length.
    pub prefix_len: u8,
    /// The gateway, if any; same family as the destination.
    pub gateway: Option<IpAddr>,
    /// The output interface name.
    pub interface: String,
    /// The table (254 is main).
    pub table: u32,
    /// The metric.
    pub metric: Option<u32>,
}

impl RouteSpec {
    /// A route to `destination/prefix_len` through `interface` in the main table.
    pub fn new(interface: &str, destination: IpAddr, prefix_len: u8) -> Self {
        Self {
            destination,
            prefix_len,
            gateway: None,
            interface: interface.to_owned(),
            table: Route::MAIN_TABLE,
            metric: None,
        }
    }

    /// The same route via `gateway`.
    pub fn via(mut self, gateway: IpAddr) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// The same route in `table`.
    pub fn in_table(mut self, table: u32) -> Self {
        self.table = table;
        self
    }
}

/// A change the kernel reported.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkEvent {
    /// A link appeared or changed (flags, carrier, MTU, name, address).
    LinkChanged(Link),
    /// A link was deleted (or left the namespace).
    LinkRemoved(Link),
    /// An address was added (or its flags changed).
    AddressAdded(Address),
    /// An address was removed.
    AddressRemoved(Address),
    /// A route was added.
    RouteAdded(Route),
    /// A route was removed.
    RouteRemoved(Route),
    /// A neighbour entry appeared or changed.
    NeighbourChanged(Neighbour),
    /// A neighbour entry was removed.
    NeighbourRemoved(Neighbour),
}

impl LinkEvent {
    /// The index of the link the event concerns, when it concerns one.
    pub fn link_index(&self) -> Option<u32> {
        match self {
            Self::LinkChanged(l) | Self::LinkRemoved(l) => Some(l.index),
            Self::AddressAdded(a) | Self::AddressRemoved(a) => Some(a.index),
            Self::RouteAdded(r) | Self::RouteRemoved(r) => r.index,
            Self::NeighbourChanged(n) | Self::NeighbourRemoved(n) => Some(n.index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_display_is_lowercase_colon_hex() {
        let mac = HardwareAddress(vec![0x02, 0xAB, 0, 0x10, 0xff, 0x01]);
        assert_eq!(mac.to_string(), "02:ab:00:10:ff:01");
        assert!(!mac.is_zero());
        assert!(HardwareAddress(vec![0; 6]).is_zero());
    }

    fn link(up: bool, lower_up: bool, oper_state: OperState) -> Link {
        Link {
            index: 2,
            name: "eth0".into(),
            kind: LinkKind::Device,
            up,
            lower_up,
            running: lower_up,
            loopback: false,
            wireless: false,
            oper_state,
            mtu: 1500,
            mac: None,
            speed_mbps: None,
            counters: LinkCounters::default(),
        }
    }

    #[test]
    fn carrier_needs_up_lower_up_and_a_live_oper_state() {
        assert!(link(true, true, OperState::Up).has_carrier());
        assert!(link(true, true, OperState::Unknown).has_carrier());
        assert!(!link(false, true, OperState::Up).has_carrier());
        assert!(!link(true, false, OperState::Up).has_carrier());
        assert!(!link(true, true, OperState::LowerLayerDown).has_carrier());
        assert!(!link(true, true, OperState::Dormant).has_carrier());
    }
}
