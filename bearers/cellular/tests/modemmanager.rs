//! The bearer against python-dbusmock's ModemManager template on a private
//! dbus-daemon, with a veth named wwan0 in a network namespace of its own as the
//! bearer's interface. Needs root (skipped otherwise, with the reason); installs
//! dbus, python3-dbus, python3-gi and python-dbusmock when they are missing.

use std::time::Duration;

use netcore::{ActivationRequest, Bearer, NetBearType, NetCap, NetworkInfo};
use netcore_bearer_cellular::testing::{DbusDaemon, ModemManagerMock, TempDir, install_packages};
use netcore_bearer_cellular::{CellularBearer, CellularConfig};
use netcore_link::testing::{BearerRunner, NetNs, skip_unless_root};

const TIMEOUT: Duration = Duration::from_secs(10);
const INTERFACE: &str = "wwan0";
const BEARER: &str = "/org/freedesktop/ModemManager1/Bearer/0";

fn assert_cellular_network(info: &NetworkInfo, slot: &str) {
    assert_eq!(info.bearer_type, NetBearType::Cellular);
    assert_eq!(info.identifier.as_deref(), Some(slot));
    assert_eq!(info.properties.interface_name, INTERFACE);
    for cap in [NetCap::Internet, NetCap::NotVpn] {
        assert!(info.capabilities.contains(cap), "{cap}: {info:?}");
    }
    assert!(!info.capabilities.contains(NetCap::NotMetered), "{info:?}");
    assert!(!info.capabilities.contains(NetCap::Mms), "{info:?}");
    // The template's modem reports SignalQuality (70, true).
    assert_eq!(info.quality, Some(70));
    let dns: Vec<String> = info
        .properties
        .dnses
        .iter()
        .map(|d| d.ip().to_string())
        .collect();
    assert_eq!(dns, ["10.64.0.53", "10.64.0.54"], "{info:?}");
}

#[test]
fn modemmanager_mock_connect_disconnect_slots_and_restart() {
    if skip_unless_root() {
        return;
    }
    if let Some(missing) = install_packages() {
        println!("skipped: {missing}, and installing it failed");
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("netcore_bearer_cellular=debug")
        .try_init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = TempDir::new().unwrap();
    let bus = DbusDaemon::start(dir.path()).unwrap();
    let ns = NetNs::create().unwrap();
    ns.add_veth(INTERFACE, "wwan0p").unwrap();
    ns.ip(&["addr", "add", "10.64.0.2/30", "dev", INTERFACE])
        .unwrap();
    let mut mock = rt
        .block_on(ModemManagerMock::start(bus.address(), dir.path()))
        .unwrap();

    let mut config = CellularConfig::default();
    config.apn = "internet".into();
    config.bus_address = Some(bus.address().into());
    let bearer = CellularBearer::new(config).unwrap();
    let runner = BearerRunner::start(&ns, bearer.clone(), BEARER, TIMEOUT);
    let activate =
        |id: &str| rt.block_on(bearer.activate(ActivationRequest::new(1, Some(id.into()))));

    // A modem on SIM slot 1 (slot0), not connected: no network; a request for
    // slot1 is refused, one for slot0 connects it.
    let modem = rt.block_on(mock.add_modem(INTERFACE, 1)).unwrap();
    let e = activate("slot1").unwrap_err();
    assert_eq!(e.code(), 2_100_001, "{e}");
    activate("slot0").unwrap();
    let info = runner.appeared("Connect on slot0");
    assert_cellular_network(&info, "slot0");
    assert!(
        info.properties
            .link_addresses
            .iter()
            .any(|a| a.address().ip().to_string() == "10.64.0.2"),
        "{info:?}"
    );

    // Release disconnects (cellular data costs money).
    rt.block_on(bearer.release(BEARER)).unwrap();
    runner.gone("release");

    // Connected again, then disconnected by another client.
    activate("slot0").unwrap();
    assert_cellular_network(&runner.appeared("second Connect"), "slot0");
    rt.block_on(mock.disconnect(&modem)).unwrap();
    runner.gone("Disconnect by another client");

    // A malformed property (Connected as a string) is read as absent: not connected.
    activate("slot0").unwrap();
    runner.appeared("third Connect");
    rt.block_on(mock.set_bearer_property("Connected", r#""yes""#))
        .unwrap();
    runner.gone("Connected of the wrong type");
    rt.block_on(mock.set_bearer_property("Connected", "true"))
        .unwrap();
    assert_cellular_network(&runner.appeared("Connected true again"), "slot0");

    // ModemManager goes away: Gone, and run fails for the host to run it again.
    mock.kill();
    runner.gone("ModemManager killed");
    let e = runner.failed("ModemManager killed");
    assert_eq!(e.code(), 2_100_002, "{e}");

    // It comes back with a modem on SIM slot 2: the bearer re-attaches and the
    // connected bearer appears as slot1.
    let mock = rt
        .block_on(ModemManagerMock::start(bus.address(), dir.path()))
        .unwrap();
    rt.block_on(mock.add_modem(INTERFACE, 2)).unwrap();
    let e = activate("slot0").unwrap_err();
    assert_eq!(e.code(), 2_100_001, "{e}");
    activate("slot1").unwrap();
    assert_cellular_network(
        &runner.appeared("Connect on slot1 after the restart"),
        "slot1",
    );

    drop(runner);
    drop(mock);
}
