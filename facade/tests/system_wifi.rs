//! System suite (needs root): the runtime with the Wi-Fi bearer against a real
//! wpa_supplicant (`-D wired` on a veth in a namespace): `wpa_cli disconnect` gives
//! netLost, `reconnect` netAvailable, and a killed and restarted wpa_supplicant is
//! followed.

use std::time::Duration;

use netcore::{NetBearType, NetCap};
use netcore_bearer_wifi::testing::{TempDir, WpaSupplicant, wpa_supplicant_installed};
use netcore_facade::{Config, NetConnection};
use netcore_link::testing::{NetNs, skip_unless_root};

async fn next_named(connection: &mut NetConnection) -> String {
    let event = tokio::time::timeout(Duration::from_secs(10), connection.next_event())
        .await
        .expect("an event within 10 s")
        .expect("the connection is open");
    let net = event.net_handle().map_or(0, |h| h.net_id());
    format!("{}({net})", event.name())
}

/// Skips the change events: the next netAvailable or netLost.
async fn next_presence(connection: &mut NetConnection) -> String {
    loop {
        let event = next_named(connection).await;
        if event.starts_with("netAvailable") || event.starts_with("netLost") {
            return event;
        }
    }
}

#[test]
fn wpa_supplicant_disconnect_and_reconnect_reach_the_app() {
    if skip_unless_root() {
        return;
    }
    if !wpa_supplicant_installed() {
        println!("skipped: wpa_supplicant is not installed and apt-get could not install it");
        return;
    }
    let ns = NetNs::create().unwrap();
    let dir = TempDir::new().unwrap();
    ns.add_veth("w0", "w0p").unwrap();
    ns.ip(&["addr", "add", "10.77.0.1/24", "dev", "w0"])
        .unwrap();
    let mut wpa = Some(WpaSupplicant::start(ns.name(), "w0", dir.path()).unwrap());
    let mut config = Config::default();
    config.builtin_ethernet = false;
    config.wifi.interfaces = vec!["w0".into()];
    config.wifi.control_dir = wpa.as_ref().unwrap().control_dir();
    config.wifi.ping_interval_ms = 100;
    ns.run_async(|| async {
        let manager = netcore_facade::NetManager::embedded(config).await.unwrap();
        let mut connection = manager.create_net_connection(None, 0);
        connection.register().await.unwrap();
        let first = next_presence(&mut connection).await;
        assert!(first.starts_with("netAvailable"), "{first}");
        let net = manager.get_default_net().await.unwrap();
        let snapshot = manager.snapshot(net).await.unwrap();
        assert_eq!(snapshot.capabilities.bearer_types, vec![NetBearType::Wifi]);
        assert!(
            snapshot
                .capabilities
                .network_cap
                .contains(NetCap::NotMetered)
        );
        assert_eq!(
            snapshot.identifier.as_deref(),
            Some("0"),
            "the wpa_supplicant network id"
        );
        assert_eq!(snapshot.properties.interface_name, "w0");

        wpa.as_ref().unwrap().cli("disconnect");
        assert_eq!(
            next_presence(&mut connection).await,
            format!("netLost({net})")
        );
        wpa.as_ref().unwrap().cli("reconnect");
        let back = next_presence(&mut connection).await;
        assert!(back.starts_with("netAvailable"), "{back}");

        // Killed, the network goes; started again, it comes back.
        drop(wpa.take());
        assert!(next_presence(&mut connection).await.starts_with("netLost"));
        let _again = WpaSupplicant::start(ns.name(), "w0", dir.path()).unwrap();
        let returned = next_presence(&mut connection).await;
        assert!(returned.starts_with("netAvailable"), "{returned}");
    })
    .unwrap();
}
