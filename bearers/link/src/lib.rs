//! Linux kernel link layer on rtnetlink: links, addresses, routes, neighbours and
//! counters of the network namespace the caller runs in.
//!
//! - [`LinkWatcher`] follows the kernel through its multicast groups (links, IPv4 and
//!   IPv6 addresses and routes, neighbours): an initial dump, then a stream of
//!   [`LinkEvent`]s, each applied to a [`LinkState`] snapshot. No polling.
//! - [`LinkClient`] queries (links with kind, flags, MTU, MAC, speed and counters;
//!   addresses; routes of every table; the neighbour table as the seed's
//!   `NetIpMacInfo`; rules) and programs (addresses, routes in a table, rules with
//!   priority, table and uid range, link up/down).
//! - [`properties::connection_properties`] turns a link of a [`LinkState`] into the
//!   `ConnectionProperties` a bearer reports (addresses, main-table routes, MTU).
//! - [`ports`] reads the kernel's sockets through sock_diag: the seed's
//!   `getSystemNetPortStates` and the owner lookup of `getConnectOwnerUid`.
//! - With the `testing` feature, the `testing` module creates network namespaces and veth pairs
//!   and runs code inside a namespace, for system tests of this and other crates.
//!
//! No netlink type appears in the public API. Everything needs a tokio runtime.
//!
//! ```no_run
//! # async fn demo() -> Result<(), netcore_link::LinkError> {
//! let mut watcher = netcore_link::LinkWatcher::start().await?;
//! for link in watcher.state().links() {
//!     println!("{} carrier={}", link.name, link.has_carrier());
//! }
//! loop {
//!     println!("{:?}", watcher.next_event().await?);
//! }
//! # }
//! ```

mod client;
mod convert;
mod error;
pub mod ports;
pub mod properties;
mod state;
pub mod sysfs;
#[cfg(feature = "testing")]
pub mod testing;
mod types;
mod watcher;

pub use client::LinkClient;
pub use error::{LinkError, Result};
pub use state::LinkState;
pub use sysfs::SysfsNet;
pub use types::*;
pub use watcher::LinkWatcher;
