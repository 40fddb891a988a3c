//! Configuration of the validator and of the diagnostics (probe results, traceroute).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the validator probes. Every field has a default, so `{}` is a valid
/// configuration; durations are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ValidatorConfig {
    /// The plain HTTP probe URL; it must answer 204 (default
    /// `http://connectivitycheck.gstatic.com/generate_204`).
    pub http_url: String,
    /// The HTTPS probe URL; it must answer 204 (default
    /// `https://www.google.com/generate_204`).
    pub https_url: String,
    /// After this long, a check that has only a non-decisive answer (HTTP 204 alone)
    /// returns it instead of waiting for the HTTPS probe (default 3000 ms).
    pub first_result_timeout_ms: u64,
    /// How long each address of a probe host gets to accept the connection before
    /// the next one is tried (default 1500 ms).
    pub connect_timeout_ms: u64,
    /// The bound of a whole check: every probe (resolution, connection, TLS, request,
    /// response) ends by then (default 10000 ms).
    pub overall_timeout_ms: u64,
    /// The largest response head (status line and headers) read, in bytes; a larger
    /// one fails the probe (default 16384).
    pub max_header_bytes: usize,
    /// Extra trusted root certificates in PEM, on top of the web PKI roots (tests use a
    /// local CA).
    pub extra_root_certs_pem: Vec<String>,
    /// Whether the web PKI roots (Mozilla's, from `webpki-roots`) are trusted (default
    /// `true`).
    pub use_webpki_roots: bool,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        Self {
            http_url: "http://connectivitycheck.gstatic.com/generate_204".into(),
            https_url: "https://www.google.com/generate_204".into(),
            first_result_timeout_ms: 3_000,
            connect_timeout_ms: 1_500,
            overall_timeout_ms: 10_000,
            max_header_bytes: 16 * 1024,
            extra_root_certs_pem: Vec::new(),
            use_webpki_roots: true,
        }
    }
}

impl ValidatorConfig {
    /// [`Self::first_result_timeout_ms`] as a duration.
    pub fn first_result_timeout(&self) -> Duration {
        Duration::from_millis(self.first_result_timeout_ms)
    }

    /// [`Self::connect_timeout_ms`] as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// [`Self::overall_timeout_ms`] as a duration.
    pub fn overall_timeout(&self) -> Duration {
        Duration::from_millis(self.overall_timeout_ms)
    }
}

/// How probe series and traceroutes send. Durations are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct DiagnosticsConfig {
    /// How long a probe of a series waits for its answer at most (default 1000 ms;
    /// never longer than the interval to the next probe, except for the last probe).
    pub reply_timeout_ms: u64,
    /// How long the five probes of one traceroute hop wait for answers (default
    /// 1000 ms).
    pub hop_timeout_ms: u64,
    /// The interface the probes leave through (`SO_BINDTODEVICE`); none by default, so
    /// the routing table chooses.
    pub interface: Option<String>,
    /// Which ICMP socket ICMP probes use (default [`IcmpSocket::Auto`]).
    pub icmp_socket: IcmpSocket,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        Self {
            reply_timeout_ms: 1_000,
            hop_timeout_ms: 1_000,
            interface: None,
            icmp_socket: IcmpSocket::Auto,
        }
    }
}

/// The kind of socket ICMP probes are sent from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum IcmpSocket {
    /// An ICMP datagram socket when `net.ipv4.ping_group_range` allows it, else a raw
    /// socket.
    #[default]
    Auto,
    /// Only an ICMP datagram socket (`SOCK_DGRAM`/`IPPROTO_ICMP`).
    Datagram,
    /// Only a raw ICMP socket (needs root or `CAP_NET_RAW`).
    Raw,
}
