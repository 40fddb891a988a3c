//! The second platform's connection API (seed 004) against the runtime with
//! simulated bearers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use netcore::engine::ValidationResult;
use netcore::sim::SimBearer;
use netcore::{
    BearerDetails, ConnectionProperties, HttpProxy, LinkAddress, NetBearType, NetCap, NetHandle,
    NetworkInfo,
};
use netcore_facade::profiles::{
    AddressFamily, BtState, CellularServiceType, CellularState, Connection, ConnectionType,
    ProfileState, ProfileType, StatisticsType, WifiState,
};
use netcore_facade::{Config, NetManager, Validator};

struct Valid;

#[async_trait]
impl Validator for Valid {
    async fn validate(&self, _: NetHandle, _: &ConnectionProperties) -> ValidationResult {
        ValidationResult::Validated
    }
}

fn start() -> (NetManager, Arc<SimBearer>, Arc<SimBearer>) {
    let wifi = Arc::new(SimBearer::new(NetBearType::Wifi, "sim-wifi"));
    let cell = Arc::new(SimBearer::new(NetBearType::Cellular, "sim-cell"));
    let manager = NetManager::builder(Config::default())
        .bearer(wifi.clone())
        .bearer(cell.clone())
        .validator(Arc::new(Valid))
        .start()
        .unwrap();
    (manager, wifi, cell)
}

/// A Wi-Fi network on `interface` with 192.0.2.10/24, SSID `home`.
fn wifi_info(interface: &str) -> NetworkInfo {
    let mut details = BearerDetails::default();
    details.ssid = Some("home".into());
    details.bssid = Some("02:00:00:00:01:00".into());
    details.frequency_mhz = Some(5180);
    details.security = Some("WPA2-PSK".into());
    details.rssi_dbm = Some(-55);
    let mut info = NetworkInfo::new(NetBearType::Wifi, interface)
        .with_identifier("7")
        .with_quality(80)
        .with_details(details);
    info.properties.link_addresses =
        vec![LinkAddress::new(IpAddr::from([192, 0, 2, 10]), 24).unwrap()];
    info
}

/// A cellular network on `wwan0` (slot0) with 2001:db8::5/64, serving MMS too.
fn cell_info() -> NetworkInfo {
    let mut info = NetworkInfo::new(NetBearType::Cellular, "wwan0")
        .with_identifier("slot0")
        .with_capability(NetCap::Mms, true);
    info.properties.link_addresses =
        vec![LinkAddress::new("2001:db8::5".parse().unwrap(), 64).unwrap()];
    info
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} did not happen within 5 s");
}

#[tokio::test]
async fn type_addresses_states_and_profiles_follow_the_networks() {
    let (manager, wifi_bearer, cell_bearer) = start();
    let connection = Connection::new(&manager).await.unwrap();
    let types = Arc::new(Mutex::new(Vec::new()));
    let addresses = Arc::new(Mutex::new(Vec::new()));
    {
        let types = Arc::clone(&types);
        connection.on_type_changed(Some(move |ty| types.lock().unwrap().push(ty)));
        let addresses = Arc::clone(&addresses);
        connection
            .on_ip_address_changed(Some(move |v4, v6| addresses.lock().unwrap().push((v4, v6))));
    }

    // Nothing up yet.
    assert_eq!(connection.connection_type(), ConnectionType::Disconnected);
    assert_eq!(
        connection
            .ip_address(AddressFamily::Ipv4)
            .unwrap_err()
            .code(),
        2100003
    );
    assert_eq!(connection.current_profile().unwrap_err().code(), 2100003);
    assert_eq!(connection.wifi_state(), WifiState::Disconnected);
    assert_eq!(connection.cellular_state(), CellularState::Available);
    assert_eq!(
        connection.bt_state(),
        BtState::Deactivated,
        "no Bluetooth bearer runs"
    );
    assert!(connection.profiles().is_empty());

    // Wi-Fi comes: the default connection.
    wifi_bearer.connect("wlan0", wifi_info("wlan0"));
    wait_until("Wi-Fi as the default", || {
        connection.connection_type() == ConnectionType::Wifi
    })
    .await;
    assert_eq!(ConnectionType::Wifi.value(), 1);
    assert_eq!(
        connection.ip_address(AddressFamily::Ipv4).unwrap(),
        IpAddr::from([192, 0, 2, 10])
    );
    assert_eq!(
        connection.ip_address(AddressFamily::Ipv6).unwrap(),
        IpAddr::from(Ipv6Addr::UNSPECIFIED),
        "no IPv6 address reads as ::, as the seed's example expects"
    );
    assert_eq!(connection.wifi_state(), WifiState::Connected);
    let wifi_profile = connection.current_profile().unwrap();
    assert_eq!(
        (
            wifi_profile.profile_type,
            wifi_profile.state,
            wifi_profile.name.as_str(),
            wifi_profile.interface_name.as_str()
        ),
        (ProfileType::Wifi, ProfileState::Connected, "7", "wlan0")
    );
    assert_eq!(wifi_profile.quality, Some(80));
    assert_eq!(
        (
            wifi_profile.details.ssid.as_deref(),
            wifi_profile.details.frequency_mhz,
            wifi_profile.details.rssi_dbm
        ),
        (Some("home"), Some(5180), Some(-55))
    );

    // Cellular comes too; Wi-Fi stays the default.
    cell_bearer.connect("wwan0", cell_info());
    wait_until("cellular connected", || {
        connection.cellular_state() == CellularState::Connected
    })
    .await;
    assert_eq!(connection.connection_type(), ConnectionType::Wifi);
    assert_eq!(connection.profiles().len(), 2);
    let internet = connection
        .default_cellular_service_profile(CellularServiceType::Internet)
        .unwrap();
    assert_eq!(
        (internet.name.as_str(), internet.interface_name.as_str()),
        ("slot0", "wwan0")
    );
    assert_eq!(
        connection
            .default_cellular_service_profile(CellularServiceType::Mms)
            .unwrap()
            .net,
        internet.net
    );
    assert_eq!(
        connection
            .default_cellular_service_profile(CellularServiceType::Tethering)
            .unwrap_err()
            .code(),
        2100001
    );

    // Wi-Fi goes: cellular is the default, the Wi-Fi profile reads as disconnected.
    wifi_bearer.disconnect("wlan0");
    wait_until("cellular as the default", || {
        connection.connection_type() == ConnectionType::Cellular
    })
    .await;
    assert_eq!(
        connection.ip_address(AddressFamily::Ipv6).unwrap(),
        "2001:db8::5".parse::<IpAddr>().unwrap()
    );
    let gone = connection.refresh_profile(&wifi_profile);
    assert_eq!(gone.state, ProfileState::Disconnected);
    assert_eq!(connection.wifi_state(), WifiState::Disconnected);

    // The callbacks saw each change once, in order.
    wait_until("the callbacks", || types.lock().unwrap().len() == 2).await;
    assert_eq!(
        *types.lock().unwrap(),
        vec![ConnectionType::Wifi, ConnectionType::Cellular]
    );
    assert_eq!(
        *addresses.lock().unwrap(),
        vec![
            (Some(Ipv4Addr::new(192, 0, 2, 10)), None),
            (None, Some("2001:db8::5".parse().unwrap())),
        ]
    );

    // Unset: no more calls.
    connection.on_type_changed(None::<fn(ConnectionType)>);
    cell_bearer.disconnect("wwan0");
    wait_until("disconnected", || {
        connection.connection_type() == ConnectionType::Disconnected
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(types.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn proxy_and_its_callback() {
    let (manager, _wifi, _cell) = start();
    let connection = Connection::new(&manager).await.unwrap();
    assert_eq!(connection.proxy(AddressFamily::Ipv4).await.unwrap(), "");
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let seen = Arc::clone(&seen);
        connection.on_proxy_address_changed(Some(move |proxy: &str| {
            seen.lock().unwrap().push(proxy.to_owned())
        }));
    }
    manager
        .set_global_http_proxy(Some(HttpProxy {
            host: "proxy.example".into(),
            port: 3128,
            exclusion_list: Vec::new(),
            username: None,
            password: None,
        }))
        .await
        .unwrap();
    assert_eq!(
        connection.proxy(AddressFamily::Ipv6).await.unwrap(),
        "proxy.example:3128"
    );
    wait_until("the proxy callback", || !seen.lock().unwrap().is_empty()).await;
    assert_eq!(*seen.lock().unwrap(), vec!["proxy.example:3128".to_owned()]);
}

/// Sends `bytes` over loopback.
fn send_over_loopback(bytes: usize) {
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let chunk = [0u8; 1000];
    for _ in 0..bytes / chunk.len() {
        sender
            .send_to(&chunk, receiver.local_addr().unwrap())
            .unwrap();
    }
}

#[tokio::test]
async fn statistics_count_the_interface_bytes_per_type() {
    const SENT: u64 = 1_000_000;
    let (manager, wifi_bearer, _cell) = start();
    let connection = Connection::new(&manager).await.unwrap();
    // A simulated Wi-Fi network on the loopback interface, whose counters are real.
    wifi_bearer.connect("lo", wifi_info("lo"));
    wait_until("Wi-Fi up", || {
        connection.wifi_state() == WifiState::Connected
    })
    .await;
    // A socket bound to the profile's interface (read back with getsockopt).
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    connection
        .current_profile()
        .unwrap()
        .bind_socket(&socket)
        .unwrap();
    assert_eq!(
        socket2::SockRef::from(&socket).device().unwrap().as_deref(),
        Some(&b"lo"[..])
    );
    let stat = async |which| {
        connection
            .statistics(ConnectionType::Wifi, which)
            .await
            .unwrap()
    };
    let before = stat(StatisticsType::TotalSentData).await;
    send_over_loopback(SENT as usize);
    let last = stat(StatisticsType::LastSentData).await;
    let total = stat(StatisticsType::TotalSentData).await;
    assert!(
        total >= before + SENT,
        "total sent {total} after sending {SENT}"
    );
    assert!(last >= SENT, "last sent {last}");
    assert!(stat(StatisticsType::LastReceivedData).await >= SENT);

    connection
        .reset_statistics(ConnectionType::Wifi, StatisticsType::TotalSentData)
        .await
        .unwrap();
    assert!(stat(StatisticsType::TotalSentData).await < SENT);
    assert!(
        stat(StatisticsType::LastSentData).await >= SENT,
        "resetting the total leaves the last session's count"
    );
    send_over_loopback(SENT as usize);
    assert!(stat(StatisticsType::TotalSentData).await >= SENT);

    // The session ends: "last" keeps its bytes, and a new session starts from zero.
    wifi_bearer.disconnect("lo");
    wait_until("Wi-Fi down", || {
        connection.wifi_state() == WifiState::Disconnected
    })
    .await;
    let last_session = stat(StatisticsType::LastSentData).await;
    assert!(
        last_session >= 2 * SENT,
        "the ended session's {last_session}"
    );
    let total = stat(StatisticsType::TotalSentData).await;
    wifi_bearer.connect("lo", wifi_info("lo"));
    wait_until("Wi-Fi up again", || {
        connection.wifi_state() == WifiState::Connected
    })
    .await;
    assert!(stat(StatisticsType::LastSentData).await < SENT);
    assert!(stat(StatisticsType::TotalSentData).await >= total);

    // Cellular has no traffic; other types have no statistics.
    assert_eq!(
        connection
            .statistics(ConnectionType::Cellular, StatisticsType::TotalReceivedData)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        connection
            .statistics(ConnectionType::Ethernet, StatisticsType::LastSentData)
            .await
            .unwrap_err()
            .code(),
        2100001
    );
}

#[tokio::test]
async fn opening_a_profile_activates_its_network_and_closing_releases_it() {
    let mut config = Config::default();
    config.engine.linger_secs = 0;
    let wifi = Arc::new(SimBearer::new(NetBearType::Wifi, "sim-wifi"));
    let cell = Arc::new(SimBearer::new(NetBearType::Cellular, "sim-cell"));
    let manager = NetManager::builder(config)
        .bearer(wifi.clone())
        .bearer(cell.clone())
        .validator(Arc::new(Valid))
        .start()
        .unwrap();
    let connection = Connection::new(&manager).await.unwrap();
    // Wi-Fi is the default network, so cellular is up only while asked for.
    wifi.connect("wlan0", wifi_info("wlan0"));
    cell.connect("wwan0", cell_info());
    wait_until("cellular up", || {
        connection.cellular_state() == CellularState::Connected
    })
    .await;
    let profile = connection
        .default_cellular_service_profile(CellularServiceType::Internet)
        .unwrap();
    cell.disconnect("wwan0");
    wait_until("cellular down", || {
        connection.refresh_profile(&profile).state == ProfileState::Disconnected
    })
    .await;

    // Opening asks the cellular bearer for slot0's data connection.
    cell.on_activate(Some("slot0"), "wwan0", cell_info());
    let opened = connection
        .open_profile(&profile, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        (opened.state, opened.identifier.as_deref()),
        (ProfileState::Connected, Some("slot0"))
    );
    assert_eq!(cell.activations().len(), 1);
    assert_eq!(cell.activations()[0].identifier.as_deref(), Some("slot0"));

    // Closing lets the bearer release it (no linger in this configuration).
    connection.close_profile(&opened).await.unwrap();
    wait_until("the release", || !cell.releases().is_empty()).await;
    assert_eq!(
        connection.close_profile(&opened).await.unwrap_err().code(),
        2100001
    );

    // A profile whose network cannot come: 2100003 after the timeout.
    let wifi_profile = netcore_facade::profiles::Profile {
        profile_type: ProfileType::Wifi,
        identifier: Some("unknown".into()),
        ..opened
    };
    assert_eq!(
        connection
            .open_profile(&wifi_profile, Duration::from_millis(100))
            .await
            .unwrap_err()
            .code(),
        2100003
    );
}
