//! python-dbusmock's bluez5 template on a private dbus-daemon, for system tests
//! (feature `testing`).
//!
//! [`BluezMock`] runs `/usr/bin/python3 -m dbusmock --system --template` with the
//! `bluez5` template extended by a small template file (`AddNetcorePanDevice`: the
//! template's `AddAdapter` and `AddDevice` plus `org.bluez.Network1` on the device,
//! whose `Connect` / `Disconnect` update `Connected` and `Interface`); it is killed
//! on drop. The bus, the temporary directory and the package checks are the
//! cellular crate's ([`DbusDaemon`], [`TempDir`], [`install_packages`]).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use netcore_bearer_cellular::testing::{
    DbusDaemon, PYTHON, TempDir, dbusmock_installed, install_packages,
};
use zbus::Connection;

use crate::device::{NETWORK_IFACE, SERVICE};

/// The template extension written next to the bus socket.
const TEMPLATE: &str = include_str!("bluez_template.py");

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// python-dbusmock's BlueZ on a [`DbusDaemon`]; killed on drop.
#[derive(Debug)]
pub struct BluezMock {
    child: Option<Child>,
    connection: Connection,
}

impl BluezMock {
    /// Starts the mock on the bus at `address` (the template file goes to `dir`) and
    /// waits up to 10 s for it to own `org.bluez`.
    pub async fn start(address: &str, dir: &Path) -> std::io::Result<Self> {
        let template = dir.join("netcore_bluez5.py");
        std::fs::write(&template, TEMPLATE)?;
        let mut child = Command::new(PYTHON)
            .args(["-m", "dbusmock", "--system", "--template"])
            .arg(&template)
            .env("DBUS_SYSTEM_BUS_ADDRESS", address)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let connected = async {
            let connection = zbus::connection::Builder::address(address)?.build().await?;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let reply = connection
                    .call_method(
                        Some("org.freedesktop.DBus"),
                        "/org/freedesktop/DBus",
                        Some("org.freedesktop.DBus"),
                        "NameHasOwner",
                        &(SERVICE,),
                    )
                    .await?;
                if reply.body().deserialize::<bool>()? {
                    return Ok(connection);
                }
                if Instant::now() > deadline {
                    return Err(zbus::Error::Failure("the mock did not appear".into()));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        match connected.await {
            Ok(connection) => Ok(Self {
                child: Some(child),
                connection,
            }),
            Err(e) => {
                stop(&mut child);
                Err(std::io::Error::other(format!("BlueZ mock: {e}")))
            }
        }
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
            .connection
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
        self.connection
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
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
    }
}

impl Drop for BluezMock {
    fn drop(&mut self) {
        self.kill();
    }
}
