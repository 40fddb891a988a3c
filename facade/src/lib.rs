//! netcore's public connection API (the seed's `@ohos.net.connection`), the
//! embedded runtime, and the `netcorectl` command line.
//!
//! ```no_run
//! # async fn demo() -> netcore::Result<()> {
//! use netcore_facade::{Config, NetManager};
//! let manager = NetManager::embedded(Config::default()).await?;
//! let default = manager.get_default_net().await?;
//! if !default.is_none() {
//!     let caps = manager.get_net_capabilities(default).await?;
//!     println!("default network {default}: {:?}", caps.bearer_types);
//! }
//! let mut connection = manager.create_net_connection(None, 0);
//! connection.register().await?;
//! while let Some(event) = connection.next_event().await {
//!     println!("{}: {:?}", event.name(), event.net_handle());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! What this build serves: the engine's functions (default network, networks,
//! capabilities, properties, requests and their events, app binding, reports,
//! extended attributes), DNS (per-network lookups, per-app custom rules, IDNA), HTTP
//! proxies and PAC, and the kernel queries (neighbour table, port states,
//! connection owner). [`profiles`] is the second platform's connection API (seed
//! 004) on the same runtime.

mod api;
pub mod blocking;
pub mod config;
mod connection;
mod dns_api;
mod manager;
pub mod profiles;
mod proxy_api;
mod routes;

pub use config::Config;
pub use connection::NetConnection;
pub use dns_api::Network;
pub use manager::{
    Builder, NetManager, NoValidator, PluginStatus, ProbeValidator, Validator, Watch,
};
pub use netcore;
pub use netcore_bearer_vpn::{VpnSpec, VpnTunnel};
pub use netcore_socket;
