//! The bearer against a real wpa_supplicant (`-D wired` on a veth) in a network
//! namespace of its own. Needs root (skipped otherwise, with the reason); installs
//! the `wpasupplicant` package when wpa_supplicant is missing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use netcore::{ActivationRequest, Bearer, BearerEvent, NetBearType, NetCap, NetworkInfo};
use netcore_bearer_wifi::testing::{TempDir, WpaSupplicant, wpa_supplicant_installed};
use netcore_bearer_wifi::{WifiBearer, WifiConfig};
use netcore_link::testing::{BearerRunner, NetNs, skip_unless_root};

const TIMEOUT: Duration = Duration::from_secs(10);
const INTERFACE: &str = "w0";

/// The bearer on `INTERFACE` with wpa_supplicant's sockets in `control`.
fn bearer(control: PathBuf) -> WifiBearer {
    let mut config = WifiConfig::default();
    config.interfaces = vec![INTERFACE.into()];
    config.control_dir = control;
    config.ping_interval_ms = 200;
    WifiBearer::new(config).unwrap()
}

fn assert_wifi_network(info: &NetworkInfo) {
    assert_eq!(info.bearer_type, NetBearType::Wifi);
    assert_eq!(info.identifier.as_deref(), Some("0"));
    assert_eq!(info.properties.interface_name, INTERFACE);
    for cap in [NetCap::Internet, NetCap::NotMetered, NetCap::NotVpn] {
        assert!(info.capabilities.contains(cap), "{cap}: {info:?}");
    }
    // The wired driver has no signal.
    assert_eq!(info.quality, None);
}

#[test]
fn real_wpa_supplicant_connect_disconnect_kill_and_restart() {
    if skip_unless_root() {
        return;
    }
    if !wpa_supplicant_installed() {
        println!("skipped: wpa_supplicant is not installed and apt-get could not install it");
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("netcore_bearer_wifi=info")
        .try_init();
    let ns = NetNs::create().unwrap();
    let dir = TempDir::new().unwrap();
    ns.add_veth(INTERFACE, "w0p").unwrap();
    ns.ip(&["addr", "add", "10.77.0.1/24", "dev", INTERFACE])
        .unwrap();
    let wpa = WpaSupplicant::start(ns.name(), INTERFACE, dir.path()).unwrap();
    let bearer = bearer(wpa.control_dir());
    let runner = BearerRunner::start(&ns, bearer.clone(), INTERFACE, TIMEOUT);

    let info = runner.appeared("start");
    assert_wifi_network(&info);
    assert!(
        info.properties
            .link_addresses
            .iter()
            .any(|a| a.address().ip().to_string() == "10.77.0.1" && a.prefix_length() == 24),
        "{info:?}"
    );
    assert_eq!(info.properties.mtu, 1500);

    // Properties follow the kernel: a new address is a Changed report.
    ns.ip(&["addr", "add", "10.78.0.1/24", "dev", INTERFACE])
        .unwrap();
    loop {
        match runner.next_report("a new address") {
            (BearerEvent::Changed { key, info }, _) => {
                assert_eq!(key, INTERFACE);
                if info
                    .properties
                    .link_addresses
                    .iter()
                    .any(|a| a.address().ip().to_string() == "10.78.0.1")
                {
                    assert_eq!(info.identifier.as_deref(), Some("0"));
                    break;
                }
            }
            other => panic!("expected Changed with the new address, got {other:?}"),
        }
    }

    assert_eq!(wpa.cli("disconnect").trim(), "OK");
    runner.gone("wpa_cli disconnect");
    assert_eq!(wpa.cli("reconnect").trim(), "OK");
    assert_wifi_network(&runner.appeared("wpa_cli reconnect"));

    // Activation by network id: an unknown id is refused, id 0 is selected and
    // connects.
    assert_eq!(wpa.cli("disconnect").trim(), "OK");
    runner.gone("wpa_cli disconnect before activation");
    let activate = |id: &str| {
        let request = ActivationRequest::new(1, Some(id.into()));
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(bearer.activate(request))
    };
    let e = activate("7").unwrap_err();
    assert_eq!(e.code(), 2_100_001, "{e}");
    assert!(wpa.cli("status").contains("wpa_state=DISCONNECTED"));
    activate("0").unwrap();
    assert_wifi_network(&runner.appeared("activation of network 0"));

    // Killed without a word (SIGKILL): PING notices.
    drop(wpa);
    runner.gone("wpa_supplicant killed");
    let e = runner.failed("wpa_supplicant killed");
    assert_eq!(e.code(), 2_100_002, "{e}");

    // Back again: a later run attaches and reports the network.
    let started = Instant::now();
    let _wpa = WpaSupplicant::start(ns.name(), INTERFACE, dir.path()).unwrap();
    let (event, at) = runner.next_at("wpa_supplicant restarted");
    match event {
        BearerEvent::Appeared { key, info } if key == INTERFACE => assert_wifi_network(&info),
        other => panic!("expected Appeared after the restart, got {other:?}"),
    }
    println!(
        "re-attached {:?} after wpa_supplicant was started again (host backoff 100 ms)",
        at.duration_since(started)
    );
    // Every failed run while it was away was a service error.
    for result in runner.ended_runs() {
        assert_eq!(result.unwrap_err().code(), 2_100_002);
    }
}
