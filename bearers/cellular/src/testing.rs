//! python-dbusmock's ModemManager template on a private dbus-daemon, for system
//! tests (feature `testing`).
//!
//! [`ModemManagerMock`] runs python-dbusmock's `modemmanager` template extended by a
//! small template file (`AddNetcoreModem`: the template's `AddSimpleModem` plus SIM
//! slots and `Modem.Simple` `Connect` / `Disconnect` that create and update a bearer
//! object); it is killed on drop. The bus, the temporary directory and the package
//! checks are netcore-dbus's.

use std::path::Path;

pub use netcore_dbus::testing::{
    DbusDaemon, DbusMock, PYTHON, TempDir, dbusmock_installed, install_packages,
};

use crate::modem::{MANAGER_PATH, SERVICE};

/// The template extension written next to the bus socket.
const TEMPLATE: &str = include_str!("mm_template.py");

/// python-dbusmock's ModemManager on a [`DbusDaemon`]; killed on drop.
#[derive(Debug)]
pub struct ModemManagerMock {
    mock: DbusMock,
}

impl ModemManagerMock {
    /// Starts the mock on the bus at `address` (the template file goes to `dir`) and
    /// waits up to 10 s for it to own `org.freedesktop.ModemManager1`.
    pub async fn start(address: &str, dir: &Path) -> std::io::Result<Self> {
        let mock =
            DbusMock::start(address, dir, "netcore_modemmanager.py", TEMPLATE, SERVICE).await?;
        Ok(Self { mock })
    }

    async fn mock_call<B, R>(&self, method: &str, body: &B) -> zbus::Result<R>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
        R: for<'d> serde::Deserialize<'d> + zbus::zvariant::Type,
    {
        let reply = self
            .mock
            .connection()
            .call_method(
                Some(SERVICE),
                MANAGER_PATH,
                Some("org.freedesktop.DBus.Mock"),
                method,
                body,
            )
            .await?;
        reply.body().deserialize::<R>()
    }

    /// Adds a modem whose bearer reports `interface`, with `PrimarySimSlot`
    /// `primary_slot`; returns its path.
    pub async fn add_modem(&self, interface: &str, primary_slot: u32) -> zbus::Result<String> {
        self.mock_call("AddNetcoreModem", &(interface, primary_slot))
            .await
    }

    /// Sets the bearer object's property `name` to the JSON value `json` (any type,
    /// for malformed-property tests).
    pub async fn set_bearer_property(&self, name: &str, json: &str) -> zbus::Result<()> {
        self.mock_call("SetNetcoreBearerProperty", &(name, json))
            .await
    }

    /// Calls `Modem.Simple.Disconnect("/")` on `modem`, as another client would.
    pub async fn disconnect(&self, modem: &str) -> zbus::Result<()> {
        let root = zbus::zvariant::ObjectPath::from_static_str_unchecked("/");
        self.mock
            .connection()
            .call_method(
                Some(SERVICE),
                modem,
                Some(crate::modem::SIMPLE_IFACE),
                "Disconnect",
                &(root,),
            )
            .await
            .map(|_| ())
    }

    /// Kills the mock (ModemManager leaves the bus).
    pub fn kill(&mut self) {
        self.mock.kill();
    }
}
