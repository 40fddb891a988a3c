//! Ethernet bearer: reports wired networks from the kernel link layer.
//!
//! [`EthernetBearer`] implements [`netcore::Bearer`] on [`netcore_link::LinkWatcher`]:
//! every Ethernet-class interface (a NIC, veth, VLAN, bond, bridge; not wireless,
//! loopback or tun/tap) admitted by the configured allow/deny patterns is a network
//! while it has carrier. It is reported `Appeared` when carrier comes, `Changed` when
//! its addresses, routes or MTU change, and `Gone` when carrier goes or the interface
//! is deleted, keyed by interface name. Everything follows kernel notifications; the
//! bearer never polls.
//!
//! Properties: interface name, addresses, main-table routes (default route flags),
//! MTU, plus DNS servers, search domains and static addresses from the interface's
//! section of [`EthernetConfig`]; capabilities INTERNET, NOT_METERED and NOT_VPN;
//! the link speed from sysfs as up/down bandwidth.
//!
//! ```no_run
//! # async fn demo() -> netcore::Result<()> {
//! use netcore::{Bearer, ReportSink};
//! let bearer = netcore_bearer_ethernet::EthernetBearer::new(Default::default())?;
//! bearer.run(ReportSink::new(|event| println!("{event:?}"))).await
//! # }
//! ```

mod bearer;
pub mod config;
pub mod network;
pub mod pattern;
#[cfg(feature = "plugin")]
mod plugin;

pub use bearer::EthernetBearer;
pub use config::{EthernetConfig, InterfaceConfig, StaticIp};
pub use pattern::{InterfaceFilter, Pattern};
