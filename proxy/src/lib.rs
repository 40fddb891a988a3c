//! HTTP proxy settings and PAC evaluation for netcore.
//!
//! - [`settings`]: the global default proxy and the per-application proxies (seed
//!   `setAppHttpProxy`, `getDefaultHttpProxy`).
//! - [`exclusion`]: the seed's exclusion-list rules and [`uses_proxy`], which answers
//!   "does this URL go through the proxy".

pub mod exclusion;
pub mod settings;

pub use exclusion::{ExclusionList, uses_proxy};
pub use settings::{AppKey, ProxySettings};
pub mod pac;
