//! The Ethernet bearer on real veth interfaces in network namespaces of its own
//! (needs root; skipped otherwise).

use std::net::IpAddr;
use std::sync::mpsc;
use std::time::Duration;

use netcore::{Bearer, BearerEvent, LinkAddress, NetAddress, NetworkInfo, ReportSink};
use netcore_bearer_ethernet::{EthernetBearer, EthernetConfig};
use netcore_link::testing::{NetNs, skip_unless_root};

const TIMEOUT: Duration = Duration::from_secs(5);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The bearer running in a namespace, stopped when dropped.
struct Running {
    events: mpsc::Receiver<BearerEvent>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<netcore_link::Result<netcore::Result<()>>>>,
}

impl Running {
    fn start(ns: &NetNs, config: EthernetConfig) -> Self {
        let (tx, events) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let bearer = EthernetBearer::new(config).unwrap();
        let thread = ns.spawn(move || async move {
            let sink = ReportSink::new(move |event| {
                let _ = tx.send(event);
            });
            tokio::select! {
                result = bearer.run(sink) => result,
                _ = stopped => Ok(()),
            }
        });
        Self {
            events,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn next(&self, what: &str) -> BearerEvent {
        self.events
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|e| panic!("no report for {what} within {TIMEOUT:?}: {e}"))
    }

    /// The next report, which must be about `key`; `Changed` reports for which
    /// `skip` holds are passed over.
    fn next_for(&self, key: &str, what: &str, skip: impl Fn(&NetworkInfo) -> bool) -> BearerEvent {
        loop {
            let event = self.next(what);
            let event_key = match &event {
                BearerEvent::Appeared { key, .. }
                | BearerEvent::Changed { key, .. }
                | BearerEvent::Gone { key } => key,
                other => panic!("an unknown report {other:?}"),
            };
            assert_eq!(
                event_key, key,
                "unexpected report while waiting for {what}: {event:?}"
            );
            match &event {
                BearerEvent::Changed { info, .. } if skip(info) => continue,
                _ => return event,
            }
        }
    }

    /// For 300 ms, only `Changed` reports of `key` may come (IPv6 link-local
    /// addresses finishing duplicate address detection); anything else fails.
    fn assert_only_changes_of(&self, key: &str) {
        let deadline = std::time::Instant::now() + Duration::from_millis(300);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(BearerEvent::Changed { key: k, .. }) if k == key => continue,
                Ok(event) => panic!("unexpected report: {event:?}"),
                Err(_) => return,
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if !std::thread::panicking() {
                let result = result.expect("bearer thread panicked").expect("namespace");
                assert_eq!(result, Ok(()));
            }
        }
    }
}

fn has_address(info: &NetworkInfo, address: &str, prefix: i64) -> bool {
    info.properties
        .link_addresses
        .contains(&LinkAddress::new(ip(address), prefix).unwrap())
}

#[test]
fn bearer_reports_carrier_addresses_mtu_and_deletion() {
    if skip_unless_root() {
        return;
    }
    let ns = NetNs::create().unwrap();
    ns.add_veth("e0", "e0p").unwrap();
    ns.add_veth("x0", "x0p").unwrap();
    // Allowed by name, but not Ethernet-class: never reported although it has carrier.
    ns.ip(&["link", "add", "e9", "up", "type", "ifb"]).unwrap();
    ns.ip(&["addr", "add", "10.66.0.1/24", "dev", "e0"])
        .unwrap();
    ns.ip(&["route", "add", "default", "via", "10.66.0.254", "dev", "e0"])
        .unwrap();
    let config = EthernetConfig::from_json(
        r#"{"allow": ["e*"], "deny": ["*p"],
            "interfaces": {"e0": {"dns": ["192.0.2.53"], "domains": ["example.net"]}}}"#,
    )
    .unwrap();
    let bearer = Running::start(&ns, config);

    // At start: e0 only (x0 is not allowed, e0p is denied, e9 is an ifb), with its
    // properties.
    let BearerEvent::Appeared { key, info } = bearer.next("start") else {
        panic!("the first report is not Appeared");
    };
    assert_eq!(key, "e0");
    let p = &info.properties;
    assert_eq!(p.interface_name, "e0");
    assert_eq!(p.mtu, 1500);
    assert!(has_address(&info, "10.66.0.1", 24), "{p:?}");
    let default = p
        .routes
        .iter()
        .find(|r| r.is_default_route)
        .expect("a default route");
    assert!(default.has_gateway);
    assert_eq!(default.gateway.ip(), ip("10.66.0.254"));
    assert_eq!(default.interface, "e0");
    assert!(
        p.routes
            .iter()
            .any(|r| r.destination == LinkAddress::new(ip("10.66.0.0"), 24).unwrap())
    );
    assert_eq!(p.dnses, vec![NetAddress::from(ip("192.0.2.53"))]);
    assert_eq!(p.domains, "example.net");
    assert!(p.is_ipv4_link_valid);
    // veth reports 10 Gb/s in sysfs.
    assert_eq!(info.link_down_bandwidth_kbps, Some(10_000_000));
    bearer.assert_only_changes_of("e0");

    // Carrier goes with the peer, and comes back.
    ns.ip(&["link", "set", "e0p", "down"]).unwrap();
    assert_eq!(
        bearer.next_for("e0", "carrier loss", |_| true),
        BearerEvent::Gone { key: "e0".into() }
    );
    ns.ip(&["link", "set", "e0p", "up"]).unwrap();
    match bearer.next_for("e0", "carrier", |_| true) {
        BearerEvent::Appeared { info, .. } => assert!(has_address(&info, "10.66.0.1", 24)),
        other => panic!("expected Appeared, got {other:?}"),
    }

    // Address added, then removed.
    ns.ip(&["addr", "add", "10.66.1.1/24", "dev", "e0"])
        .unwrap();
    match bearer.next_for("e0", "address add", |i| !has_address(i, "10.66.1.1", 24)) {
        BearerEvent::Changed { info, .. } => assert!(has_address(&info, "10.66.0.1", 24)),
        other => panic!("expected Changed, got {other:?}"),
    }
    ns.ip(&["addr", "del", "10.66.1.1/24", "dev", "e0"])
        .unwrap();
    bearer.next_for("e0", "address removal", |i| has_address(i, "10.66.1.1", 24));

    // MTU.
    ns.ip(&["link", "set", "e0", "mtu", "1400"]).unwrap();
    bearer.next_for("e0", "mtu", |i| i.properties.mtu != 1400);

    // Deleted.
    ns.ip(&["link", "del", "e0"]).unwrap();
    assert_eq!(
        bearer.next_for("e0", "deletion", |_| true),
        BearerEvent::Gone { key: "e0".into() }
    );

    // A new interface with carrier.
    ns.add_veth("e5", "e5p").unwrap();
    match bearer.next_for("e5", "new interface", |_| true) {
        BearerEvent::Appeared { info, .. } => {
            assert_eq!(info.properties.interface_name, "e5");
            assert!(info.properties.dnses.is_empty());
        }
        other => panic!("expected Appeared, got {other:?}"),
    }
    bearer.assert_only_changes_of("e5");
}

#[test]
fn bearer_refuses_bad_configuration() {
    let mut bad = EthernetConfig::default();
    bad.allow = vec!["eth[0]".into()];
    let error = EthernetBearer::new(bad).unwrap_err();
    assert_eq!(error.code(), 2_100_001);
    assert!(error.to_string().contains("eth[0]"), "{error}");
}
