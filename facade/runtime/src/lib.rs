//! netcore-runtime: the async shell around netcore's engine.
//!
//! A [`Runtime`] owns the engine and feeds it: it supervises the bearers (built in,
//! and plugins) and restarts those that fail, runs the engine's timers, and carries
//! out its actions (connectivity checks, activations and releases, each network's
//! resolver, the default route in manage mode). It delivers the engine's events to
//! subscribers through bounded [`Subscription`]s, and holds the services of the
//! connection API: per-network DNS with per-app rules, HTTP proxies and PAC,
//! diagnostics, VPNs.
//!
//! App-scoped calls take the app's [`netcore::AppId`] and trust it: this crate is
//! what `netcore-facade`'s embedded API and the netcored daemon are built on, and
//! they pass the identity of their caller. Applications use `netcore-facade`.
//!
//! Everything that untrusted parties can grow is bounded: a subscriber's unread
//! events (changes merge; past [`Config::max_unread_events`] it is disconnected),
//! bearers' waiting reports (merged per network; a bearer may have at most
//! [`netcore::engine::MAX_NETWORKS_PER_BEARER`] networks) and the waiting actions
//! (merged by what they are about).
//!
//! ```no_run
//! # async fn demo() -> netcore::Result<()> {
//! use netcore_runtime::{Config, Runtime};
//! let runtime = Runtime::embedded(Config::default()).await?;
//! let mut watch = runtime.watch();
//! println!("{} networks", watch.networks.len());
//! while let Some(event) = watch.events.recv().await {
//!     println!("{}: {:?}", event.name(), event.net_handle());
//! }
//! # Ok(())
//! # }
//! ```

pub mod config;
mod dns_stub;
mod driver;
mod queue;
mod reports;
mod resolv_conf;
pub mod routing;
mod runtime;
mod sockets;
mod validator;

pub use config::Config;
pub use queue::{DEFAULT_MAX_UNREAD_EVENTS, MERGE_AFTER_UNREAD, Subscription, SubscriptionSender};
pub use reports::MAX_WAITING_PER_BEARER;
pub use runtime::{Builder, PluginStatus, Runtime, Watch};
pub use validator::{NoValidator, ProbeValidator, Validator};
