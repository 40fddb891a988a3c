//! netcore-probe: network validation, captive-portal detection, probe results
//! (`queryProbeResult`) and traceroute (`queryTraceRoute`) for the netcore connection
//! manager.
//!
//! # Validation
//!
//! [`Validator::validate`] runs ONE connectivity check of one network, the seed's
//! "network probe": an HTTPS and an HTTP request in parallel, both over sockets bound to
//! the network's interface (`SO_BINDTODEVICE`), the probe host resolved through that
//! network's DNS servers. The engine (`netcore::engine`) schedules checks, keeps
//! `NET_CAPABILITY_CHECKING_CONNECTIVITY` set while one runs and does the backoff; this
//! crate only answers with a [`ValidationResult`](netcore::engine::ValidationResult):
//!
//! | what answered                                   | result      |
//! |-------------------------------------------------|-------------|
//! | HTTPS 204                                       | `Validated` |
//! | HTTP 3xx with `Location`                        | `Portal { url: Location }` |
//! | HTTP 2xx/3xx (not 204) with a body              | `Portal { url: probe URL }` |
//! | only HTTP 204                                   | `Partial` (plain HTTP can be spoofed) |
//! | nothing of the above                            | `Failed`    |
//!
//! Probe servers are untrusted: response headers are capped
//! ([`ValidatorConfig::max_header_bytes`]), a body is never read further than needed to
//! know whether it is empty, and every probe ends at [`ValidatorConfig::overall_timeout`].
//! Dropping the future returned by [`Validator::validate`] closes every socket at once.
//!
//! ```no_run
//! use std::sync::Arc;
//! use netcore::NetHandle;
//! use netcore_probe::{NetworkTarget, Validator, ValidatorConfig};
//!
//! # async fn run(dns: Arc<dyn netcore::Resolve>) -> netcore::Result<()> {
//! let validator = Validator::new(ValidatorConfig::default())?;
//! let target = NetworkTarget::new(NetHandle::new(100)?, "wlan0").with_resolver(dns);
//! let result = validator.validate(&target).await;
//! println!("{result:?}");
//! # Ok(()) }
//! ```
//!
//! For the engine's shell (the facade): on `Action::StartValidation { net, attempt }`,
//! spawn a task running `validator.validate(&target)` with a [`NetworkTarget`] made
//! from the network's interface and a resolver on it (any
//! [`Resolve`](netcore::Resolve); the runtime passes `netcore-dns`'s service), and hand the result to `Engine::validation_result(net,
//! attempt, result, now)`; on `Action::CancelValidation`, abort that task.
//!
//! # Probe results and traceroute
//!
//! [`Diagnostics::query_probe_result`] sends one probe a second for `duration` seconds
//! (or [`Diagnostics::probe_series`] with another interval and ICMP or UDP) and
//! reports loss and round-trip times ([`ProbeResultInfo`](netcore::ProbeResultInfo));
//! [`Diagnostics::query_trace_route`] sends five probes per hop with increasing TTL
//! and reports every hop ([`TraceRouteInfo`](netcore::TraceRouteInfo)). Both take a
//! name or an address; names resolve through the [`Resolve`](netcore::Resolve) given.
//!
//! - ICMP (the default) uses an unprivileged ICMP datagram socket
//!   (`SOCK_DGRAM`/`IPPROTO_ICMP`, allowed by `net.ipv4.ping_group_range`) and falls back
//!   to a raw ICMP socket (root or `CAP_NET_RAW`).
//! - UDP sends datagrams to high ports (33434 and up, as traceroute does) from a
//!   connected socket: the destination answers with ICMP port unreachable, read from
//!   the socket's error queue with the sender's address; a UDP answer (an echo
//!   service) counts as well.
//! - Routers on the way report ICMP time exceeded, read from the error queue of the
//!   datagram socket (`IP_RECVERR` with `MSG_ERRQUEUE`, no privilege needed) or, on a
//!   raw socket, from the ICMP message itself.
//!
//! IPv4 and IPv6 (ICMPv6, `IPV6_RECVERR`) alike.
//!
//! Errors are netcore's [`Error`](netcore::Error) with the seed's codes: 2100001 for
//! values out of range, 2100003 for resolution and socket failures.

mod config;
mod diagnostics;
mod errqueue;
mod http;
mod icmp;
mod stats;
mod target;
mod validate;

pub use config::{DiagnosticsConfig, IcmpSocket, ValidatorConfig};
pub use diagnostics::Diagnostics;
pub use target::NetworkTarget;
pub use validate::Validator;
