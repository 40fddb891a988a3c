//! System tests in network namespaces of their own (need root; skipped otherwise).

use std::net::{IpAddr, UdpSocket};
use std::time::Duration;

use netcore_link::testing::{NetNs, skip_unless_root};
use netcore_link::{
    IpFamily, LinkClient, LinkError, LinkEvent, LinkKind, LinkWatcher, Route, RouteSpec, Rule,
};

const TIMEOUT: Duration = Duration::from_secs(5);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Waits for an event matching `want`, returning it; fails after [`TIMEOUT`].
async fn wait_for(
    watcher: &mut LinkWatcher,
    what: &str,
    want: impl Fn(&LinkEvent) -> bool,
) -> LinkEvent {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, watcher.next_event()).await {
            Ok(Ok(event)) if want(&event) => return event,
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => panic!("watcher failed waiting for {what}: {e}"),
            Err(_) => panic!("no event for {what} within {TIMEOUT:?}"),
        }
    }
}

fn is_link(event: &LinkEvent, name: &str, carrier: bool) -> bool {
    matches!(event, LinkEvent::LinkChanged(l) if l.name == name && l.has_carrier() == carrier)
}

#[test]
fn watcher_follows_carrier_mtu_addresses_and_deletion() {
    if skip_unless_root() {
        return;
    }
    let ns = NetNs::create().unwrap();
    ns.add_veth("nc0", "nc0p").unwrap();
    ns.ip(&["addr", "add", "10.77.0.1/24", "dev", "nc0"])
        .unwrap();
    ns.ip(&["tuntap", "add", "mode", "tun", "nt0"]).unwrap();
    ns.ip(&["tuntap", "add", "mode", "tap", "nt1"]).unwrap();
    ns.ip(&["link", "add", "nd0", "up", "type", "ifb"]).unwrap();
    let ns_ref = &ns;
    ns.run_async(|| async move {
        let mut watcher = LinkWatcher::start().await.unwrap();
        let state = watcher.state();
        let nc0 = state.link_by_name("nc0").expect("nc0 in the initial dump").clone();
        assert_eq!(nc0.kind, LinkKind::Veth);
        assert!(nc0.has_carrier(), "{nc0:?}");
        assert_eq!(nc0.mtu, 1500);
        assert!(!nc0.wireless && !nc0.loopback);
        assert_eq!(nc0.mac.as_ref().map(|m| m.0.len()), Some(6));
        // sysfs of the namespace (remounted by the helper): veth reports 10 Gb/s.
        assert_eq!(nc0.speed_mbps, Some(10_000));
        let addresses = state.addresses_of(nc0.index);
        assert!(addresses.iter().any(|a| a.address == ip("10.77.0.1") && a.prefix_len == 24));
        let routes = state.routes_of(nc0.index, Route::MAIN_TABLE);
        assert!(
            routes.iter().any(|r| r.destination == ip("10.77.0.0") && r.prefix_len == 24),
            "{routes:?}"
        );
        assert!(state.link_by_name("lo").is_some_and(|l| l.kind == LinkKind::Loopback && l.loopback));
        assert_eq!(state.link_by_name("nt0").map(|l| &l.kind), Some(&LinkKind::Tun));
        assert_eq!(state.link_by_name("nt1").map(|l| &l.kind), Some(&LinkKind::Tap));
        assert_eq!(
            state.link_by_name("nd0").map(|l| &l.kind),
            Some(&LinkKind::Other("ifb".into()))
        );
        // ifb devices have carrier with an unknown operational state.
        assert!(state.link_by_name("nd0").is_some_and(|l| l.has_carrier()));

        ns_ref.ip(&["link", "set", "nc0p", "down"]).unwrap();
        wait_for(&mut watcher, "carrier loss", |e| is_link(e, "nc0", false)).await;
        ns_ref.ip(&["link", "set", "nc0p", "up"]).unwrap();
        wait_for(&mut watcher, "carrier", |e| is_link(e, "nc0", true)).await;

        ns_ref.ip(&["link", "set", "nc0", "mtu", "1400"]).unwrap();
        wait_for(&mut watcher, "mtu 1400", |e| {
            matches!(e, LinkEvent::LinkChanged(l) if l.name == "nc0" && l.mtu == 1400)
        })
        .await;

        ns_ref.ip(&["addr", "add", "10.77.1.1/24", "dev", "nc0"]).unwrap();
        let added = wait_for(&mut watcher, "address add", |e| {
            matches!(e, LinkEvent::AddressAdded(a) if a.address == ip("10.77.1.1"))
        })
        .await;
        assert!(matches!(added, LinkEvent::AddressAdded(a) if a.index == nc0.index && a.prefix_len == 24));
        wait_for(&mut watcher, "prefix route", |e| {
            matches!(e, LinkEvent::RouteAdded(r) if r.destination == ip("10.77.1.0") && r.index == Some(nc0.index))
        })
        .await;
        ns_ref.ip(&["addr", "del", "10.77.1.1/24", "dev", "nc0"]).unwrap();
        wait_for(&mut watcher, "address removal", |e| {
            matches!(e, LinkEvent::AddressRemoved(a) if a.address == ip("10.77.1.1"))
        })
        .await;
        assert!(!watcher.state().addresses_of(nc0.index).iter().any(|a| a.address == ip("10.77.1.1")));

        ns_ref.ip(&["link", "del", "nc0"]).unwrap();
        wait_for(&mut watcher, "deletion", |e| {
            matches!(e, LinkEvent::LinkRemoved(l) if l.name == "nc0")
        })
        .await;
        assert!(watcher.state().link_by_name("nc0").is_none());
        assert!(watcher.state().addresses_of(nc0.index).is_empty());
        assert!(watcher.state().routes_of(nc0.index, Route::MAIN_TABLE).is_empty());

        ns_ref.add_veth("nc2", "nc2p").unwrap();
        wait_for(&mut watcher, "new link with carrier", |e| is_link(e, "nc2", true)).await;
    })
    .unwrap();
}

#[test]
fn client_programs_addresses_routes_rules_and_reads_them_back() {
    if skip_unless_root() {
        return;
    }
    let ns = NetNs::create().unwrap();
    let peer_ns = NetNs::create().unwrap();
    ns.add_veth_to("nc1", "nc1p", &peer_ns).unwrap();
    peer_ns
        .ip(&["addr", "add", "10.88.0.2/24", "dev", "nc1p"])
        .unwrap();
    let peer_mac = peer_ns
        .run_async(|| async { LinkClient::connect()?.link_by_name("nc1p").await })
        .unwrap()
        .unwrap()
        .mac
        .unwrap()
        .to_string();
    ns.run_async(|| async {
        let client = LinkClient::connect().unwrap();
        client
            .add_address("nc1", ip("10.88.0.1"), 24)
            .await
            .unwrap();
        client.add_address("nc1", ip("fd88::1"), 64).await.unwrap();
        let addresses = client.addresses_of("nc1").await.unwrap();
        assert!(
            addresses
                .iter()
                .any(|a| a.address == ip("10.88.0.1") && a.prefix_len == 24)
        );
        assert!(
            addresses
                .iter()
                .any(|a| a.address == ip("fd88::1") && a.prefix_len == 64)
        );

        // The same address twice: the kernel's EEXIST, not a panic.
        let again = client
            .add_address("nc1", ip("10.88.0.1"), 24)
            .await
            .unwrap_err();
        assert_eq!(again.errno(), Some(17), "{again}");
        assert!(matches!(
            client.add_address("nope0", ip("10.0.0.1"), 24).await,
            Err(LinkError::NoSuchLink(_))
        ));
        assert!(matches!(
            client.add_address("nc1", ip("10.0.0.1"), 33).await,
            Err(LinkError::InvalidArgument(_))
        ));

        let route = RouteSpec::new("nc1", ip("198.51.100.0"), 24)
            .via(ip("10.88.0.254"))
            .in_table(100);
        client.add_route(&route).await.unwrap();
        let index = client.index_of("nc1").await.unwrap();
        let in_100 = client.routes_of("nc1", 100).await.unwrap();
        assert_eq!(in_100.len(), 1, "{in_100:?}");
        assert_eq!(in_100[0].destination, ip("198.51.100.0"));
        assert_eq!(in_100[0].prefix_len, 24);
        assert_eq!(in_100[0].gateway, Some(ip("10.88.0.254")));
        assert_eq!(in_100[0].index, Some(index));
        // Not in the main table.
        assert!(
            !client
                .routes_of("nc1", Route::MAIN_TABLE)
                .await
                .unwrap()
                .iter()
                .any(|r| r.destination == ip("198.51.100.0"))
        );
        let bad = RouteSpec::new("nc1", ip("198.51.100.0"), 24).via(ip("fd88::fe"));
        assert!(matches!(
            client.add_route(&bad).await,
            Err(LinkError::InvalidArgument(_))
        ));

        let rule = Rule::new(IpFamily::V4, 1234, 100).with_uid_range(1000, 1999);
        client.add_rule(&rule).await.unwrap();
        let marked = Rule::new(IpFamily::V6, 1235, 101).with_fwmark(0x65, 0xffff);
        let unreachable = Rule::unreachable(IpFamily::V4, 1236).with_uid_range(1000, 1000);
        let suppressing = Rule::new(IpFamily::V4, 1237, 254).with_suppress_prefix_length(0);
        for rule in [&marked, &unreachable, &suppressing] {
            client.add_rule(rule).await.unwrap();
        }
        let rules = client.rules().await.unwrap();
        for rule in [&rule, &marked, &unreachable, &suppressing] {
            assert!(rules.contains(rule), "{rule:?} not in {rules:?}");
        }
        for rule in [&marked, &unreachable, &suppressing] {
            client.remove_rule(rule).await.unwrap();
        }
        let rules = client.rules().await.unwrap();
        assert!(
            !rules.iter().any(|r| (1235..=1237).contains(&r.priority)),
            "{rules:?}"
        );
        assert!(matches!(
            client
                .add_rule(&Rule::new(IpFamily::V4, 1, 100).with_uid_range(5, 4))
                .await,
            Err(LinkError::InvalidArgument(_))
        ));

        // Traffic over the veth shows in the counters and the neighbour table.
        let before = client.counters("nc1").await.unwrap();
        let socket = UdpSocket::bind("10.88.0.1:0").unwrap();
        for _ in 0..10 {
            socket.send_to(b"netcore", "10.88.0.2:9").unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after = client.counters("nc1").await.unwrap();
        assert!(
            after.tx_packets >= before.tx_packets + 10,
            "{before:?} -> {after:?}"
        );
        assert!(
            after.tx_bytes >= before.tx_bytes + 10 * (7 + 8 + 20),
            "{before:?} -> {after:?}"
        );
        let table = client.ip_neigh_table().await.unwrap();
        assert!(
            table.iter().any(|e| e.iface == "nc1"
                && e.ip_address.ip() == ip("10.88.0.2")
                && e.mac_address == peer_mac),
            "{table:?}"
        );

        client.remove_rule(&rule).await.unwrap();
        assert!(!client.rules().await.unwrap().contains(&rule));
        client.remove_route(&route).await.unwrap();
        assert!(client.routes_of("nc1", 100).await.unwrap().is_empty());
        client
            .remove_address("nc1", ip("10.88.0.1"), 24)
            .await
            .unwrap();
        assert!(
            !client
                .addresses_of("nc1")
                .await
                .unwrap()
                .iter()
                .any(|a| a.address == ip("10.88.0.1"))
        );
        client.set_link_up("nc1", false).await.unwrap();
        assert!(!client.link_by_name("nc1").await.unwrap().up);
    })
    .unwrap();
}

#[test]
fn namespaces_are_removed_when_dropped() {
    if skip_unless_root() {
        return;
    }
    let ns = NetNs::create().unwrap();
    let path = ns.path();
    assert!(path.exists());
    ns.add_veth("nc3", "nc3p").unwrap();
    drop(ns);
    assert!(!path.exists());
}
