//! Translation of rtnetlink messages into this crate's types. Nothing of netlink
//! leaves this module.

use std::net::IpAddr;

use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use rtnetlink::packet_route::link::{
    InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkLayerType, LinkMessage, State,
};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState as NlNeighbourState,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteType,
};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::sysfs::SysfsNet;
use crate::types::*;

/// A link from an `RTM_NEWLINK`/`RTM_DELLINK` message; `None` without a name.
pub(crate) fn link(msg: &LinkMessage, sysfs: &SysfsNet) -> Option<Link> {
    let flags = msg.header.flags;
    let mut name = None;
    let mut mtu = 0;
    let mut mac = None;
    let mut oper_state = OperState::Unknown;
    let mut info_kind = None;
    let mut counters = LinkCounters::default();
    let mut wireless_attr = false;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => name = Some(n.clone()),
            LinkAttribute::Mtu(m) => mtu = *m,
            LinkAttribute::Address(a) if !a.is_empty() => mac = Some(HardwareAddress(a.clone())),
            LinkAttribute::OperState(s) => oper_state = oper(*s),
            LinkAttribute::Wireless(_) => wireless_attr = true,
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(k) = info {
                        info_kind = Some(k.clone());
                    }
                }
            }
            LinkAttribute::Stats64(s) => {
                counters = LinkCounters {
                    rx_bytes: s.rx_bytes,
                    tx_bytes: s.tx_bytes,
                    rx_packets: s.rx_packets,
                    tx_packets: s.tx_packets,
                    rx_errors: s.rx_errors,
                    tx_errors: s.tx_errors,
                    rx_dropped: s.rx_dropped,
                    tx_dropped: s.tx_dropped,
                }
            }
            _ => {}
        }
    }
    let name = name?;
    let loopback = flags.contains(LinkFlags::Loopback);
    let kind = match info_kind {
        _ if loopback || msg.header.link_layer_type == LinkLayerType::Loopback => {
            LinkKind::Loopback
        }
        None => LinkKind::Device,
        Some(InfoKind::Veth) => LinkKind::Veth,
        Some(InfoKind::Tun) if msg.header.link_layer_type == LinkLayerType::Ether => LinkKind::Tap,
        Some(InfoKind::Tun) => LinkKind::Tun,
        Some(InfoKind::Bridge) => LinkKind::Bridge,
        Some(InfoKind::Vlan) => LinkKind::Vlan,
        Some(InfoKind::Bond) => LinkKind::Bond,
        Some(InfoKind::Dummy) => LinkKind::Dummy,
        Some(InfoKind::Wireguard) => LinkKind::Wireguard,
        Some(other) => LinkKind::Other(other.to_string()),
    };
    let facts = sysfs.facts(&name, msg.header.index, mac.as_ref());
    Some(Link {
        index: msg.header.index,
        name,
        kind,
        up: flags.contains(LinkFlags::Up),
        lower_up: flags.contains(LinkFlags::LowerUp),
        running: flags.contains(LinkFlags::Running),
        loopback,
        wireless: facts.wireless || wireless_attr,
        oper_state,
        mtu,
        mac,
        speed_mbps: facts.speed_mbps,
        counters,
    })
}

fn oper(state: State) -> OperState {
    match state {
        State::Up => OperState::Up,
        State::Down => OperState::Down,
        State::LowerLayerDown => OperState::LowerLayerDown,
        State::Testing => OperState::Testing,
        State::Dormant => OperState::Dormant,
        State::NotPresent => OperState::NotPresent,
        _ => OperState::Unknown,
    }
}

/// An address from an `RTM_NEWADDR`/`RTM_DELADDR` message.
pub(crate) fn address(msg: &AddressMessage) -> Option<Address> {
    let mut local = None;
    let mut peer = None;
    let mut flags = AddressFlags::from_bits_retain(u32::from(msg.header.flags.bits()));
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => peer = Some(*ip),
            AddressAttribute::Flags(f) => flags = *f,
            _ => {}
        }
    }
    Some(Address {
        index: msg.header.index,
        address: local.or(peer)?,
        prefix_len: msg.header.prefix_len,
        tentative: flags.contains(AddressFlags::Tentative),
        deprecated: flags.contains(AddressFlags::Deprecated),
    })
}

fn route_ip(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// The routes of an `RTM_NEWROUTE`/`RTM_DELROUTE` message: one per next hop of a
/// multipath route; none for families other than IPv4 and IPv6.
pub(crate) fn routes(msg: &RouteMessage) -> Vec<Route> {
    let unspecified = match msg.header.address_family {
        AddressFamily::Inet => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        AddressFamily::Inet6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        _ => return Vec::new(),
    };
    let mut route = Route {
        table: u32::from(msg.header.table),
        destination: unspecified,
        prefix_len: msg.header.destination_prefix_length,
        gateway: None,
        index: None,
        metric: None,
        source: None,
        kind: match msg.header.kind {
            RouteType::Unicast => RouteKind::Unicast,
            RouteType::Local => RouteKind::Local,
            RouteType::Broadcast => RouteKind::Broadcast,
            RouteType::Multicast => RouteKind::Multicast,
            RouteType::BlackHole => RouteKind::Blackhole,
            RouteType::Unreachable => RouteKind::Unreachable,
            RouteType::Prohibit => RouteKind::Prohibit,
            _ => RouteKind::Other,
        },
        protocol: match msg.header.protocol {
            RouteProtocol::Kernel => RouteOrigin::Kernel,
            RouteProtocol::Boot => RouteOrigin::Boot,
            RouteProtocol::Static => RouteOrigin::Static,
            RouteProtocol::Ra => RouteOrigin::RouterAdvertisement,
            RouteProtocol::Dhcp => RouteOrigin::Dhcp,
            _ => RouteOrigin::Other,
        },
    };
    let mut next_hops = Vec::new();
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Table(t) => route.table = *t,
            RouteAttribute::Destination(d) => {
                if let Some(ip) = route_ip(d) {
                    route.destination = ip;
                }
            }
            RouteAttribute::Gateway(g) => route.gateway = route_ip(g),
            RouteAttribute::Oif(i) => route.index = Some(*i),
            RouteAttribute::Priority(p) => route.metric = Some(*p),
            RouteAttribute::PrefSource(s) => route.source = route_ip(s),
            RouteAttribute::MultiPath(hops) => next_hops.clone_from(hops),
            _ => {}
        }
    }
    if next_hops.is_empty() {
        return vec![route];
    }
    next_hops
        .iter()
        .map(|hop| {
            let mut r = route.clone();
            r.index = Some(hop.interface_index);
            r.gateway = hop.attributes.iter().find_map(|a| match a {
                RouteAttribute::Gateway(g) => route_ip(g),
                _ => None,
            });
            r
        })
        .collect()
}

/// A neighbour from an `RTM_NEWNEIGH`/`RTM_DELNEIGH` message; `None` for families
/// other than IPv4 and IPv6 (bridge FDB entries).
pub(crate) fn neighbour(msg: &NeighbourMessage) -> Option<Neighbour> {
    if !matches!(
        msg.header.family,
        AddressFamily::Inet | AddressFamily::Inet6
    ) {
        return None;
    }
    let mut address = None;
    let mut mac = None;
    for attr in &msg.attributes {
        match attr {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                address = Some(IpAddr::V4(*v4))
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                address = Some(IpAddr::V6(*v6))
            }
            NeighbourAttribute::LinkLayerAddress(bytes) if !bytes.is_empty() => {
                mac = Some(HardwareAddress(bytes.clone()))
            }
            _ => {}
        }
    }
    Some(Neighbour {
        index: msg.header.ifindex,
        address: address?,
        mac,
        state: match msg.header.state {
            NlNeighbourState::Incomplete => NeighbourState::Incomplete,
            NlNeighbourState::Reachable => NeighbourState::Reachable,
            NlNeighbourState::Stale => NeighbourState::Stale,
            NlNeighbourState::Delay => NeighbourState::Delay,
            NlNeighbourState::Probe => NeighbourState::Probe,
            NlNeighbourState::Failed => NeighbourState::Failed,
            NlNeighbourState::Noarp => NeighbourState::NoArp,
            NlNeighbourState::Permanent => NeighbourState::Permanent,
            _ => NeighbourState::Other,
        },
    })
}

/// A rule from an `RTM_NEWRULE` message.
pub(crate) fn rule(msg: &RuleMessage) -> Option<Rule> {
    let family = match msg.header.family {
        AddressFamily::Inet => IpFamily::V4,
        AddressFamily::Inet6 => IpFamily::V6,
        _ => return None,
    };
    let mut rule = Rule::new(family, 0, u32::from(msg.header.table));
    for attr in &msg.attributes {
        match attr {
            RuleAttribute::Priority(p) => rule.priority = *p,
            RuleAttribute::Table(t) => rule.table = *t,
            RuleAttribute::UidRange(r) => rule.uid_range = Some((r.start, r.end)),
            RuleAttribute::FwMark(m) => rule.fwmark = Some(*m),
            RuleAttribute::FwMask(m) => rule.fwmask = Some(*m),
            RuleAttribute::Iifname(n) => rule.input_interface = Some(n.clone()),
            RuleAttribute::Oifname(n) => rule.output_interface = Some(n.clone()),
            // The kernel reports "no suppression" as u32::MAX.
            RuleAttribute::SuppressPrefixLen(n) if *n != u32::MAX => {
                rule.suppress_prefix_length = Some(*n)
            }
            _ => {}
        }
    }
    if msg.header.action == RuleAction::Unreachable {
        rule.unreachable = true;
        rule.table = 0;
    }
    Some(rule)
}

/// The events of one multicast message (a multipath route gives several).
pub(crate) fn events(msg: NetlinkMessage<RouteNetlinkMessage>, sysfs: &SysfsNet) -> Vec<LinkEvent> {
    let NetlinkPayload::InnerMessage(inner) = msg.payload else {
        return Vec::new();
    };
    match inner {
        RouteNetlinkMessage::NewLink(m) => link(&m, sysfs)
            .map(LinkEvent::LinkChanged)
            .into_iter()
            .collect(),
        RouteNetlinkMessage::DelLink(m) => link(&m, sysfs)
            .map(LinkEvent::LinkRemoved)
            .into_iter()
            .collect(),
        RouteNetlinkMessage::NewAddress(m) => address(&m)
            .map(LinkEvent::AddressAdded)
            .into_iter()
            .collect(),
        RouteNetlinkMessage::DelAddress(m) => address(&m)
            .map(LinkEvent::AddressRemoved)
            .into_iter()
            .collect(),
        RouteNetlinkMessage::NewRoute(m) => {
            routes(&m).into_iter().map(LinkEvent::RouteAdded).collect()
        }
        RouteNetlinkMessage::DelRoute(m) => routes(&m)
            .into_iter()
            .map(LinkEvent::RouteRemoved)
            .collect(),
        RouteNetlinkMessage::NewNeighbour(m) => neighbour(&m)
            .map(LinkEvent::NeighbourChanged)
            .into_iter()
            .collect(),
        RouteNetlinkMessage::DelNeighbour(m) => neighbour(&m)
            .map(LinkEvent::NeighbourRemoved)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_route::route::RouteNextHop;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn no_sysfs() -> SysfsNet {
        SysfsNet::new("/nonexistent/netcore-test")
    }

    fn link_message(name: &str, kind: Option<InfoKind>, layer: LinkLayerType) -> LinkMessage {
        let mut msg = LinkMessage::default();
        msg.header.index = 7;
        msg.header.link_layer_type = layer;
        msg.header.flags = LinkFlags::Up | LinkFlags::LowerUp | LinkFlags::Running;
        msg.attributes = vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::Mtu(1420),
            LinkAttribute::Address(vec![2, 0, 0, 0, 0, 7]),
            LinkAttribute::OperState(State::Up),
        ];
        if let Some(kind) = kind {
            msg.attributes
                .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(kind)]));
        }
        msg
    }

    #[test]
    fn links_get_kind_flags_mtu_and_mac() {
        let l = link(
            &link_message("eth0", None, LinkLayerType::Ether),
            &no_sysfs(),
        )
        .unwrap();
        assert_eq!(l.kind, LinkKind::Device);
        assert_eq!((l.index, l.mtu, l.up, l.lower_up), (7, 1420, true, true));
        assert_eq!(l.oper_state, OperState::Up);
        assert_eq!(l.mac.unwrap().to_string(), "02:00:00:00:00:07");
        assert_eq!((l.wireless, l.speed_mbps), (false, None));
        let kind = |k, layer| {
            link(&link_message("x", Some(k), layer), &no_sysfs())
                .unwrap()
                .kind
        };
        assert_eq!(kind(InfoKind::Tun, LinkLayerType::None), LinkKind::Tun);
        assert_eq!(kind(InfoKind::Tun, LinkLayerType::Ether), LinkKind::Tap);
        assert_eq!(kind(InfoKind::Veth, LinkLayerType::Ether), LinkKind::Veth);
        assert_eq!(
            kind(InfoKind::Other("foo".into()), LinkLayerType::Ether),
            LinkKind::Other("foo".into())
        );
        let mut nameless = link_message("x", None, LinkLayerType::Ether);
        nameless.attributes.remove(0);
        assert!(link(&nameless, &no_sysfs()).is_none());
    }

    #[test]
    fn addresses_prefer_the_local_address() {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.index = 3;
        msg.header.prefix_len = 32;
        msg.attributes = vec![
            AddressAttribute::Address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))),
            AddressAttribute::Local(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            AddressAttribute::Flags(AddressFlags::Tentative),
        ];
        let a = address(&msg).unwrap();
        assert_eq!(a.address, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!((a.index, a.prefix_len, a.tentative), (3, 32, true));
        msg.attributes.clear();
        assert!(address(&msg).is_none());
    }

    #[test]
    fn multipath_routes_expand_per_next_hop() {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet6;
        msg.header.table = 254;
        msg.header.kind = RouteType::Unicast;
        msg.header.protocol = RouteProtocol::Static;
        let hop = |index, gw: Ipv6Addr| {
            let mut h = RouteNextHop::default();
            h.interface_index = index;
            h.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet6(gw))];
            h
        };
        msg.attributes = vec![
            RouteAttribute::Table(1000),
            RouteAttribute::Priority(5),
            RouteAttribute::MultiPath(vec![
                hop(2, "fe80::1".parse().unwrap()),
                hop(3, "fe80::2".parse().unwrap()),
            ]),
        ];
        let routes = routes(&msg);
        assert_eq!(routes.len(), 2);
        assert!(
            routes
                .iter()
                .all(|r| r.is_default() && r.table == 1000 && r.metric == Some(5))
        );
        assert_eq!(routes[1].index, Some(3));
        assert_eq!(routes[1].gateway, Some("fe80::2".parse().unwrap()));
        assert_eq!(routes[0].protocol, RouteOrigin::Static);

        let mut other = RouteMessage::default();
        other.header.address_family = AddressFamily::Mpls;
        assert!(super::routes(&other).is_empty());
    }

    #[test]
    fn neighbours_of_other_families_are_ignored() {
        let mut msg = NeighbourMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.ifindex = 4;
        msg.header.state = NlNeighbourState::Stale;
        msg.attributes = vec![
            NeighbourAttribute::Destination(NeighbourAddress::Inet(Ipv4Addr::new(192, 0, 2, 1))),
            NeighbourAttribute::LinkLayerAddress(vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]),
        ];
        let n = neighbour(&msg).unwrap();
        assert_eq!(n.state, NeighbourState::Stale);
        assert!(n.is_resolved());
        assert_eq!(n.mac.unwrap().to_string(), "aa:bb:cc:dd:ee:ff");
        msg.header.family = AddressFamily::Bridge;
        assert!(neighbour(&msg).is_none());
    }
}
