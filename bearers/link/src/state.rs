//! The kernel's link-layer state as last reported: links, addresses, routes and
//! neighbours, kept up to date by applying [`LinkEvent`]s.

use std::collections::{BTreeMap, BTreeSet};

use netcore::{NetAddress, NetIpMacInfo};

use crate::types::*;

/// A snapshot of links, addresses, routes (all tables) and neighbours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkState {
    links: BTreeMap<u32, Link>,
    addresses: BTreeSet<Address>,
    routes: BTreeSet<Route>,
    neighbours: BTreeMap<(u32, std::net::IpAddr), Neighbour>,
}

impl LinkState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every link, by ascending index.
    pub fn links(&self) -> impl Iterator<Item = &Link> {
        self.links.values()
    }

    /// The link with index `index`.
    pub fn link(&self, index: u32) -> Option<&Link> {
        self.links.get(&index)
    }

    /// The link named `name`.
    pub fn link_by_name(&self, name: &str) -> Option<&Link> {
        self.links.values().find(|l| l.name == name)
    }

    /// Every address.
    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.addresses.iter()
    }

    /// The addresses of link `index`, in a stable order (IPv4 before IPv6).
    pub fn addresses_of(&self, index: u32) -> Vec<Address> {
        self.addresses
            .iter()
            .filter(|a| a.index == index)
            .copied()
            .collect()
    }

    /// Every route of every table.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }

    /// The unicast routes of `table` leaving through link `index`.
    pub fn routes_of(&self, index: u32, table: u32) -> Vec<Route> {
        self.routes
            .iter()
            .filter(|r| r.index == Some(index) && r.table == table && r.kind == RouteKind::Unicast)
            .cloned()
            .collect()
    }

    /// Every neighbour entry.
    pub fn neighbours(&self) -> impl Iterator<Item = &Neighbour> {
        self.neighbours.values()
    }

    /// The neighbour table as the seed's `NetIpMacInfo` list (getIpNeighTable):
    /// resolved entries of known links only.
    pub fn ip_neigh_table(&self) -> Vec<NetIpMacInfo> {
        ip_neigh_table(self.links.values(), self.neighbours.values())
    }

    /// Applies one event; returns whether the state changed.
    pub fn apply(&mut self, event: &LinkEvent) -> bool {
        match event {
            LinkEvent::LinkChanged(link) => {
                let was_up = self.links.get(&link.index).is_some_and(|l| l.up);
                if was_up && !link.up {
                    // The kernel flushes IPv4 routes of a link taken down without
                    // sending RTM_DELROUTE for them.
                    self.routes
                        .retain(|r| !(r.index == Some(link.index) && r.destination.is_ipv4()));
                }
                self.links.insert(link.index, link.clone()).as_ref() != Some(link)
            }
            LinkEvent::LinkRemoved(link) => {
                let index = link.index;
                self.addresses.retain(|a| a.index != index);
                self.routes.retain(|r| r.index != Some(index));
                self.neighbours.retain(|(i, _), _| *i != index);
                self.links.remove(&index).is_some()
            }
            LinkEvent::AddressAdded(a) => {
                let old = self
                    .addresses
                    .iter()
                    .find(|x| {
                        x.index == a.index && x.address == a.address && x.prefix_len == a.prefix_len
                    })
                    .copied();
                match old {
                    Some(old) if old == *a => false,
                    Some(old) => {
                        self.addresses.remove(&old);
                        self.addresses.insert(*a)
                    }
                    None => self.addresses.insert(*a),
                }
            }
            LinkEvent::AddressRemoved(a) => {
                let before = self.addresses.len();
                self.addresses.retain(|x| {
                    !(x.index == a.index && x.address == a.address && x.prefix_len == a.prefix_len)
                });
                before != self.addresses.len()
            }
            LinkEvent::RouteAdded(r) => self.routes.insert(r.clone()),
            LinkEvent::RouteRemoved(r) => self.routes.remove(r),
            LinkEvent::NeighbourChanged(n) => {
                self.neighbours
                    .insert((n.index, n.address), n.clone())
                    .as_ref()
                    != Some(n)
            }
            LinkEvent::NeighbourRemoved(n) => {
                self.neighbours.remove(&(n.index, n.address)).is_some()
            }
        }
    }
}

/// The resolved entries of `neighbours` on `links` as `NetIpMacInfo`.
pub(crate) fn ip_neigh_table<'a>(
    links: impl Iterator<Item = &'a Link>,
    neighbours: impl Iterator<Item = &'a Neighbour>,
) -> Vec<NetIpMacInfo> {
    let names: BTreeMap<u32, &str> = links.map(|l| (l.index, l.name.as_str())).collect();
    neighbours
        .filter(|n| n.is_resolved())
        .filter_map(|n| {
            Some(NetIpMacInfo {
                ip_address: NetAddress::from(n.address),
                iface: (*names.get(&n.index)?).to_owned(),
                mac_address: n.mac.as_ref()?.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn link(index: u32, name: &str, up: bool) -> Link {
        Link {
            index,
            name: name.into(),
            kind: LinkKind::Veth,
            up,
            lower_up: up,
            running: up,
            loopback: false,
            wireless: false,
            oper_state: OperState::Up,
            mtu: 1500,
            mac: Some(HardwareAddress(vec![2, 0, 0, 0, 0, index as u8])),
            speed_mbps: None,
            counters: LinkCounters::default(),
        }
    }

    fn route(index: u32, dst: &str, len: u8) -> Route {
        Route {
            table: Route::MAIN_TABLE,
            destination: dst.parse().unwrap(),
            prefix_len: len,
            gateway: None,
            index: Some(index),
            metric: None,
            source: None,
            kind: RouteKind::Unicast,
            protocol: RouteOrigin::Kernel,
        }
    }

    fn address(index: u32, ip: &str, len: u8) -> Address {
        Address {
            index,
            address: ip.parse().unwrap(),
            prefix_len: len,
            tentative: false,
            deprecated: false,
        }
    }

    #[test]
    fn events_build_and_tear_down_state() {
        let mut s = LinkState::new();
        assert!(s.apply(&LinkEvent::LinkChanged(link(3, "veth0", true))));
        assert!(!s.apply(&LinkEvent::LinkChanged(link(3, "veth0", true))));
        assert!(s.apply(&LinkEvent::AddressAdded(address(3, "10.1.0.1", 24))));
        assert!(s.apply(&LinkEvent::AddressAdded(address(3, "fd00::1", 64))));
        assert!(s.apply(&LinkEvent::RouteAdded(route(3, "10.1.0.0", 24))));
        assert!(s.apply(&LinkEvent::RouteAdded(route(3, "fd00::", 64))));
        assert_eq!(s.addresses_of(3).len(), 2);
        assert_eq!(
            s.addresses_of(3)[0].address,
            "10.1.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(s.routes_of(3, Route::MAIN_TABLE).len(), 2);
        assert_eq!(s.link_by_name("veth0").map(|l| l.index), Some(3));

        // Taken down: IPv4 routes go silently, IPv6 ones stay until their own event.
        assert!(s.apply(&LinkEvent::LinkChanged(link(3, "veth0", false))));
        let left = s.routes_of(3, Route::MAIN_TABLE);
        assert_eq!(left.len(), 1);
        assert!(left[0].destination.is_ipv6());

        // A changed address (flags) replaces the old entry.
        let mut tentative = address(3, "fd00::1", 64);
        tentative.tentative = true;
        assert!(s.apply(&LinkEvent::AddressAdded(tentative)));
        assert_eq!(s.addresses_of(3).len(), 2);
        assert!(s.apply(&LinkEvent::AddressRemoved(address(3, "fd00::1", 64))));
        assert_eq!(s.addresses_of(3).len(), 1);

        assert!(s.apply(&LinkEvent::LinkRemoved(link(3, "veth0", false))));
        assert!(s.link(3).is_none());
        assert!(s.addresses_of(3).is_empty());
        assert!(s.routes_of(3, Route::MAIN_TABLE).is_empty());
        assert!(!s.apply(&LinkEvent::LinkRemoved(link(3, "veth0", false))));
    }

    #[test]
    fn neigh_table_has_resolved_entries_of_known_links() {
        let mut s = LinkState::new();
        s.apply(&LinkEvent::LinkChanged(link(4, "eth1", true)));
        let resolved = Neighbour {
            index: 4,
            address: "192.0.2.1".parse().unwrap(),
            mac: Some(HardwareAddress(vec![0xaa, 0xbb, 0xcc, 0, 0, 1])),
            state: NeighbourState::Reachable,
        };
        let failed = Neighbour {
            address: "192.0.2.2".parse().unwrap(),
            mac: None,
            state: NeighbourState::Failed,
            ..resolved.clone()
        };
        let unknown_link = Neighbour {
            index: 9,
            ..resolved.clone()
        };
        for n in [&resolved, &failed, &unknown_link] {
            s.apply(&LinkEvent::NeighbourChanged(n.clone()));
        }
        let table = s.ip_neigh_table();
        assert_eq!(table.len(), 1);
        assert_eq!(table[0].iface, "eth1");
        assert_eq!(table[0].mac_address, "aa:bb:cc:00:00:01");
        assert_eq!(
            table[0].ip_address.ip(),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
