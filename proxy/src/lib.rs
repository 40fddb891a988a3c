//! HTTP proxy settings and PAC evaluation for netcore.
//!
//! - [`settings`]: the global default proxy and the per-application proxies (seed
//!   `setAppHttpProxy`, `getDefaultHttpProxy`), keyed by the app ([`netcore::AppId`], a uid).
//! - [`exclusion`]: the seed's exclusion-list rules and [`uses_proxy`], which answers
//!   "does this URL go through the proxy".
//! - [`pac`]: proxy auto-configuration. Scripts are untrusted: they run on boa_engine
//!   in a separate worker process (`netcore-pac-worker`, a binary of this crate) with
//!   an address-space limit, engine limits on loops, recursion and stack, and a
//!   wall-clock deadline per call (default 200 ms) after which the parent kills the
//!   worker and starts a new one. DNS helpers are answered by the parent through
//!   netcore's [`Resolve`](netcore::Resolve); time helpers read an injectable
//!   [`Clock`](pac::clock::Clock). `https`/`wss` URLs reach the script as
//!   `scheme://host:port/` only, and proxies on localhost or link-local addresses are
//!   dropped from results.
//! - [`service`]: the seed's `setPacFileUrl`, `getPacFileUrl`, `setPacUrl`,
//!   `getPacUrl` and `findProxyForUrl` on top of [`pac`].
//!
//! Errors are [`netcore::Error`] with the seed's codes: 2100001 for invalid values
//! (a proxy without host, a malformed URL), 2100002 for fetching and PAC failures
//! (download, script error, overrun, dead worker, malformed result), 2100003 for
//! `getPacUrl` with no URL set.

pub mod exclusion;
pub mod pac;
pub mod service;
pub mod settings;

pub use exclusion::{ExclusionList, uses_proxy};
pub use netcore::AppId;
pub use pac::evaluator::{PacConfig, PacEvaluator};
pub use pac::result::{PacResult, ProxyAddress, ProxyEntry};
pub use service::PacService;
pub use settings::ProxySettings;
