//! netcore-dns: per-network DNS resolution, per-app custom rules, a TTL cache and
//! IDNA conversion for the netcore connection manager.
//!
//! - [`DnsService`] resolves on a chosen network with that network's own DNS servers
//!   (its `ConnectionProperties::dnses`) over sockets bound to its interface
//!   (`SO_BINDTODEVICE`), so a lookup on one network never leaves through another.
//!   It is built on hickory-resolver.
//! - Custom DNS rules per app ([`AppId`]) answer before any server is asked and are
//!   never visible to another app.
//! - Answers are cached per network for their TTL, negative answers (NXDOMAIN, no
//!   records) for their SOA's negative TTL; a network's cache is flushed when its
//!   servers change or it goes. Identical concurrent lookups share one upstream
//!   query.
//! - [`get_dns_ascii`] and [`get_dns_unicode`] convert names with the seed's
//!   [`ConversionProcess`](netcore::ConversionProcess) flags, on the `idna` crate.
//!
//! Errors are netcore's [`Error`](netcore::Error) with the seed's codes: 401 and
//! 2100001 for bad input (no query is sent for an invalid name), 2100003
//! ([`Error::Resolve`](netcore::Error::Resolve)) with a
//! [`ResolveFailure`](netcore::ResolveFailure) telling no such name, timeout, server
//! failure or no network apart.
//!
//! # IDNA
//!
//! [`get_dns_ascii`] and [`get_dns_unicode`] use UTS #46 (non-transitional) from the
//! `idna` crate. The seed's flags:
//!
//! | flag | meaning here |
//! | --- | --- |
//! | `NO_CONFIGURATION` (0) | UTS #46; a code point it disallows (unassigned ones among them) is an error |
//! | `ALLOW_UNASSIGNED` (1) | as 0, but a label refused only for its non-ASCII code points is kept and Punycode-encoded (decoded) as it is, the IDNA2003 `AllowUnassigned` behaviour |
//! | `USE_STD3_ASCII_RULES` (2) | as 0, plus STD3 (RFC 1123): letters, digits and hyphens only, no hyphen at a label's start or end |
//!
//! In every mode an empty name or label, a label over 63 bytes, a name over 253
//! bytes, a NUL or invalid Punycode is refused with 2100001. Host names to look up go
//! through the same processing ([`lookup_form`]).
//!
//! # Example
//!
//! ```no_run
//! use netcore::{ConnectionProperties, NetAddress, NetHandle, QueryOptions};
//! use netcore_dns::{AppId, DnsConfig, DnsService};
//!
//! # async fn run() -> netcore::Result<()> {
//! let dns = DnsService::new(DnsConfig::default());
//! let wifi = NetHandle::new(100)?;
//! let props = ConnectionProperties {
//!     interface_name: "wlan0".into(),
//!     dnses: vec![NetAddress::new("192.0.2.53".parse().unwrap(), 53)],
//!     ..Default::default()
//! };
//! dns.set_network(wifi, &props)?;
//! dns.set_default_network(wifi);
//! let app = AppId::from_uid(10_001);
//! dns.add_custom_dns_rule(app, "intranet.example", &["198.51.100.7"])?;
//! let addresses = dns
//!     .get_addresses_by_name(app, None, "www.example.com", QueryOptions::default())
//!     .await?;
//! # Ok(()) }
//! ```

mod bind;
mod clock;
mod idn;
mod rules;
mod service;
pub mod stub;

pub use clock::{Clock, ManualClock, SystemClock};
pub use idn::{MAX_LABEL_LEN, MAX_NAME_LEN, get_dns_ascii, get_dns_unicode, lookup_form};
pub use netcore::AppId;
pub use rules::{MAX_ADDRESSES_PER_RULE, MAX_RULES_PER_APP};
pub use service::{DnsConfig, DnsService};
