//! From the kernel's link state to networks: which links are Ethernet networks, their
//! properties, and the reports that turn one set of networks into another. Pure
//! functions, no I/O.

use std::collections::BTreeMap;

use netcore::{LinkAddress, NetAddress, NetBearType, NetworkInfo, RouteInfo};
use netcore_link::properties::{connection_properties, limit_lists};
use netcore_link::{Link, LinkKind, LinkState};

use crate::config::{EthernetConfig, InterfaceConfig};
use crate::pattern::InterfaceFilter;

/// Whether `link` is of the Ethernet class: a NIC, veth, VLAN, bond, bridge, macvlan,
/// ipvlan or team; not wireless, loopback, tun/tap (VPNs), WireGuard, dummy or
/// anything else.
pub fn is_ethernet_class(link: &Link) -> bool {
    if link.wireless || link.loopback {
        return false;
    }
    match &link.kind {
        LinkKind::Device | LinkKind::Veth | LinkKind::Vlan | LinkKind::Bond | LinkKind::Bridge => {
            true
        }
        LinkKind::Other(kind) => matches!(kind.as_str(), "macvlan" | "ipvlan" | "team"),
        _ => false,
    }
}

/// The network of `link` from the addresses and main-table routes in `state`, plus
/// the interface's section of the configuration.
pub fn network_of(
    link: &Link,
    state: &LinkState,
    section: Option<&InterfaceConfig>,
) -> NetworkInfo {
    let mut info = NetworkInfo::new(NetBearType::Ethernet, &link.name);
    info.properties = connection_properties(link, state);
    let props = &mut info.properties;
    if let Some(section) = section {
        for static_ip in [&section.ipv4, &section.ipv6].into_iter().flatten() {
            if let Ok(address) = static_ip.link_address()
                && !props.link_addresses.contains(&address)
            {
                props.link_addresses.push(address);
            }
            if let Some(gateway) = static_ip.gateway {
                let any = if gateway.is_ipv4() {
                    std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
                } else {
                    std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                };
                if let Ok(default) = LinkAddress::new(any, 0) {
                    let route = RouteInfo::new(&link.name, default, Some(gateway));
                    if !props.routes.contains(&route) {
                        props.routes.push(route);
                    }
                }
            }
        }
        props.dnses = section.dns.iter().map(|ip| NetAddress::from(*ip)).collect();
        props.domains = section.domains.join(",");
        info.quality = section.quality;
    }
    limit_lists(props);
    props.update_link_validity();
    let kbps = link.speed_mbps.map(|mbps| mbps.saturating_mul(1000));
    info.link_up_bandwidth_kbps = kbps;
    info.link_down_bandwidth_kbps = kbps;
    info
}

/// Every Ethernet network in `state`: Ethernet-class links admitted by `filter` that
/// have carrier, by interface name.
pub fn networks(
    state: &LinkState,
    config: &EthernetConfig,
    filter: &InterfaceFilter,
) -> BTreeMap<String, NetworkInfo> {
    state
        .links()
        .filter(|l| is_ethernet_class(l) && l.has_carrier() && filter.admits(&l.name))
        .map(|l| {
            (
                l.name.clone(),
                network_of(l, state, config.interfaces.get(&l.name)),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StaticIp;
    use netcore::NetCap;
    use netcore_link::{
        Address, HardwareAddress, LinkCounters, LinkEvent, OperState, Route, RouteKind, RouteOrigin,
    };
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn link(index: u32, name: &str, kind: LinkKind, carrier: bool) -> Link {
        Link {
            index,
            name: name.into(),
            kind,
            up: true,
            lower_up: carrier,
            running: carrier,
            loopback: false,
            wireless: false,
            oper_state: if carrier {
                OperState::Up
            } else {
                OperState::LowerLayerDown
            },
            mtu: 1500,
            mac: Some(HardwareAddress(vec![2, 0, 0, 0, 0, index as u8])),
            speed_mbps: Some(1000),
            counters: LinkCounters::default(),
        }
    }

    fn route(index: u32, dst: &str, len: u8, gateway: Option<&str>, table: u32) -> Route {
        Route {
            table,
            destination: ip(dst),
            prefix_len: len,
            gateway: gateway.map(ip),
            index: Some(index),
            metric: None,
            source: None,
            kind: RouteKind::Unicast,
            protocol: RouteOrigin::Static,
        }
    }

    fn state() -> LinkState {
        let mut s = LinkState::new();
        let events = [
            LinkEvent::LinkChanged(link(2, "eth0", LinkKind::Device, true)),
            LinkEvent::AddressAdded(Address {
                index: 2,
                address: ip("192.0.2.10"),
                prefix_len: 24,
                tentative: false,
                deprecated: false,
            }),
            LinkEvent::AddressAdded(Address {
                index: 2,
                address: ip("2001:db8::10"),
                prefix_len: 64,
                tentative: true,
                deprecated: false,
            }),
            LinkEvent::RouteAdded(route(2, "192.0.2.0", 24, None, Route::MAIN_TABLE)),
            LinkEvent::RouteAdded(route(2, "0.0.0.0", 0, Some("192.0.2.1"), Route::MAIN_TABLE)),
            LinkEvent::RouteAdded(route(2, "198.51.100.0", 24, Some("192.0.2.1"), 100)),
        ];
        for e in &events {
            s.apply(e);
        }
        s
    }

    #[test]
    fn ethernet_class_excludes_wireless_loopback_and_tunnels() {
        assert!(is_ethernet_class(&link(1, "eth0", LinkKind::Device, true)));
        assert!(is_ethernet_class(&link(1, "veth0", LinkKind::Veth, true)));
        assert!(is_ethernet_class(&link(
            1,
            "mv0",
            LinkKind::Other("macvlan".into()),
            true
        )));
        assert!(!is_ethernet_class(&link(1, "tun0", LinkKind::Tun, true)));
        assert!(!is_ethernet_class(&link(1, "tap0", LinkKind::Tap, true)));
        assert!(!is_ethernet_class(&link(
            1,
            "wg0",
            LinkKind::Wireguard,
            true
        )));
        assert!(!is_ethernet_class(&link(
            1,
            "ifb0",
            LinkKind::Other("ifb".into()),
            true
        )));
        let mut wlan = link(1, "wlan0", LinkKind::Device, true);
        wlan.wireless = true;
        assert!(!is_ethernet_class(&wlan));
        let mut lo = link(1, "lo", LinkKind::Loopback, true);
        lo.loopback = true;
        assert!(!is_ethernet_class(&lo));
    }

    #[test]
    fn properties_come_from_the_kernel_and_the_config() {
        let s = state();
        let eth0 = s.link(2).unwrap();
        let info = network_of(eth0, &s, None);
        assert_eq!(info.bearer_type, NetBearType::Ethernet);
        for cap in [NetCap::Internet, NetCap::NotMetered, NetCap::NotVpn] {
            assert!(info.capabilities.contains(cap), "{cap}");
        }
        let p = &info.properties;
        assert_eq!(p.interface_name, "eth0");
        assert_eq!(p.mtu, 1500);
        // The tentative IPv6 address is not usable yet.
        assert_eq!(
            p.link_addresses,
            vec![LinkAddress::new(ip("192.0.2.10"), 24).unwrap()]
        );
        // Main table only: the table-100 route is not the network's.
        assert_eq!(p.routes.len(), 2);
        let default = p.routes.iter().find(|r| r.is_default_route).unwrap();
        assert!(default.has_gateway);
        assert_eq!(default.gateway.ip(), ip("192.0.2.1"));
        assert!(
            !p.routes
                .iter()
                .find(|r| !r.is_default_route)
                .unwrap()
                .has_gateway
        );
        assert!(p.is_ipv4_link_valid);
        assert!(!p.is_ipv6_link_valid);
        assert_eq!(info.link_up_bandwidth_kbps, Some(1_000_000));
        assert_eq!(info.link_down_bandwidth_kbps, Some(1_000_000));
        assert!(p.dnses.is_empty());

        let section = InterfaceConfig {
            dns: vec![ip("192.0.2.53")],
            domains: vec!["example.net".into(), "example.org".into()],
            ipv4: None,
            ipv6: Some(StaticIp {
                address: ip("2001:db8:1::10"),
                prefix_length: 64,
                gateway: Some(ip("2001:db8:1::1")),
            }),
            quality: Some(90),
        };
        let info = network_of(eth0, &s, Some(&section));
        assert_eq!(info.quality, Some(90));
        let p = &info.properties;
        assert_eq!(p.dnses, vec![NetAddress::from(ip("192.0.2.53"))]);
        assert_eq!(p.domains, "example.net,example.org");
        assert!(
            p.link_addresses
                .contains(&LinkAddress::new(ip("2001:db8:1::10"), 64).unwrap())
        );
        assert!(
            p.routes
                .iter()
                .any(|r| r.is_default_route && r.gateway.ip() == ip("2001:db8:1::1"))
        );
        assert!(p.is_ipv6_link_valid);
    }

    #[test]
    fn networks_need_carrier_class_and_filter() {
        let mut s = state();
        s.apply(&LinkEvent::LinkChanged(link(
            3,
            "eth1",
            LinkKind::Device,
            false,
        )));
        s.apply(&LinkEvent::LinkChanged(link(
            4,
            "tun0",
            LinkKind::Tun,
            true,
        )));
        s.apply(&LinkEvent::LinkChanged(link(
            5,
            "veth7",
            LinkKind::Veth,
            true,
        )));
        s.apply(&LinkEvent::LinkChanged(link(
            6,
            "docker0",
            LinkKind::Bridge,
            true,
        )));
        let config = EthernetConfig::default();
        let filter = config.check().unwrap();
        let names: Vec<_> = networks(&s, &config, &filter).into_keys().collect();
        assert_eq!(names, ["eth0", "veth7"]);
        let only_eth = InterfaceFilter::new(&["eth*"], &[]).unwrap();
        let names: Vec<_> = networks(&s, &config, &only_eth).into_keys().collect();
        assert_eq!(names, ["eth0"]);
    }
}
