//! The public API against the runtime with simulated bearers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use netcore::AppId;
use netcore::engine::{NetEvent, ValidationResult};
use netcore::sim::SimBearer;
use netcore::{
    Bearer, ConnectionProperties, NetBearType, NetCap, NetHandle, NetSpecifier, NetworkInfo,
    ReportSink,
};
use netcore_facade::{Config, NetConnection, NetManager, Validator, blocking};

/// A validator with a fixed answer.
struct Answer(ValidationResult);

#[async_trait]
impl Validator for Answer {
    async fn validate(&self, _: NetHandle, _: &ConnectionProperties) -> ValidationResult {
        self.0.clone()
    }
}

struct Setup {
    manager: NetManager,
    wifi: Arc<SimBearer>,
    cell: Arc<SimBearer>,
}

fn start(validator: ValidationResult) -> Setup {
    let wifi = Arc::new(SimBearer::new(NetBearType::Wifi, "sim-wifi"));
    let cell = Arc::new(SimBearer::new(NetBearType::Cellular, "sim-cell"));
    let manager = NetManager::builder(Config::default())
        .bearer(wifi.clone())
        .bearer(cell.clone())
        .validator(Arc::new(Answer(validator)))
        .start()
        .unwrap();
    Setup {
        manager,
        wifi,
        cell,
    }
}

fn wifi() -> NetworkInfo {
    NetworkInfo::new(NetBearType::Wifi, "wlan0")
}

fn cell() -> NetworkInfo {
    NetworkInfo::new(NetBearType::Cellular, "wwan0").with_identifier("slot0")
}

async fn next(connection: &mut NetConnection) -> NetEvent {
    tokio::time::timeout(Duration::from_secs(5), connection.next_event())
        .await
        .expect("an event within 5 s")
        .expect("the connection is open")
}

/// The next event's seed name and network.
async fn next_named(connection: &mut NetConnection) -> String {
    let event = next(connection).await;
    format!(
        "{}({})",
        event.name(),
        event.net_handle().unwrap_or(NetHandle::NONE)
    )
}

async fn wait_for<T: PartialEq + std::fmt::Debug>(
    what: &str,
    want: T,
    mut read: impl FnMut() -> T,
) {
    for _ in 0..500 {
        if read() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: wanted {want:?}, have {:?}", read());
}

#[tokio::test]
async fn default_network_events_in_seed_order_and_switch() {
    let s = start(ValidationResult::Validated);
    let mut connection = s.manager.create_net_connection(None, 0);
    connection.register().await.unwrap();
    s.wifi.connect("wlan0", wifi());
    assert_eq!(next_named(&mut connection).await, "netAvailable(100)");
    assert_eq!(
        next_named(&mut connection).await,
        "netCapabilitiesChange(100)"
    );
    assert_eq!(
        next_named(&mut connection).await,
        "netConnectionPropertiesChange(100)"
    );
    // The check validates it.
    let NetEvent::CapabilitiesChange(info) = next(&mut connection).await else {
        panic!("expected the check's capability change")
    };
    assert!(info.net_cap.network_cap.contains(NetCap::Validated));
    assert_eq!(s.manager.get_default_net().await.unwrap().net_id(), 100);

    s.cell.connect("wwan0", cell());
    wait_for("cell validated", 2, || {
        blocking::get_all_nets(&s.manager).unwrap().len()
    })
    .await;
    s.wifi.disconnect("wlan0");
    assert_eq!(next_named(&mut connection).await, "netLost(100)");
    assert_eq!(next_named(&mut connection).await, "netAvailable(101)");
    assert_eq!(
        next_named(&mut connection).await,
        "netCapabilitiesChange(101)"
    );
    assert!(s.manager.is_default_net_metered().await.unwrap());
}

#[tokio::test]
async fn callbacks_receive_the_events() {
    let s = start(ValidationResult::Failed);
    s.wifi.connect("wlan0", wifi());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut connection = s.manager.create_net_connection(None, 0);
    let (a, b, c) = (seen.clone(), seen.clone(), seen.clone());
    connection
        .on_net_available(move |h| a.lock().unwrap().push(format!("available {h}")))
        .on_net_lost(move |h| b.lock().unwrap().push(format!("lost {h}")))
        .on_net_connection_properties_change(move |i| {
            c.lock().unwrap().push(format!(
                "properties {}",
                i.connection_properties.interface_name
            ))
        });
    connection.register().await.unwrap();
    wait_for("available", true, || !seen.lock().unwrap().is_empty()).await;
    s.wifi.disconnect("wlan0");
    wait_for("three callbacks", 3, || seen.lock().unwrap().len()).await;
    connection.unregister().await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["available 100", "properties wlan0", "lost 100"]
    );
}

#[tokio::test]
async fn register_and_unregister_errors() {
    let s = start(ValidationResult::Failed);
    let mut connection = s.manager.create_net_connection(None, 0);
    connection.register().await.unwrap();
    assert_eq!(connection.register().await.unwrap_err().code(), 2101008);
    connection.unregister().await.unwrap();
    assert_eq!(connection.unregister().await.unwrap_err().code(), 2101007);
    let err = s
        .manager
        .create_net_connection_checked(None, -1)
        .unwrap_err();
    assert_eq!(err.code(), 401);
}

#[tokio::test]
async fn timeout_gives_net_unavailable() {
    let s = start(ValidationResult::Failed);
    let spec = NetSpecifier::new(&[NetBearType::Cellular], &[]).with_identifier("slot1");
    let mut connection = s.manager.create_net_connection(Some(spec), 100);
    connection.register().await.unwrap();
    assert_eq!(next_named(&mut connection).await, "netUnavailable(0)");
    // The cellular bearer was asked to activate slot1.
    wait_for("activation", 1, || s.cell.activations().len()).await;
    assert_eq!(s.cell.activations()[0].identifier.as_deref(), Some("slot1"));
}

#[tokio::test]
async fn activation_brings_up_the_asked_network() {
    let s = start(ValidationResult::Failed);
    s.cell
        .on_activate(Some("slot1"), "wwan1", cell().with_identifier("slot1"));
    let spec = NetSpecifier::new(&[NetBearType::Cellular], &[]).with_identifier("slot1");
    let mut connection = s.manager.create_net_connection(Some(spec), 5000);
    connection.register().await.unwrap();
    assert_eq!(next_named(&mut connection).await, "netAvailable(100)");
}

#[tokio::test]
async fn app_state_is_per_app() {
    let s = start(ValidationResult::Failed);
    s.wifi.connect("wlan0", wifi());
    wait_for("network", 1, || {
        blocking::get_all_nets(&s.manager).unwrap().len()
    })
    .await;
    let net = NetHandle::new(100).unwrap();
    let app_a = s.manager.for_app(AppId::from_uid(5000));
    let app_b = s.manager.for_app(AppId::from_uid(5001));
    app_a.set_app_net(net).await.unwrap();
    assert_eq!(app_a.get_app_net().await.unwrap(), net);
    assert_eq!(app_b.get_app_net().await.unwrap(), NetHandle::NONE);
    let unknown = NetHandle::new(4242).unwrap();
    assert_eq!(
        app_b.set_app_net(unknown).await.unwrap_err().code(),
        2100001
    );
    app_a.set_app_net(NetHandle::NONE).await.unwrap();
    assert_eq!(app_a.get_app_net().await.unwrap(), NetHandle::NONE);
}

#[tokio::test]
async fn queries_and_their_errors() {
    let s = start(ValidationResult::Failed);
    assert!(!s.manager.has_default_net().await.unwrap());
    assert!(s.manager.get_default_net().await.unwrap().is_none());
    let mut info = wifi();
    info.properties.mtu = 1420;
    s.wifi.connect("wlan0", info);
    wait_for("default", true, || {
        blocking::has_default_net(&s.manager).unwrap()
    })
    .await;
    let net = s.manager.get_default_net().await.unwrap();
    let props = s.manager.get_connection_properties(net).await.unwrap();
    assert_eq!((props.interface_name.as_str(), props.mtu), ("wlan0", 1420));
    let caps = s.manager.get_net_capabilities(net).await.unwrap();
    assert_eq!(caps.bearer_types, vec![NetBearType::Wifi]);
    s.manager
        .set_net_ext_attribute(net, "level-2")
        .await
        .unwrap();
    assert_eq!(
        blocking::get_net_ext_attribute(&s.manager, net).unwrap(),
        "level-2"
    );
    let gone = NetHandle::new(999).unwrap();
    assert_eq!(
        s.manager
            .get_net_capabilities(gone)
            .await
            .unwrap_err()
            .code(),
        2100001
    );
    assert_eq!(
        s.manager
            .report_net_connected(gone)
            .await
            .unwrap_err()
            .code(),
        2100001
    );
    s.manager.report_net_disconnected(net).await.unwrap();
}

#[test]
fn blocking_twins_work_from_a_plain_thread() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let s = runtime.block_on(async { start(ValidationResult::Failed) });
    s.wifi.connect("wlan0", wifi());
    let manager = s.manager.clone();
    let handle = std::thread::spawn(move || {
        for _ in 0..500 {
            if blocking::has_default_net(&manager).unwrap() {
                return blocking::get_default_net(&manager).unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        NetHandle::NONE
    });
    assert_eq!(handle.join().unwrap().net_id(), 100);
}

/// A bearer that panics whenever it runs.
struct Panicking;

#[async_trait]
impl Bearer for Panicking {
    fn bearer_type(&self) -> NetBearType {
        NetBearType::Bluetooth
    }
    fn name(&self) -> &str {
        "panicking"
    }
    async fn run(&self, _: ReportSink) -> netcore::Result<()> {
        panic!("this bearer always panics")
    }
}

#[tokio::test]
async fn a_panicking_or_failing_bearer_is_contained_and_restarted() {
    let wifi = Arc::new(SimBearer::new(NetBearType::Wifi, "sim-wifi"));
    let manager = NetManager::builder(Config::default())
        .bearer(Arc::new(Panicking))
        .bearer(wifi.clone())
        .start()
        .unwrap();
    wifi.connect("wlan0", NetworkInfo::new(NetBearType::Wifi, "wlan0"));
    wait_for("wifi up", 1, || {
        blocking::get_all_nets(&manager).unwrap().len()
    })
    .await;
    let mut connection = manager.create_net_connection(None, 0);
    connection.register().await.unwrap();
    assert_eq!(next_named(&mut connection).await, "netAvailable(100)");
    // The Wi-Fi peer dies: its network goes; when the bearer runs again it reports
    // the network again, under a new netId.
    wifi.fail("wpa_supplicant went away");
    let mut seen = Vec::new();
    while !seen.contains(&"netAvailable(101)".to_owned()) {
        seen.push(next_named(&mut connection).await);
    }
    assert!(seen.contains(&"netLost(100)".to_owned()), "{seen:?}");
}

#[tokio::test]
async fn a_slow_subscriber_does_not_hold_others_up() {
    let s = start(ValidationResult::Failed);
    let mut idle = s.manager.create_net_connection(None, 0);
    idle.register().await.unwrap();
    for round in 0..200 {
        s.wifi.connect("wlan0", wifi().with_quality(round % 100));
    }
    let mut busy = s.manager.create_net_connection(None, 0);
    busy.register().await.unwrap();
    assert_eq!(next_named(&mut busy).await, "netAvailable(100)");
    assert_eq!(next_named(&mut idle).await, "netAvailable(100)");
}

#[tokio::test]
async fn watch_sees_every_network() {
    let s = start(ValidationResult::Failed);
    let mut watch = s.manager.watch().await.unwrap();
    assert!(watch.networks.is_empty());
    s.cell.connect("wwan0", cell());
    s.wifi.connect("wlan0", wifi());
    let mut names = Vec::new();
    while !names.contains(&"netAvailable(101)".to_owned()) {
        let event = watch.events.recv().await.unwrap();
        names.push(format!("{}({})", event.name(), event.net_handle().unwrap()));
    }
    assert_eq!(
        names[..3],
        [
            "netAvailable(100)",
            "netCapabilitiesChange(100)",
            "netConnectionPropertiesChange(100)"
        ]
    );
}

#[tokio::test]
async fn kernel_queries() {
    let s = start(ValidationResult::Failed);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let states = s.manager.get_system_net_port_states().await.unwrap();
    assert!(
        states
            .tcp_port_states_info
            .iter()
            .any(|t| t.tcp_local_port == port && t.tcp_pid == std::process::id())
    );
    // The neighbour table is readable (its content is the host's).
    s.manager.get_ip_neigh_table().await.unwrap();
    // No VPN runs here, so nobody may ask who owns a connection.
    let local = netcore::NetAddress::parse("127.0.0.1", Some(1), Some(i64::from(port))).unwrap();
    let remote = netcore::NetAddress::parse("127.0.0.1", Some(1), Some(0)).unwrap();
    let err = s
        .manager
        .get_connect_owner_uid(netcore::ProtocolType::Tcp, local, remote)
        .await
        .unwrap_err();
    assert_eq!(err.code(), 2100301);
    let err =
        blocking::get_connect_owner_uid(&s.manager, netcore::ProtocolType::Tcp, &local, &remote)
            .unwrap_err();
    assert_eq!(err.code(), 2100301);
}

#[tokio::test]
async fn probe_and_traceroute_to_loopback() {
    let s = start(ValidationResult::Failed);
    let result = s.manager.query_probe_result("127.0.0.1", 1).await.unwrap();
    assert_eq!(result.loss_rate, 0);
    assert!(
        result.rtt[0] > 0.0 && result.rtt[0] <= result.rtt[2],
        "{result:?}"
    );
    let hops = s
        .manager
        .query_trace_route("127.0.0.1", None)
        .await
        .unwrap();
    assert_eq!(hops.len(), 1);
    assert_eq!(hops[0].address, "127.0.0.1");
    assert_eq!(hops[0].jump_no, 1);
    for bad in [0, 1001] {
        let err = s
            .manager
            .query_probe_result("127.0.0.1", bad)
            .await
            .unwrap_err();
        assert_eq!(err.code(), 2100001);
    }
    // A name needs a network to resolve on; there is none.
    let err = s
        .manager
        .query_trace_route("nowhere.test", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), 2100003);
}

#[tokio::test]
async fn bind_socket_binds_to_the_network_interface() {
    let s = start(ValidationResult::Failed);
    s.wifi
        .connect("wlan0", NetworkInfo::new(NetBearType::Wifi, "lo"));
    wait_for("network", 1, || {
        blocking::get_all_nets(&s.manager).unwrap().len()
    })
    .await;
    let net = s.manager.get_default_net().await.unwrap();
    let network = s.manager.network(net);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    network.bind_socket(&socket).unwrap();
    let bound = socket2::SockRef::from(&socket).device().unwrap();
    assert_eq!(bound.as_deref(), Some(&b"lo"[..]));
    socket
        .connect(listener.local_addr().unwrap())
        .await
        .unwrap();

    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    network.bind_socket(&udp).unwrap();
    assert_eq!(
        socket2::SockRef::from(&udp).device().unwrap().as_deref(),
        Some(&b"lo"[..])
    );

    let api_socket = netcore_facade::netcore_socket::TcpSocket::new();
    network.bind_socket(&api_socket).unwrap();

    let gone = s.manager.network(NetHandle::new(4242).unwrap());
    assert_eq!(gone.bind_socket(&udp).unwrap_err().code(), 2100001);
    // A network whose interface does not exist (any more).
    s.wifi
        .update("wlan0", NetworkInfo::new(NetBearType::Wifi, "nc-absent0"));
    wait_for("renamed", true, || {
        s.manager
            .runtime()
            .unwrap()
            .read(|e| e.snapshot(net))
            .map(|n| n.properties.interface_name == "nc-absent0")
            .unwrap_or(false)
    })
    .await;
    assert_eq!(network.bind_socket(&udp).unwrap_err().code(), 2100001);
}

#[tokio::test]
async fn removing_an_app_releases_all_of_its_state_and_no_other_apps() {
    let s = start(ValidationResult::Failed);
    s.wifi.connect("wlan0", wifi());
    wait_for("network", 1, || {
        blocking::get_all_nets(&s.manager).unwrap().len()
    })
    .await;
    let net = s.manager.get_default_net().await.unwrap();
    let leaving = s.manager.for_app(AppId::from_uid(6000));
    let staying = s.manager.for_app(AppId::from_uid(6001));
    for app in [&leaving, &staying] {
        app.add_custom_dns_rule("intranet.test", &["192.0.2.7"])
            .await
            .unwrap();
        app.set_app_net(net).await.unwrap();
        app.set_app_http_proxy(netcore::HttpProxy::new("proxy.test", 3128, vec![]).unwrap())
            .await
            .unwrap();
    }
    // The leaving app uses its whole quota.
    let mut connections = Vec::new();
    for _ in 0..2000 {
        let mut connection = leaving.create_net_connection(None, 0);
        connection.register().await.unwrap();
        connections.push(connection);
    }
    let mut one_more = leaving.create_net_connection(None, 0);
    assert_eq!(one_more.register().await.unwrap_err().code(), 2101022);
    let mut kept = staying.create_net_connection(None, 0);
    kept.register().await.unwrap();

    leaving.remove_app().await.unwrap();

    // Its connections end after what they had queued.
    let first = &mut connections[0];
    while let Some(event) = first.try_next_event() {
        assert!(matches!(
            event,
            NetEvent::Available(_)
                | NetEvent::CapabilitiesChange(_)
                | NetEvent::ConnectionPropertiesChange(_)
        ));
    }
    assert!(first.next_event().await.is_none());
    // Its quota is free again: 2000 new requests are accepted.
    let mut fresh = Vec::new();
    for _ in 0..2000 {
        let mut connection = leaving.create_net_connection(None, 0);
        connection.register().await.unwrap();
        fresh.push(connection);
    }
    // Its rule answers no more (there is no DNS server: the lookup fails), its
    // binding and its proxy are gone.
    let err = leaving
        .get_addresses_by_name("intranet.test")
        .await
        .unwrap_err();
    assert_eq!(err.code(), 2100003);
    assert_eq!(leaving.get_app_net().await.unwrap(), NetHandle::NONE);
    assert_eq!(leaving.get_default_http_proxy().await.unwrap(), None);
    // The other app keeps everything.
    let found = staying
        .get_addresses_by_name("intranet.test")
        .await
        .unwrap();
    assert_eq!(found[0].ip().to_string(), "192.0.2.7");
    assert_eq!(staying.get_app_net().await.unwrap(), net);
    assert!(staying.get_default_http_proxy().await.unwrap().is_some());
    assert_eq!(next_named(&mut kept).await, "netAvailable(100)");
    drop(connections);
}
