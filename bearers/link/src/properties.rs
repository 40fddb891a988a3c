//! A link's [`ConnectionProperties`] from the kernel's state: what every bearer whose
//! networks are kernel interfaces (Ethernet, Wi-Fi) reports in the same way.

use netcore::bearer::MAX_LIST_LEN;
use netcore::{ConnectionProperties, LinkAddress, RouteInfo};

use crate::{Link, LinkState, Route};

/// The properties of `link` from `state`: its name, MTU, usable addresses (not
/// tentative), main-table routes through it, and the IPv4/IPv6 link validity flags.
/// Lists are cut at [`MAX_LIST_LEN`] (logged); addresses or routes the model refuses
/// are skipped (logged). DNS servers and domains are left empty for the bearer.
pub fn connection_properties(link: &Link, state: &LinkState) -> ConnectionProperties {
    let mut props = ConnectionProperties {
        interface_name: link.name.clone(),
        mtu: link.mtu,
        ..ConnectionProperties::default()
    };
    for address in state.addresses_of(link.index) {
        if address.tentative {
            continue;
        }
        match LinkAddress::new(address.address, i64::from(address.prefix_len)) {
            Ok(a) => props.link_addresses.push(a),
            Err(e) => tracing::warn!(interface = %link.name, error = %e, "skipping an address"),
        }
    }
    for route in state.routes_of(link.index, Route::MAIN_TABLE) {
        match LinkAddress::new(route.destination, i64::from(route.prefix_len)) {
            Ok(destination) => {
                props
                    .routes
                    .push(RouteInfo::new(&link.name, destination, route.gateway))
            }
            Err(e) => tracing::warn!(interface = %link.name, error = %e, "skipping a route"),
        }
    }
    limit_lists(&mut props);
    props.update_link_validity();
    props
}

/// Cuts the address and route lists of `props` at [`MAX_LIST_LEN`], logging when it
/// does. Bearers that add entries of their own call it again before reporting.
pub fn limit_lists(props: &mut ConnectionProperties) {
    for (what, len) in [
        ("addresses", props.link_addresses.len()),
        ("routes", props.routes.len()),
    ] {
        if len > MAX_LIST_LEN {
            tracing::warn!(interface = %props.interface_name, what, len, "too many; reporting the first {MAX_LIST_LEN}");
        }
    }
    props.link_addresses.truncate(MAX_LIST_LEN);
    props.routes.truncate(MAX_LIST_LEN);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, LinkCounters, LinkEvent, LinkKind, OperState, RouteKind, RouteOrigin};
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn route(dst: &str, len: u8, gateway: Option<&str>, table: u32) -> Route {
        Route {
            table,
            destination: ip(dst),
            prefix_len: len,
            gateway: gateway.map(ip),
            index: Some(3),
            metric: None,
            source: None,
            kind: RouteKind::Unicast,
            protocol: RouteOrigin::Static,
        }
    }

    #[test]
    fn addresses_main_routes_mtu_and_validity() {
        let link = Link {
            index: 3,
            name: "wlan0".into(),
            kind: LinkKind::Device,
            up: true,
            lower_up: true,
            running: true,
            loopback: false,
            wireless: true,
            oper_state: OperState::Up,
            mtu: 1480,
            mac: None,
            speed_mbps: None,
            counters: LinkCounters::default(),
        };
        let mut state = LinkState::new();
        let address = |a: &str, len: u8, tentative: bool| {
            LinkEvent::AddressAdded(Address {
                index: 3,
                address: ip(a),
                prefix_len: len,
                tentative,
                deprecated: false,
            })
        };
        for event in [
            LinkEvent::LinkChanged(link.clone()),
            address("192.0.2.7", 24, false),
            address("2001:db8::7", 64, true),
            LinkEvent::RouteAdded(route("0.0.0.0", 0, Some("192.0.2.1"), Route::MAIN_TABLE)),
            LinkEvent::RouteAdded(route("198.51.100.0", 24, None, 100)),
        ] {
            state.apply(&event);
        }
        let p = connection_properties(&link, &state);
        assert_eq!(p.interface_name, "wlan0");
        assert_eq!(p.mtu, 1480);
        assert_eq!(
            p.link_addresses,
            vec![LinkAddress::new(ip("192.0.2.7"), 24).unwrap()]
        );
        assert_eq!(p.routes.len(), 1);
        assert!(p.routes[0].is_default_route);
        assert_eq!(p.routes[0].gateway.ip(), ip("192.0.2.1"));
        assert!(p.is_ipv4_link_valid);
        assert!(!p.is_ipv6_link_valid);
        assert!(p.dnses.is_empty());
    }
}
