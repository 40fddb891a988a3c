//! The bearer against python-dbusmock's bluez5 template (with Network1 on a device)
//! on a private dbus-daemon, with a veth named bnep0 in a network namespace of its
//! own as the PAN interface. Needs root (skipped otherwise, with the reason);
//! installs dbus, python3-dbus, python3-gi and python-dbusmock when they are missing.

use std::time::Duration;

use netcore::{ActivationRequest, Bearer, NetBearType, NetCap, NetworkInfo};
use netcore_bearer_bluetooth::testing::{BluezMock, DbusDaemon, TempDir, install_packages};
use netcore_bearer_bluetooth::{BluetoothBearer, BluetoothConfig};
use netcore_link::testing::{BearerRunner, NetNs, skip_unless_root};

const TIMEOUT: Duration = Duration::from_secs(10);
const INTERFACE: &str = "bnep0";
const ADDRESS: &str = "AA:BB:CC:DD:EE:01";
const DEVICE: &str = "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01";

fn assert_pan_network(info: &NetworkInfo) {
    assert_eq!(info.bearer_type, NetBearType::Bluetooth);
    assert_eq!(info.identifier.as_deref(), Some(ADDRESS));
    assert_eq!(info.properties.interface_name, INTERFACE);
    for cap in [NetCap::Internet, NetCap::NotVpn] {
        assert!(info.capabilities.contains(cap), "{cap}: {info:?}");
    }
    assert!(!info.capabilities.contains(NetCap::NotMetered), "{info:?}");
    assert!(
        info.properties
            .link_addresses
            .iter()
            .any(|a| a.address().ip().to_string() == "192.168.44.2"),
        "{info:?}"
    );
}

#[test]
fn bluez_mock_connect_disconnect_and_restart() {
    if skip_unless_root() {
        return;
    }
    if let Some(missing) = install_packages() {
        println!("skipped: {missing}, and installing it failed");
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("netcore_bearer_bluetooth=debug")
        .try_init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = TempDir::new().unwrap();
    let bus = DbusDaemon::start(dir.path()).unwrap();
    let ns = NetNs::create().unwrap();
    ns.add_veth(INTERFACE, "bnep0p").unwrap();
    ns.ip(&["addr", "add", "192.168.44.2/24", "dev", INTERFACE])
        .unwrap();
    let mut mock = rt
        .block_on(BluezMock::start(bus.address(), dir.path()))
        .unwrap();

    let mut config = BluetoothConfig::default();
    config.bus_address = Some(bus.address().into());
    let bearer = BluetoothBearer::new(config).unwrap();
    let runner = BearerRunner::start(&ns, bearer.clone(), DEVICE, TIMEOUT);
    let activate =
        |id: &str| rt.block_on(bearer.activate(ActivationRequest::new(1, Some(id.into()))));

    // A PAN device, not connected: no network; an unknown address is refused, the
    // device's own connects.
    let device = rt
        .block_on(mock.add_pan_device("hci0", ADDRESS, INTERFACE))
        .unwrap();
    assert_eq!(device, DEVICE);
    let e = activate("AA:BB:CC:DD:EE:99").unwrap_err();
    assert_eq!(e.code(), 2_100_001, "{e}");
    activate(ADDRESS).unwrap();
    assert_pan_network(&runner.appeared("Network1.Connect"));

    // Release disconnects; another client's Disconnect too.
    rt.block_on(bearer.release(DEVICE)).unwrap();
    runner.gone("release");
    activate(&ADDRESS.to_ascii_lowercase()).unwrap();
    assert_pan_network(&runner.appeared("second Connect"));
    rt.block_on(mock.disconnect(DEVICE)).unwrap();
    runner.gone("Disconnect by another client");

    // BlueZ goes away while connected: Gone, and run fails for the host to run it
    // again; back with the device connected, the network appears again.
    activate(ADDRESS).unwrap();
    runner.appeared("third Connect");
    mock.kill();
    runner.gone("BlueZ killed");
    let e = runner.failed("BlueZ killed");
    assert_eq!(e.code(), 2_100_002, "{e}");
    let mock = rt
        .block_on(BluezMock::start(bus.address(), dir.path()))
        .unwrap();
    rt.block_on(mock.add_pan_device("hci0", ADDRESS, INTERFACE))
        .unwrap();
    activate(ADDRESS).unwrap();
    assert_pan_network(&runner.appeared("Connect after the restart"));

    drop(runner);
    drop(mock);
}
