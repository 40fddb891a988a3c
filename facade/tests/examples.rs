//! The seed 000 and 004 scenarios of `facade/examples`, run against the runtime with
//! simulated bearers.

#![allow(dead_code)]

#[path = "../examples/check_internet.rs"]
mod check_internet;
#[path = "../examples/connection_profile.rs"]
mod connection_profile;
#[path = "../examples/default_capabilities.rs"]
mod default_capabilities;
#[path = "../examples/list_networks.rs"]
mod list_networks;
#[path = "../examples/reconnect_on_switch.rs"]
mod reconnect_on_switch;
#[path = "../examples/subscribe_network.rs"]
mod subscribe_network;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use netcore::engine::{NetEvent, ValidationResult};
use netcore::sim::SimBearer;
use netcore::{ConnectionProperties, NetBearType, NetCap, NetHandle, NetworkInfo};
use netcore_facade::{Config, NetManager, Validator, blocking};
use tokio::io::AsyncBufReadExt;

use check_internet::Internet;

/// A validator that holds every check until told how it ends.
struct Gate(tokio::sync::watch::Receiver<Option<ValidationResult>>);

#[async_trait]
impl Validator for Gate {
    async fn validate(&self, _: NetHandle, _: &ConnectionProperties) -> ValidationResult {
        let mut rx = self.0.clone();
        loop {
            if let Some(result) = rx.borrow_and_update().clone() {
                return result;
            }
            if rx.changed().await.is_err() {
                return ValidationResult::Failed;
            }
        }
    }
}

struct World {
    manager: NetManager,
    wifi: Arc<SimBearer>,
    cell: Arc<SimBearer>,
    gate: tokio::sync::watch::Sender<Option<ValidationResult>>,
}

fn world() -> World {
    let wifi = Arc::new(SimBearer::new(NetBearType::Wifi, "wifi"));
    let cell = Arc::new(SimBearer::new(NetBearType::Cellular, "cell"));
    let (gate, rx) = tokio::sync::watch::channel(None);
    let manager = NetManager::builder(Config::default())
        .bearer(wifi.clone())
        .bearer(cell.clone())
        .validator(Arc::new(Gate(rx)))
        .start()
        .unwrap();
    World {
        manager,
        wifi,
        cell,
        gate,
    }
}

fn wifi_info() -> NetworkInfo {
    let mut info = NetworkInfo::new(NetBearType::Wifi, "wlan0");
    info.properties.mtu = 1480;
    info
}

async fn eventually<T: PartialEq + std::fmt::Debug>(want: T, mut read: impl FnMut() -> T) {
    for _ in 0..500 {
        if read() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(read(), want);
}

#[tokio::test]
async fn list_networks_reads_every_network() {
    let w = world();
    w.wifi.connect("wlan0", wifi_info());
    eventually(1, || blocking::get_all_nets(&w.manager).unwrap().len()).await;
    w.cell
        .connect("wwan0", NetworkInfo::new(NetBearType::Cellular, "wwan0"));
    eventually(2, || blocking::get_all_nets(&w.manager).unwrap().len()).await;
    let networks = list_networks::list_networks(&w.manager).await.unwrap();
    let summary: Vec<(u32, String, Vec<NetBearType>)> = networks
        .iter()
        .map(|n| {
            (
                n.handle.net_id(),
                n.properties.interface_name.clone(),
                n.capabilities.bearer_types.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (100, "wlan0".into(), vec![NetBearType::Wifi]),
            (101, "wwan0".into(), vec![NetBearType::Cellular]),
        ]
    );
}

#[tokio::test]
async fn check_internet_follows_the_check() {
    let w = world();
    assert_eq!(
        check_internet::check_internet(&w.manager).unwrap(),
        Internet::NoDefaultNetwork
    );
    w.wifi.connect("wlan0", wifi_info());
    eventually(Internet::Checking, || {
        check_internet::check_internet(&w.manager).unwrap()
    })
    .await;
    w.gate.send(Some(ValidationResult::Validated)).unwrap();
    eventually(Internet::Validated, || {
        check_internet::check_internet(&w.manager).unwrap()
    })
    .await;
}

#[tokio::test]
async fn check_internet_reports_a_failed_check() {
    let w = world();
    w.gate.send(Some(ValidationResult::Failed)).unwrap();
    w.wifi.connect("wlan0", wifi_info());
    eventually(Internet::NotValidated, || {
        check_internet::check_internet(&w.manager).unwrap()
    })
    .await;
}

#[tokio::test]
async fn default_capabilities_of_the_default_network() {
    let w = world();
    assert!(
        default_capabilities::default_network(&w.manager)
            .await
            .unwrap()
            .is_none()
    );
    w.wifi.connect("wlan0", wifi_info());
    eventually(true, || blocking::has_default_net(&w.manager).unwrap()).await;
    let (net, caps, props) = default_capabilities::default_network(&w.manager)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(net.net_id(), 100);
    assert_eq!(caps.bearer_types, vec![NetBearType::Wifi]);
    assert!(caps.network_cap.contains(NetCap::Internet));
    assert!(caps.network_cap.contains(NetCap::NotMetered));
    assert_eq!((props.interface_name.as_str(), props.mtu), ("wlan0", 1480));
}

#[tokio::test]
async fn subscribe_network_gets_available_or_unavailable() {
    let w = world();
    let events = subscribe_network::subscribe_wifi(&w.manager, 100, 3)
        .await
        .unwrap();
    assert_eq!(events, vec![NetEvent::Unavailable]);
    w.wifi.connect("wlan0", wifi_info());
    let events = subscribe_network::subscribe_wifi(&w.manager, 1000, 3)
        .await
        .unwrap();
    let names: Vec<&str> = events.iter().map(NetEvent::name).collect();
    assert_eq!(
        names,
        [
            "netAvailable",
            "netCapabilitiesChange",
            "netConnectionPropertiesChange"
        ]
    );
}

#[tokio::test]
async fn reconnect_on_switch_opens_a_new_socket_per_default_network() {
    let w = world();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let greetings = tokio::spawn(async move {
        let mut lines = Vec::new();
        while lines.len() < 2 {
            let (stream, _) = listener.accept().await.unwrap();
            let mut reader = tokio::io::BufReader::new(stream);
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            lines.push(line.trim().to_owned());
        }
        lines
    });
    w.wifi.connect("wlan0", wifi_info());
    let manager = w.manager.clone();
    let scenario =
        tokio::spawn(
            async move { reconnect_on_switch::reconnect_on_switch(&manager, server, 2).await },
        );
    eventually(true, || blocking::has_default_net(&w.manager).unwrap()).await;
    w.cell
        .connect("wwan0", NetworkInfo::new(NetBearType::Cellular, "wwan0"));
    eventually(2, || blocking::get_all_nets(&w.manager).unwrap().len()).await;
    w.wifi.disconnect("wlan0");
    let networks = scenario.await.unwrap().unwrap();
    let ids: Vec<u32> = networks.iter().map(|n| n.net_id()).collect();
    assert_eq!(ids, vec![100, 101]);
    assert_eq!(
        greetings.await.unwrap(),
        vec!["hello from network 100", "hello from network 101"]
    );
}

/// A TCP echo server on 127.0.0.1.
async fn echo_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    address
}

#[tokio::test]
async fn connection_profile_routes_and_talks_through_the_cellular_profile() {
    use netcore_facade::profiles::{AddressFamily, Connection};

    let w = world();
    let connection = Connection::new(&w.manager).await.unwrap();
    assert_eq!(
        connection_profile::current_route(&connection)
            .unwrap_err()
            .code(),
        2100003,
        "not connected"
    );

    // Wi-Fi with both families: IPv4 is used, as in the seed.
    let mut wifi = wifi_info();
    wifi.properties.link_addresses = vec![
        netcore::LinkAddress::new("2001:db8::7".parse().unwrap(), 64).unwrap(),
        netcore::LinkAddress::new(std::net::IpAddr::from([192, 0, 2, 7]), 24).unwrap(),
    ];
    w.wifi.connect("wlan0", wifi);
    w.gate.send_replace(Some(ValidationResult::Validated));
    eventually(true, || connection.current_profile().is_ok()).await;
    assert_eq!(
        connection_profile::current_route(&connection).unwrap(),
        connection_profile::Route {
            family: AddressFamily::Ipv4,
            local: std::net::IpAddr::from([192, 0, 2, 7]),
            interface: "wlan0".into(),
        }
    );

    // A cellular network on the loopback interface, so a socket bound to it reaches
    // the echo server.
    let mut cell = NetworkInfo::new(NetBearType::Cellular, "lo").with_identifier("slot0");
    cell.properties.link_addresses =
        vec![netcore::LinkAddress::new(std::net::IpAddr::from([127, 0, 0, 1]), 8).unwrap()];
    w.cell.connect("lo", cell);
    eventually(2, || connection.profiles().len()).await;
    let server = echo_server().await;
    let reply = connection_profile::talk_through_cellular(
        &connection,
        netcore::NetAddress::new(server.ip(), server.port()),
        b"hello",
    )
    .await
    .unwrap();
    assert_eq!(reply, b"hello");
}
