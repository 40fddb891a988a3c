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
//! extended attributes). Functions whose part is not built yet return 2100003 with a
//! message naming the missing part.

mod api;
pub mod blocking;
pub mod config;
mod connection;
mod manager;
pub mod ports;

pub use config::Config;
pub use connection::NetConnection;
pub use manager::{Builder, NetManager, NoValidator, PluginStatus, Validator, Watch};
pub use netcore;
