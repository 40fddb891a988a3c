//! Bluetooth PAN bearer on BlueZ over D-Bus.
//!
//! [`BluetoothBearer`] implements [`netcore::Bearer`]: it talks to BlueZ
//! (`org.bluez`) on the system bus (or the bus of [`BluetoothConfig::bus_address`])
//! with zbus, reads its objects (`GetManagedObjects` on `/`), and reports one network
//! per device whose `org.bluez.Network1` is `Connected`, keyed by the device's object
//! path:
//! - on the device's PAN interface (`Network1.Interface`, `bnepN`), with addresses,
//!   routes and MTU from the kernel
//!   ([`netcore_link::properties::connection_properties`]); a device whose interface
//!   the kernel does not have is not reported until it does;
//! - identifier: the device's Bluetooth address (`Device1.Address`, upper case);
//! - capabilities INTERNET and NOT_VPN, metered (no NOT_METERED); DNS servers from
//!   the configuration.
//!
//! Every signal under `/org/bluez` and every object manager signal on `/` makes the
//! bearer read BlueZ's objects again; kernel link changes update the properties.
//! When BlueZ leaves the bus (or gets a new owner) or the bus closes, every network
//! is reported `Gone` and [`netcore::Bearer::run`] returns [`netcore::Error::Service`];
//! run again (the host does, with backoff) it attaches anew. Properties of the wrong
//! type, missing or too long are logged and read as absent.
//!
//! An activation request for a Bluetooth address connects that device's PAN
//! (`Network1.Connect` with the configured role, `nap` by default); releasing
//! disconnects it (`Network1.Disconnect`) unless `release_disconnects` is off.
//!
//! ```no_run
//! # async fn demo() -> netcore::Result<()> {
//! use netcore::{Bearer, ReportSink};
//! let bearer = netcore_bearer_bluetooth::BluetoothBearer::new(Default::default())?;
//! bearer.run(ReportSink::new(|event| println!("{event:?}"))).await
//! # }
//! ```
//!
//! As a plugin (feature `plugin`, the cdylib), the configuration is the JSON form of
//! [`BluetoothConfig`]. With the `testing` feature, `testing` starts python-dbusmock's
//! bluez5 template with `Network1` on its devices.

mod bearer;
pub mod config;
pub mod device;
#[cfg(feature = "plugin")]
mod plugin;
#[cfg(feature = "testing")]
pub mod testing;

pub use bearer::BluetoothBearer;
pub use config::BluetoothConfig;
