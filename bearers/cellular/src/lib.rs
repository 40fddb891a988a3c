//! Cellular bearer on ModemManager over D-Bus.
//!
//! [`CellularBearer`] implements [`netcore::Bearer`]: it talks to ModemManager
//! (`org.freedesktop.ModemManager1`) on the system bus (or the bus of
//! [`CellularConfig::bus_address`]) with zbus, reads the modems from its object
//! manager (`GetManagedObjects`) and each modem's bearer objects (`Bearers`,
//! `Properties.GetAll`), and reports one network per connected bearer object
//! (`Connected`), keyed by its object path:
//! - on the bearer's `Interface`, with addresses, routes and MTU from the kernel
//!   ([`netcore_link::properties::connection_properties`]); a bearer whose interface
//!   the kernel does not have is not reported until it does;
//! - identifier (the seed's `bearerPrivateIdentifier`): the modem's SIM slot,
//!   `slot0` for `PrimarySimSlot` 1, 0 or absent, `slot1` for 2
//!   ([`modem::slot_identifier`]);
//! - capabilities INTERNET and NOT_VPN, metered (no NOT_METERED), plus MMS when
//!   [`CellularConfig::apn_types`] has `mms`;
//! - quality: the modem's `SignalQuality`; DNS servers: `dns1`, `dns2`, ... of the
//!   bearer's `Ip4Config` and `Ip6Config`.
//!
//! Every signal under `/org/freedesktop/ModemManager1` (`InterfacesAdded`,
//! `InterfacesRemoved`, `PropertiesChanged`) makes the bearer read ModemManager's
//! state again; kernel link changes update the properties. When ModemManager leaves
//! the bus (or gets a new owner, `NameOwnerChanged`) or the bus closes, every network
//! is reported `Gone` and [`netcore::Bearer::run`] returns [`netcore::Error::Service`];
//! run again (the host does, with backoff) it attaches anew, and ModemManager absent
//! at start is the same error. Properties of the wrong type, missing or too long are
//! logged and read as absent; a malformed `GetManagedObjects` reply is logged and the
//! previous state kept.
//!
//! An activation request for `slotN` connects the modem on that SIM slot
//! (`Modem.Simple.Connect` with the configured APN); releasing a network disconnects
//! it (`Modem.Simple.Disconnect`) unless `release_disconnects` is off.
//!
//! ```no_run
//! # async fn demo() -> netcore::Result<()> {
//! use netcore::{Bearer, ReportSink};
//! let bearer = netcore_bearer_cellular::CellularBearer::new(Default::default())?;
//! bearer.run(ReportSink::new(|event| println!("{event:?}"))).await
//! # }
//! ```
//!
//! As a plugin (feature `plugin`, the cdylib), the configuration is the JSON form of
//! [`CellularConfig`]. With the `testing` feature, `testing` starts a private
//! dbus-daemon and python-dbusmock's ModemManager template.

mod bearer;
pub mod config;
pub mod modem;
#[cfg(feature = "plugin")]
mod plugin;
#[cfg(feature = "testing")]
pub mod testing;

pub use bearer::CellularBearer;
pub use config::CellularConfig;
