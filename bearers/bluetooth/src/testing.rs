//! python-dbusmock's bluez5 template on a private dbus-daemon, for system tests
//! (feature `testing`).
//!
//! [`BluezMock`] runs python-dbusmock with the `bluez5` template extended by a small
//! template file (`AddNetcorePanDevice`: the template's `AddAdapter` and `AddDevice`
//! plus `org.bluez.Network1` on the device, whose `Connect` / `Disconnect` update
//! `Connected` and `Interface`); it is killed on drop. The bus, the temporary
//! directory and the package checks are netcore-dbus's.

use std::path::Path;

pub use netcore_dbus::testing::{
    DbusDaemon, DbusMock, PYTHON, TempDir, dbusmock_installed, install_packages,
};

use crate::device::{NETWORK_IFACE, SERVICE};

/// The template extension written next to the bus socket.
const TEMPLATE: &str = include_str!("bluez_template.py");

/// python-dbusmock's BlueZ on a [`DbusDaemon`]; killed on drop.
#[derive(Debug)]
pub struct BluezMock {
    mock: DbusMock,
}

impl BluezMock {
    /// Starts the mock on the bus at `address` (the template file goes to `dir`) and
    /// waits up to 10 s for it to own `org.bluez`.
    pub async fn start(address: &str, dir: &Path) -> std::io::Result<Self> {
        let mock = DbusMock::start(address, dir, "netcore_bluez5.py", TEMPLATE, SERVICE).await?;
        Ok(Self { mock })
    }

    /// Adds a device `address` with a PAN on adapter `adapter` (`hci0`, added when
    /// missing); connecting it reports `interface`. Returns the device path.
    pub async fn add_pan_device(
        &self,
        adapter: &str,
        address: &str,
        interface: &str,
    ) -> zbus::Result<String> {
        let reply = self
            .mock
            .connection()
            .call_method(
                Some(SERVICE),
                "/",
                Some("org.bluez.Mock"),
                "AddNetcorePanDevice",
                &(adapter, address, interface),
            )
            .await?;
        reply.body().deserialize::<String>()
    }

    /// Calls `Network1.Disconnect` on `device`, as another client would.
    pub async fn disconnect(&self, device: &str) -> zbus::Result<()> {
        self.mock
            .connection()
            .call_method(
                Some(SERVICE),
                device,
                Some(NETWORK_IFACE),
                "Disconnect",
                &(),
            )
            .await
            .map(|_| ())
    }

    /// Kills the mock (BlueZ leaves the bus).
    pub fn kill(&mut self) {
        self.mock.kill();
    }
}
