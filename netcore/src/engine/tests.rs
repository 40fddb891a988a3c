//! Engine unit tests: simulated bearers and simulated time, no sleeps.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::*;
use crate::model::{LinkAddress, NetAddress};

/// Drives an engine with one bearer of each type and records its outputs.
struct Harness {
    engine: Engine,
    now: Instant,
    eth: BearerId,
    wifi: BearerId,
    cell: BearerId,
    bt: BearerId,
    vpn: BearerId,
    events: HashMap<ConnectionId, Vec<NetEvent>>,
    actions: Vec<Action>,
    observed: Vec<NetEvent>,
    attempts: HashMap<NetHandle, u32>,
    next_connection: u64,
}

const APP: AppId = AppId::from_uid(1000);
const OTHER_APP: AppId = AppId::from_uid(1001);

impl Harness {
    fn new() -> Self {
        Self::with_config(EngineConfig::default())
    }

    fn with_config(config: EngineConfig) -> Self {
        let mut engine = Engine::new(config);
        let eth = engine.add_bearer(NetBearType::Ethernet);
        let wifi = engine.add_bearer(NetBearType::Wifi);
        let cell = engine.add_bearer(NetBearType::Cellular);
        let bt = engine.add_bearer(NetBearType::Bluetooth);
        let vpn = engine.add_bearer(NetBearType::Vpn);
        Self {
            engine,
            now: Instant::now(),
            eth,
            wifi,
            cell,
            bt,
            vpn,
            events: HashMap::new(),
            actions: Vec::new(),
            observed: Vec::new(),
            attempts: HashMap::new(),
            next_connection: 1,
        }
    }

    fn bearer_of(&self, t: NetBearType) -> BearerId {
        match t {
            NetBearType::Ethernet => self.eth,
            NetBearType::Wifi => self.wifi,
            NetBearType::Cellular => self.cell,
            NetBearType::Bluetooth => self.bt,
            NetBearType::Vpn => self.vpn,
        }
    }

    fn sync(&mut self) {
        for output in self.engine.drain_outputs() {
            match output {
                Output::Event { connection, event } => {
                    self.events.entry(connection).or_default().push(event)
                }
                Output::Observed(event) => self.observed.push(event),
                Output::Action(action) => {
                    if let Action::StartValidation { net, attempt } = action {
                        self.attempts.insert(net, attempt);
                    }
                    self.actions.push(action);
                }
            }
        }
    }

    /// A network of type `t` on interface `key` appears.
    fn up(&mut self, key: &str, info: NetworkInfo) -> NetHandle {
        let bearer = self.bearer_of(info.bearer_type);
        let event = BearerEvent::Appeared {
            key: key.into(),
            info,
        };
        let net = self.engine.bearer_event(bearer, event, self.now).unwrap();
        self.sync();
        net
    }

    fn change(&mut self, key: &str, info: NetworkInfo) {
        let bearer = self.bearer_of(info.bearer_type);
        let event = BearerEvent::Changed {
            key: key.into(),
            info,
        };
        self.engine.bearer_event(bearer, event, self.now).unwrap();
        self.sync();
    }

    fn down(&mut self, t: NetBearType, key: &str) {
        let bearer = self.bearer_of(t);
        let event = BearerEvent::Gone { key: key.into() };
        self.engine.bearer_event(bearer, event, self.now).unwrap();
        self.sync();
    }

    /// A network that appears and validates.
    fn up_validated(&mut self, key: &str, info: NetworkInfo) -> NetHandle {
        let net = self.up(key, info);
        self.check(net, ValidationResult::Validated);
        net
    }

    fn check(&mut self, net: NetHandle, result: ValidationResult) {
        let attempt = self.attempts[&net];
        self.engine
            .validation_result(net, attempt, result, self.now)
            .unwrap();
        self.sync();
    }

    fn register(&mut self, spec: Option<NetSpecifier>, timeout_ms: u32) -> ConnectionId {
        self.register_for(APP, spec, timeout_ms).unwrap()
    }

    fn register_for(
        &mut self,
        app: AppId,
        spec: Option<NetSpecifier>,
        timeout_ms: u32,
    ) -> Result<ConnectionId> {
        let id = ConnectionId(self.next_connection);
        self.next_connection += 1;
        self.engine.register(app, id, spec, timeout_ms, self.now)?;
        self.sync();
        Ok(id)
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.engine.handle_timeout(self.now);
        self.sync();
    }

    /// The events of `id` since the last call, as `name(netId)` strings.
    fn take(&mut self, id: ConnectionId) -> Vec<String> {
        self.events
            .remove(&id)
            .unwrap_or_default()
            .iter()
            .map(|e| match e.net_handle() {
                Some(h) => format!("{}({h})", e.name()),
                None => e.name().to_owned(),
            })
            .collect()
    }

    fn take_raw(&mut self, id: ConnectionId) -> Vec<NetEvent> {
        self.events.remove(&id).unwrap_or_default()
    }

    fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }
}

fn eth() -> NetworkInfo {
    NetworkInfo::new(NetBearType::Ethernet, "eth0")
}
fn wifi() -> NetworkInfo {
    NetworkInfo::new(NetBearType::Wifi, "wlan0")
}
fn cell() -> NetworkInfo {
    NetworkInfo::new(NetBearType::Cellular, "wwan0").with_identifier("slot0")
}
fn id(n: i64) -> NetHandle {
    NetHandle::new(n).unwrap()
}
fn full_sequence(net: u32) -> Vec<String> {
    vec![
        format!("netAvailable({net})"),
        format!("netCapabilitiesChange({net})"),
        format!("netConnectionPropertiesChange({net})"),
    ]
}

// ----- registry -----

#[test]
fn net_ids_start_at_100_and_are_never_reused() {
    let mut h = Harness::new();
    let a = h.up("eth0", eth());
    h.down(NetBearType::Ethernet, "eth0");
    let b = h.up("eth0", eth());
    let c = h.up("wlan0", wifi());
    assert_eq!((a.net_id(), b.net_id(), c.net_id()), (100, 101, 102));
    assert_eq!(h.engine.all_nets(), vec![b, c]);
}

// ----- event order -----

#[test]
fn register_with_a_network_gives_available_caps_props_in_order() {
    let mut h = Harness::new();
    let net = h.up_validated("wlan0", wifi());
    let conn = h.register(None, 0);
    assert_eq!(h.take(conn), full_sequence(net.net_id()));
}

#[test]
fn network_appearing_after_register_gives_the_sequence() {
    let mut h = Harness::new();
    let conn = h.register(None, 0);
    assert!(h.take(conn).is_empty());
    h.up("wlan0", wifi());
    assert_eq!(h.take(conn), full_sequence(100));
    let events = h.take_raw(conn);
    assert!(events.is_empty());
}

#[test]
fn available_carries_the_current_caps_and_props() {
    let mut h = Harness::new();
    let mut info = wifi();
    info.properties.mtu = 1400;
    h.up("wlan0", info);
    let conn = h.register(None, 0);
    let events = h.take_raw(conn);
    let NetEvent::CapabilitiesChange(caps) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(caps.net_cap.bearer_types, vec![NetBearType::Wifi]);
    for cap in [
        NetCap::Internet,
        NetCap::NotVpn,
        NetCap::NotMetered,
        NetCap::CheckingConnectivity,
    ] {
        assert!(caps.net_cap.network_cap.contains(cap), "{cap}");
    }
    let NetEvent::ConnectionPropertiesChange(props) = &events[2] else {
        panic!("{events:?}")
    };
    assert_eq!(props.connection_properties.mtu, 1400);
    assert_eq!(props.connection_properties.interface_name, "wlan0");
}

#[test]
fn wifi_to_cellular_switch_gives_lost_before_available() {
    let mut h = Harness::new();
    let w = h.up_validated("wlan0", wifi());
    let c = h.up_validated("wwan0", cell());
    let conn = h.register(None, 0);
    assert_eq!(h.take(conn), full_sequence(w.net_id()));
    h.down(NetBearType::Wifi, "wlan0");
    let mut expected = vec![format!("netLost({w})")];
    expected.extend(full_sequence(c.net_id()));
    assert_eq!(h.take(conn), expected);
    assert_eq!(h.engine.default_net(), c);
}

#[test]
fn losing_the_only_network_gives_lost() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    let conn = h.register(None, 0);
    h.take(conn);
    h.down(NetBearType::Wifi, "wlan0");
    assert_eq!(h.take(conn), vec![format!("netLost({w})")]);
    assert!(!h.engine.has_default_net());
    assert_eq!(h.engine.default_net(), NetHandle::NONE);
}

#[test]
fn later_changes_give_change_events_alone() {
    let mut h = Harness::new();
    let w = h.up_validated("wlan0", wifi());
    let conn = h.register(None, 0);
    h.take(conn);

    let mut info = wifi();
    info.properties.mtu = 1280;
    h.change("wlan0", info.clone());
    assert_eq!(
        h.take(conn),
        vec![format!("netConnectionPropertiesChange({w})")]
    );

    info.link_down_bandwidth_kbps = Some(100_000);
    h.change("wlan0", info.clone());
    assert_eq!(h.take(conn), vec![format!("netCapabilitiesChange({w})")]);

    // Quality alone changes nothing an app sees.
    h.change("wlan0", info.with_quality(70));
    assert!(h.take(conn).is_empty());
}

#[test]
fn block_status_change_is_reported() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    let conn = h.register(None, 0);
    h.take(conn);
    let mut info = wifi();
    info.blocked = true;
    h.change("wlan0", info);
    let events = h.take_raw(conn);
    assert_eq!(
        events,
        vec![NetEvent::BlockStatusChange(NetBlockStatusInfo {
            net_handle: w,
            blocked: true
        })]
    );
    // A request that arrives while blocked learns it after the sequence.
    let late = h.register(None, 0);
    let mut expected = full_sequence(w.net_id());
    expected.push(format!("netBlockStatusChange({w})"));
    assert_eq!(h.take(late), expected);
}

// ----- timeouts -----

#[test]
fn timeout_gives_unavailable_once_and_nothing_after() {
    let mut h = Harness::new();
    let spec = NetSpecifier::new(&[NetBearType::Cellular], &[]);
    let conn = h.register(Some(spec), 1000);
    h.advance(Duration::from_millis(999));
    assert!(h.take(conn).is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.take(conn), vec!["netUnavailable"]);
    h.up("wwan0", cell());
    h.advance(Duration::from_secs(10));
    assert!(
        h.take(conn).is_empty(),
        "a timed-out request gets no more events"
    );
}

#[test]
fn network_before_timeout_means_no_unavailable() {
    let mut h = Harness::new();
    let spec = NetSpecifier::new(&[NetBearType::Cellular], &[]);
    let conn = h.register(Some(spec), 1000);
    h.advance(Duration::from_millis(500));
    let c = h.up("wwan0", cell());
    h.down(NetBearType::Cellular, "wwan0");
    h.advance(Duration::from_secs(5));
    let mut expected = full_sequence(c.net_id());
    expected.push(format!("netLost({c})"));
    assert_eq!(h.take(conn), expected);
}

#[test]
fn timeout_is_ignored_without_a_specifier() {
    let mut h = Harness::new();
    let conn = h.register(None, 1000);
    h.advance(Duration::from_secs(5));
    assert!(h.take(conn).is_empty());
    assert_eq!(h.engine.next_timeout(), None);
}

#[test]
fn zero_timeout_never_expires() {
    let mut h = Harness::new();
    let spec = NetSpecifier::new(&[NetBearType::Cellular], &[]);
    let conn = h.register(Some(spec), 0);
    h.advance(Duration::from_secs(3600));
    assert!(h.take(conn).is_empty());
    let c = h.up("wwan0", cell());
    assert_eq!(h.take(conn), full_sequence(c.net_id()));
}

// ----- limits -----

#[test]
fn registering_twice_is_2101008_and_changes_nothing() {
    let mut h = Harness::new();
    h.up("wlan0", wifi());
    let conn = h.register(None, 0);
    h.take(conn);
    let err = h.engine.register(APP, conn, None, 0, h.now).unwrap_err();
    assert_eq!(err.code(), 2101008);
    h.sync();
    assert!(h.take(conn).is_empty());
    assert_eq!(h.engine.request_count(APP), 1);
}

#[test]
fn unregistering_unknown_is_2101007() {
    let mut h = Harness::new();
    let err = h.engine.unregister(ConnectionId(77), h.now).unwrap_err();
    assert_eq!(err.code(), 2101007);
    let conn = h.register(None, 0);
    h.engine.unregister(conn, h.now).unwrap();
    let err = h.engine.unregister(conn, h.now).unwrap_err();
    assert_eq!(err.code(), 2101007);
}

#[test]
fn unregistered_connection_gets_no_events_and_can_register_again() {
    let mut h = Harness::new();
    let conn = h.register(None, 0);
    h.engine.unregister(conn, h.now).unwrap();
    h.up("wlan0", wifi());
    assert!(h.take(conn).is_empty());
    h.engine.register(APP, conn, None, 0, h.now).unwrap();
    h.sync();
    assert_eq!(h.take(conn), full_sequence(100));
}

#[test]
fn more_than_2000_requests_is_2101022_for_that_app_only() {
    let mut h = Harness::new();
    let mut mine = Vec::new();
    for _ in 0..2000 {
        mine.push(h.register(None, 0));
    }
    let err = h.register_for(APP, None, 0).unwrap_err();
    assert_eq!(err.code(), 2101022);
    assert_eq!(h.engine.request_count(APP), 2000);
    let other = h.register_for(OTHER_APP, None, 0).unwrap();
    // The app's live requests still work.
    let w = h.up("wlan0", wifi());
    assert_eq!(h.take(mine[1999]), full_sequence(w.net_id()));
    assert_eq!(h.take(other), full_sequence(w.net_id()));
    // Freeing one makes room for one.
    h.engine.unregister(mine[0], h.now).unwrap();
    h.register_for(APP, None, 0).unwrap();
    assert_eq!(h.register_for(APP, None, 0).unwrap_err().code(), 2101022);
}

// ----- specifiers and activation -----

#[test]
fn specifier_matches_bearers_any_of_caps_all_of_identifier_exact() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    let c0 = h.up("wwan0", cell());
    let c1 = h.up("wwan1", cell().with_identifier("slot1"));

    let any = h.register(
        Some(NetSpecifier::new(
            &[NetBearType::Cellular, NetBearType::Wifi],
            &[],
        )),
        0,
    );
    assert_eq!(h.take(any)[0], format!("netAvailable({w})"));

    let slot1 = h.register(
        Some(NetSpecifier::new(&[NetBearType::Cellular], &[]).with_identifier("slot1")),
        0,
    );
    assert_eq!(h.take(slot1)[0], format!("netAvailable({c1})"));

    let slot0 = h.register(
        Some(NetSpecifier::new(&[NetBearType::Cellular], &[]).with_identifier("slot0")),
        0,
    );
    assert_eq!(h.take(slot0)[0], format!("netAvailable({c0})"));

    let mms = h.register(
        Some(NetSpecifier::new(&[NetBearType::Cellular], &[NetCap::Mms])),
        0,
    );
    assert!(h.take(mms).is_empty(), "no network has MMS");

    let unmetered_cell = h.register(
        Some(NetSpecifier::new(
            &[NetBearType::Cellular],
            &[NetCap::Internet, NetCap::NotMetered],
        )),
        0,
    );
    assert!(h.take(unmetered_cell).is_empty(), "cellular is metered");
}

#[test]
fn unsatisfied_request_asks_the_right_bearers_once() {
    let mut h = Harness::new();
    h.take_actions();
    let spec = NetSpecifier::new(&[NetBearType::Cellular], &[]).with_identifier("slot1");
    let conn = h.register(Some(spec), 0);
    let activations: Vec<Action> = h
        .take_actions()
        .into_iter()
        .filter(|a| matches!(a, Action::Activate { .. }))
        .collect();
    assert_eq!(
        activations,
        vec![Action::Activate {
            bearer: h.cell,
            request: conn,
            identifier: Some("slot1".into())
        }]
    );
    // An unrelated change does not ask again.
    h.up("wlan0", wifi());
    assert!(
        !h.take_actions()
            .iter()
            .any(|a| matches!(a, Action::Activate { .. }))
    );
    // Satisfied, then lost: it asks again.
    h.up("wwan1", cell().with_identifier("slot1"));
    h.down(NetBearType::Cellular, "wwan1");
    let again = h
        .take_actions()
        .into_iter()
        .filter(|a| matches!(a, Action::Activate { .. }))
        .count();
    assert_eq!(again, 1);
}

// ----- default network -----

#[test]
fn vpn_and_internet_less_networks_are_never_default() {
    let mut h = Harness::new();
    h.up_validated("tun0", NetworkInfo::new(NetBearType::Vpn, "tun0"));
    let mms_only = cell()
        .with_capability(NetCap::Internet, false)
        .with_capability(NetCap::Mms, true);
    h.up("wwan0", mms_only);
    assert_eq!(h.engine.default_net(), NetHandle::NONE);
    let w = h.up("wlan0", wifi());
    assert_eq!(h.engine.default_net(), w);
    assert_eq!(h.engine.all_nets().len(), 3, "getAllNets lists the VPN too");
}

#[test]
fn default_follows_priority_and_validation() {
    let mut h = Harness::new();
    let c = h.up_validated("wwan0", cell());
    assert_eq!(h.engine.default_net(), c);
    let w = h.up("wlan0", wifi());
    assert_eq!(
        h.engine.default_net(),
        c,
        "an unvalidated Wi-Fi does not win yet"
    );
    h.check(w, ValidationResult::Validated);
    assert_eq!(h.engine.default_net(), w);
    let e = h.up_validated("eth0", eth());
    assert_eq!(h.engine.default_net(), e);
    let b = h.up_validated("bnep0", NetworkInfo::new(NetBearType::Bluetooth, "bnep0"));
    assert_eq!(h.engine.default_net(), e);
    h.down(NetBearType::Ethernet, "eth0");
    h.down(NetBearType::Wifi, "wlan0");
    assert_eq!(h.engine.default_net(), b, "Bluetooth beats cellular");
}

#[test]
fn watch_profile_puts_bluetooth_first() {
    let mut h = Harness::with_config(EngineConfig {
        profile: DeviceProfile::watch(),
        ..EngineConfig::default()
    });
    h.up_validated("wlan0", wifi());
    let b = h.up_validated("bnep0", NetworkInfo::new(NetBearType::Bluetooth, "bnep0"));
    assert_eq!(h.engine.default_net(), b);
}

#[test]
fn default_change_is_an_action() {
    let mut h = Harness::new();
    h.take_actions();
    let w = h.up("wlan0", wifi());
    assert!(
        h.take_actions()
            .contains(&Action::DefaultNetworkChanged { net: w })
    );
    h.down(NetBearType::Wifi, "wlan0");
    assert!(h.take_actions().contains(&Action::DefaultNetworkChanged {
        net: NetHandle::NONE
    }));
}

#[test]
fn near_equal_networks_do_not_flap() {
    let mut h = Harness::new();
    let a = h.up_validated("eth0", eth().with_quality(60));
    let mut b_info = eth().with_quality(62);
    b_info.properties.interface_name = "eth1".into();
    h.up_validated("eth1", b_info.clone());
    let conn = h.register(None, 0);
    h.take(conn);
    for q in [65, 58, 66, 61, 69] {
        h.change("eth1", b_info.clone().with_quality(q));
        assert_eq!(h.engine.default_net(), a, "quality {q}");
    }
    assert!(h.take(conn).is_empty());
    h.change("eth1", b_info.with_quality(71));
    assert_ne!(h.engine.default_net(), a);
}

#[test]
fn weak_wifi_hands_over_to_cellular() {
    let mut h = Harness::new();
    let w = h.up_validated("wlan0", wifi().with_quality(80));
    let c = h.up_validated("wwan0", cell().with_quality(60));
    assert_eq!(h.engine.default_net(), w);
    h.change("wlan0", wifi().with_quality(10));
    assert_eq!(h.engine.default_net(), c);
    h.change("wlan0", wifi().with_quality(25));
    assert_eq!(h.engine.default_net(), c, "not back before the hysteresis");
    h.change("wlan0", wifi().with_quality(40));
    assert_eq!(h.engine.default_net(), w);
}

// ----- validation -----

#[test]
fn checking_then_validated_caps() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    let caps = h.engine.net_capabilities(w).unwrap();
    assert!(caps.network_cap.contains(NetCap::CheckingConnectivity));
    assert!(!caps.network_cap.contains(NetCap::Validated));
    let conn = h.register(None, 0);
    h.take(conn);
    h.check(w, ValidationResult::Validated);
    let caps = h.engine.net_capabilities(w).unwrap();
    assert!(!caps.network_cap.contains(NetCap::CheckingConnectivity));
    assert!(caps.network_cap.contains(NetCap::Validated));
    assert_eq!(h.take(conn), vec![format!("netCapabilitiesChange({w})")]);
}

#[test]
fn portal_sets_portal_and_rechecks_every_15s() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    h.check(
        w,
        ValidationResult::Portal {
            url: "http://portal.test/login".into(),
        },
    );
    let caps = h.engine.net_capabilities(w).unwrap();
    assert!(caps.network_cap.contains(NetCap::Portal));
    assert!(!caps.network_cap.contains(NetCap::Validated));
    h.take_actions();
    h.advance(Duration::from_millis(14_999));
    assert!(h.take_actions().is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(
        h.take_actions(),
        vec![Action::StartValidation { net: w, attempt: 2 }]
    );
}

#[test]
fn failed_checks_back_off_from_1s_doubling_to_10min() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    let mut waits = Vec::new();
    for _ in 0..13 {
        h.check(w, ValidationResult::Failed);
        let at = h.engine.next_timeout().unwrap();
        waits.push((at - h.now).as_secs());
        h.advance(at - h.now);
    }
    assert_eq!(
        waits,
        vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600, 600]
    );
    // Success resets the backoff.
    h.check(w, ValidationResult::Validated);
    assert_eq!(h.engine.next_timeout(), None);
}

#[test]
fn partial_connectivity_is_not_validated() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    h.check(w, ValidationResult::Partial);
    let caps = h.engine.net_capabilities(w).unwrap();
    assert!(!caps.network_cap.contains(NetCap::Validated));
    assert!(!caps.network_cap.contains(NetCap::CheckingConnectivity));
}

#[test]
fn stale_results_are_refused() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    let first = h.attempts[&w];
    h.engine.report_net_disconnected(w, h.now).unwrap();
    h.sync();
    let err = h
        .engine
        .validation_result(w, first, ValidationResult::Validated, h.now)
        .unwrap_err();
    assert_eq!(err.code(), 2100001);
    assert!(
        !h.engine
            .net_capabilities(w)
            .unwrap()
            .network_cap
            .contains(NetCap::Validated)
    );
    let attempt = h.attempts[&w];
    h.down(NetBearType::Wifi, "wlan0");
    assert!(
        h.take_actions()
            .contains(&Action::CancelValidation { net: w })
    );
    let err = h
        .engine
        .validation_result(w, attempt, ValidationResult::Validated, h.now)
        .unwrap_err();
    assert_eq!(err.code(), 2100001);
}

#[test]
fn report_net_connected_rechecks_now() {
    let mut h = Harness::new();
    let w = h.up_validated("wlan0", wifi());
    h.take_actions();
    h.engine.report_net_connected(w, h.now).unwrap();
    h.sync();
    assert!(
        h.take_actions()
            .contains(&Action::StartValidation { net: w, attempt: 2 })
    );
    let caps = h.engine.net_capabilities(w).unwrap();
    assert!(caps.network_cap.contains(NetCap::CheckingConnectivity));
    assert!(
        caps.network_cap.contains(NetCap::Validated),
        "kept while rechecking"
    );
    assert_eq!(
        h.engine
            .report_net_connected(id(555), h.now)
            .unwrap_err()
            .code(),
        2100001
    );
    assert_eq!(
        h.engine
            .report_net_disconnected(NetHandle::NONE, h.now)
            .unwrap_err()
            .code(),
        2100001
    );
}

// ----- linger -----

#[test]
fn old_default_is_released_after_linger_unless_needed_again() {
    let mut h = Harness::new();
    let c = h.up_validated("wwan0", cell());
    let w = h.up("wlan0", wifi());
    h.take_actions();
    h.check(w, ValidationResult::Validated);
    assert_eq!(h.engine.default_net(), w);
    h.advance(Duration::from_secs(29));
    assert!(
        !h.take_actions()
            .iter()
            .any(|a| matches!(a, Action::Release { .. }))
    );
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.take_actions(),
        vec![Action::Release {
            bearer: h.cell,
            key: "wwan0".into(),
            net: c
        }]
    );

    // Needed again before the linger ends: not released.
    h.down(NetBearType::Wifi, "wlan0");
    h.up_validated("wlan0", wifi());
    h.advance(Duration::from_secs(10));
    let spec = NetSpecifier::new(&[NetBearType::Cellular], &[]);
    h.register(Some(spec), 0);
    h.advance(Duration::from_secs(60));
    assert!(
        !h.take_actions()
            .iter()
            .any(|a| matches!(a, Action::Release { .. }))
    );
}

// ----- app binding -----

#[test]
fn set_app_net_binds_unbinds_and_is_per_app() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    assert_eq!(h.engine.app_net(APP), NetHandle::NONE);
    h.engine.set_app_net(APP, w).unwrap();
    assert_eq!(h.engine.app_net(APP), w);
    assert_eq!(h.engine.app_net(OTHER_APP), NetHandle::NONE);
    h.sync();
    assert!(
        h.take_actions()
            .contains(&Action::AppNetworkChanged { app: APP, net: w })
    );
    let err = h.engine.set_app_net(APP, id(999)).unwrap_err();
    assert_eq!(err.code(), 2100001);
    assert_eq!(h.engine.app_net(APP), w, "a refused call changes nothing");
    h.engine.set_app_net(APP, NetHandle::NONE).unwrap();
    assert_eq!(h.engine.app_net(APP), NetHandle::NONE);
}

// ----- queries -----

#[test]
fn unknown_handles_are_2100001() {
    let mut h = Harness::new();
    h.up("wlan0", wifi());
    for net in [NetHandle::NONE, id(100_000)] {
        assert_eq!(h.engine.net_capabilities(net).unwrap_err().code(), 2100001);
        assert_eq!(
            h.engine.connection_properties(net).unwrap_err().code(),
            2100001
        );
        assert_eq!(h.engine.net_ext_attribute(net).unwrap_err().code(), 2100001);
        assert_eq!(
            h.engine.set_net_ext_attribute(net, "x").unwrap_err().code(),
            2100001
        );
    }
}

#[test]
fn ext_attribute_round_trips_and_is_bounded() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    assert_eq!(h.engine.net_ext_attribute(w).unwrap(), "");
    h.engine.set_net_ext_attribute(w, "secure").unwrap();
    assert_eq!(h.engine.net_ext_attribute(w).unwrap(), "secure");
    let huge = "x".repeat(MAX_EXT_ATTRIBUTE_LEN + 1);
    assert_eq!(
        h.engine.set_net_ext_attribute(w, &huge).unwrap_err().code(),
        2100001
    );
    assert_eq!(h.engine.net_ext_attribute(w).unwrap(), "secure");
}

#[test]
fn metered_follows_the_default_network() {
    let mut h = Harness::new();
    assert!(!h.engine.is_default_net_metered());
    h.up_validated("wwan0", cell());
    assert!(h.engine.is_default_net_metered());
    h.up_validated("wlan0", wifi());
    assert!(!h.engine.is_default_net_metered());
}

#[test]
fn properties_are_what_the_bearer_reported() {
    let mut h = Harness::new();
    let mut info = eth();
    let ip = "192.0.2.10".parse().unwrap();
    info.properties.link_addresses = vec![LinkAddress::new(ip, 24).unwrap()];
    info.properties.dnses = vec![NetAddress::new("192.0.2.1".parse().unwrap(), 53)];
    let e = h.up("eth0", info.clone());
    assert_eq!(*h.engine.connection_properties(e).unwrap(), info.properties);
}

// ----- bad input -----

#[test]
fn malformed_reports_are_refused_and_change_nothing() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    let before = h.engine.snapshot(w).unwrap();
    let cases = [
        (
            h.wifi,
            BearerEvent::Changed {
                key: "wlan0".into(),
                info: wifi().with_quality(101),
            },
        ),
        (
            h.wifi,
            BearerEvent::Changed {
                key: "wlan0".into(),
                info: cell(),
            },
        ),
        (
            h.wifi,
            BearerEvent::Appeared {
                key: String::new(),
                info: wifi(),
            },
        ),
        (
            h.wifi,
            BearerEvent::Appeared {
                key: "k".repeat(300),
                info: wifi(),
            },
        ),
        (
            h.wifi,
            BearerEvent::Changed {
                key: "wlan0".into(),
                info: wifi().with_details(crate::BearerDetails {
                    ssid: Some("s".repeat(300)),
                    ..Default::default()
                }),
            },
        ),
        (h.wifi, BearerEvent::Gone { key: "nope".into() }),
        (
            BearerId(99),
            BearerEvent::Gone {
                key: "wlan0".into(),
            },
        ),
    ];
    for (bearer, event) in cases {
        let err = h.engine.bearer_event(bearer, event, h.now).unwrap_err();
        assert_eq!(err.code(), 2100001, "{err}");
    }
    let mut too_many = wifi();
    too_many.properties.dnses = vec![NetAddress::new("192.0.2.1".parse().unwrap(), 53); 2000];
    let event = BearerEvent::Changed {
        key: "wlan0".into(),
        info: too_many,
    };
    assert_eq!(
        h.engine
            .bearer_event(h.wifi, event, h.now)
            .unwrap_err()
            .code(),
        2100001
    );
    assert_eq!(h.engine.snapshot(w).unwrap(), before);
    assert_eq!(h.engine.all_nets(), vec![w]);
}

#[test]
fn failed_bearer_takes_its_networks_away() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    let conn = h.register(None, 0);
    h.take(conn);
    h.engine.remove_bearer(h.wifi, h.now).unwrap();
    h.sync();
    assert_eq!(h.take(conn), vec![format!("netLost({w})")]);
    assert!(h.engine.all_nets().is_empty());
}

#[test]
fn remove_app_drops_its_requests_and_binding() {
    let mut h = Harness::new();
    let w = h.up("wlan0", wifi());
    let conn = h.register(None, 0);
    h.engine.set_app_net(APP, w).unwrap();
    h.sync();
    h.take_actions();
    h.engine.remove_app(APP, h.now);
    h.sync();
    assert!(h.take_actions().contains(&Action::AppNetworkChanged {
        app: APP,
        net: NetHandle::NONE
    }));
    assert_eq!(h.engine.request_count(APP), 0);
    assert_eq!(h.engine.app_net(APP), NetHandle::NONE);
    assert_eq!(
        h.engine.unregister(conn, h.now).unwrap_err().code(),
        2101007
    );
}

// ----- observing every network -----

#[test]
fn observe_all_sees_every_network_in_seed_order() {
    let mut h = Harness::new();
    h.up("wlan0", wifi());
    assert!(h.observed.is_empty(), "off by default");
    h.engine.observe_all(true);
    let c = h.up("wwan0", cell());
    let w = id(100);
    h.check(w, ValidationResult::Validated);
    h.down(NetBearType::Cellular, "wwan0");
    h.engine.clear_bearer(h.wifi, h.now).unwrap();
    h.sync();
    let names: Vec<String> = h
        .observed
        .iter()
        .map(|e| format!("{}({})", e.name(), e.net_handle().unwrap()))
        .collect();
    let mut expected = full_sequence(c.net_id());
    expected.push(format!("netCapabilitiesChange({w})"));
    expected.push(format!("netLost({c})"));
    expected.push(format!("netLost({w})"));
    assert_eq!(names, expected);
    // A cleared bearer stays known and can report again.
    let again = h.up("wlan0", wifi());
    assert_eq!(again.net_id(), 102);
}

/// The lifecycle actions of `actions`, as text.
fn lifecycle(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::NetworkUp { net, properties } => {
                Some(format!("up {net} {}", properties.interface_name))
            }
            Action::NetworkChanged { net, properties } => {
                Some(format!("changed {net} mtu {}", properties.mtu))
            }
            Action::NetworkDown { net } => Some(format!("down {net}")),
            _ => None,
        })
        .collect()
}

#[test]
fn networks_come_with_up_changed_and_down_actions() {
    let mut h = Harness::new();
    let id = h.register(None, 0);
    let w = h.up("wlan0", wifi());
    assert_eq!(lifecycle(&h.actions), vec!["up 100 wlan0"]);
    // Up comes before the check and before the request hears of the network.
    assert!(
        matches!(h.actions[0], Action::NetworkUp { .. }),
        "{:?}",
        h.actions
    );
    assert_eq!(h.events[&id][0], NetEvent::Available(w));

    h.change("wlan0", wifi().with_quality(40));
    assert_eq!(
        lifecycle(&h.actions).len(),
        1,
        "quality alone changes no property"
    );
    let mut mtu = wifi();
    mtu.properties.mtu = 1280;
    h.change("wlan0", mtu);
    h.down(NetBearType::Wifi, "wlan0");
    assert_eq!(
        lifecycle(&h.actions),
        vec!["up 100 wlan0", "changed 100 mtu 1280", "down 100"]
    );
    // A failed bearer's networks go down too.
    h.actions.clear();
    h.up("wlan0", wifi());
    h.engine.clear_bearer(h.wifi, h.now).unwrap();
    h.sync();
    assert_eq!(lifecycle(&h.actions), vec!["up 101 wlan0", "down 101"]);
}

#[test]
fn a_bearer_past_its_network_limit_is_refused() {
    let mut h = Harness::new();
    for i in 0..MAX_NETWORKS_PER_BEARER {
        let key = format!("tun{i}");
        h.engine
            .bearer_event(
                h.vpn,
                BearerEvent::Appeared {
                    key: key.clone(),
                    info: NetworkInfo::new(NetBearType::Vpn, &key),
                },
                h.now,
            )
            .unwrap();
    }
    let one_more = BearerEvent::Appeared {
        key: "tun-extra".into(),
        info: NetworkInfo::new(NetBearType::Vpn, "tun-extra"),
    };
    let err = h
        .engine
        .bearer_event(h.vpn, one_more.clone(), h.now)
        .unwrap_err();
    assert_eq!(err.code(), 2100001);
    assert!(err.to_string().contains("most one bearer"), "{err}");
    assert_eq!(h.engine.all_nets().len(), MAX_NETWORKS_PER_BEARER);
    // A known network still changes; another bearer is not limited by this one.
    h.engine
        .bearer_event(
            h.vpn,
            BearerEvent::Changed {
                key: "tun0".into(),
                info: NetworkInfo::new(NetBearType::Vpn, "tun0").with_quality(5),
            },
            h.now,
        )
        .unwrap();
    h.up("wlan0", wifi());
    // One gone makes room for one more.
    h.engine
        .bearer_event(h.vpn, BearerEvent::Gone { key: "tun0".into() }, h.now)
        .unwrap();
    h.engine.bearer_event(h.vpn, one_more, h.now).unwrap();
}
