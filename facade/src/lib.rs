//! netcore's public connection API: the seed's `@ohos.net.connection` as idiomatic
//! Rust ([`NetManager`], [`NetConnection`], [`Network`], [`blocking`]) and the second
//! platform's connection API ([`profiles`], seed 004).
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
//! The API is the same whatever serves it: today the runtime embedded in the
//! process ([`NetManager::embedded`], built on `netcore-runtime`); the netcored
//! daemon's bus client stands beside it with the same types, errors and event
//! order. What it serves: the engine's functions (default network, networks,
//! capabilities, properties, requests and their events, app binding, reports,
//! extended attributes), DNS (per-network lookups, per-app custom rules, IDNA), HTTP
//! proxies and PAC, diagnostics, VPNs, and the kernel queries (neighbour table, port
//! states, connection owner).

mod api;
pub mod blocking;
mod bus;
mod connection;
mod dns_api;
mod manager;
pub mod profiles;
mod proxy_api;

pub use connection::NetConnection;
pub use dns_api::Network;
pub use manager::{Builder, NetManager};
pub use netcore;
pub use netcore_bearer_vpn::{VpnSpec, VpnTunnel};
pub use netcore_runtime::{
    Config, NoValidator, PluginStatus, ProbeValidator, Subscription, Validator, Watch, config,
};
pub use netcore_socket;
