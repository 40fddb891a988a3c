//! The result of `FindProxyForURL` parsed into typed entries.

use std::fmt;
use std::net::IpAddr;

use netcore::{Error, Result};

/// Where a proxy listens: a host name or address and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyAddress {
    /// The host name (lower case) or address (IPv6 without brackets).
    pub host: String,
    /// The port, 1 to 65535.
    pub port: u16,
}

impl fmt::Display for ProxyAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl ProxyAddress {
    /// Parses `host:port` or `[v6]:port`; the port is required and not 0.
    pub fn parse(text: &str) -> Result<Self> {
        let malformed = |why: &str| Error::Service(format!("PAC result: {text:?}: {why}"));
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| malformed("no closing ]"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| malformed("no port"))?;
            host.parse::<std::net::Ipv6Addr>()
                .map_err(|_| malformed("not an IPv6 address in brackets"))?;
            (host, port)
        } else {
            text.rsplit_once(':').ok_or_else(|| malformed("no port"))?
        };
        let port: u16 = port
            .parse()
            .map_err(|_| malformed("the port is not in 1..=65535"))?;
        if port == 0 {
            return Err(malformed("the port is not in 1..=65535"));
        }
        let valid_name = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
        if !valid_name || (host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err()) {
            return Err(malformed("not a host name or address"));
        }
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether the proxy is on this machine or on the link: `localhost` (and names
    /// under `.localhost`), loopback, unspecified and link-local addresses.
    pub fn is_local_or_link_local(&self) -> bool {
        let host = self.host.trim_end_matches('.');
        if host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        match host.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(IpAddr::V4(v4)) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
            Ok(IpAddr::V6(v6)) => {
                v6.is_loopback() || v6.is_unspecified() || v6.is_unicast_link_local()
            }
            Err(_) => false,
        }
    }
}

/// One entry of a PAC result.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProxyEntry {
    /// `DIRECT`: connect without a proxy.
    Direct,
    /// `PROXY host:port` (also written `HTTP host:port`): an HTTP proxy.
    Proxy(ProxyAddress),
    /// `HTTPS host:port`: an HTTP proxy reached over TLS.
    Https(ProxyAddress),
    /// `SOCKS host:port`: a SOCKS proxy of unspecified version (treated as SOCKS4).
    Socks(ProxyAddress),
    /// `SOCKS4 host:port`.
    Socks4(ProxyAddress),
    /// `SOCKS5 host:port`.
    Socks5(ProxyAddress),
}

impl ProxyEntry {
    /// The proxy's address (`None` for `DIRECT`).
    pub fn address(&self) -> Option<&ProxyAddress> {
        match self {
            Self::Direct => None,
            Self::Proxy(a)
            | Self::Https(a)
            | Self::Socks(a)
            | Self::Socks4(a)
            | Self::Socks5(a) => Some(a),
        }
    }

    /// Parses one entry (`DIRECT`, `PROXY host:port`, ...); keywords ignore case.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let (keyword, rest) = match text.split_once(char::is_whitespace) {
            Some((keyword, rest)) => (keyword, rest.trim()),
            None => (text, ""),
        };
        let keyword = keyword.to_ascii_uppercase();
        if keyword == "DIRECT" {
            return if rest.is_empty() {
                Ok(Self::Direct)
            } else {
                Err(Error::Service(format!(
                    "PAC result: {text:?}: DIRECT takes no address"
                )))
            };
        }
        let build: fn(ProxyAddress) -> Self = match keyword.as_str() {
            "PROXY" | "HTTP" => Self::Proxy,
            "HTTPS" => Self::Https,
            "SOCKS" => Self::Socks,
            "SOCKS4" => Self::Socks4,
            "SOCKS5" => Self::Socks5,
            _ => {
                return Err(Error::Service(format!(
                    "PAC result: {text:?}: unknown keyword (expected DIRECT, PROXY, HTTPS, SOCKS, SOCKS4 or SOCKS5)"
                )));
            }
        };
        if rest.is_empty() || rest.contains(char::is_whitespace) {
            return Err(Error::Service(format!(
                "PAC result: {text:?}: {keyword} takes exactly one host:port"
            )));
        }
        Ok(build(ProxyAddress::parse(rest)?))
    }
}

impl fmt::Display for ProxyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct => f.write_str("DIRECT"),
            Self::Proxy(a) => write!(f, "PROXY {a}"),
            Self::Https(a) => write!(f, "HTTPS {a}"),
            Self::Socks(a) => write!(f, "SOCKS {a}"),
            Self::Socks4(a) => write!(f, "SOCKS4 {a}"),
            Self::Socks5(a) => write!(f, "SOCKS5 {a}"),
        }
    }
}

/// A parsed PAC result: the entries to try in order. `Display` gives the string form
/// (`PROXY a:1; DIRECT`) that the seed's `findProxyForUrl` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacResult {
    entries: Vec<ProxyEntry>,
}

impl PacResult {
    /// Parses a `FindProxyForURL` return value. Any malformed entry refuses the whole
    /// result (2100002). Entries pointing at localhost or a link-local address are
    /// dropped with a warning; a result left with no entry is refused (2100002).
    pub fn parse(text: &str) -> Result<Self> {
        let mut entries = Vec::new();
        for part in text
            .split(';')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let entry = ProxyEntry::parse(part)?;
            if entry
                .address()
                .is_some_and(ProxyAddress::is_local_or_link_local)
            {
                tracing::warn!(%entry, "dropping a PAC proxy on localhost or link-local");
                continue;
            }
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(Error::Service(format!(
                "PAC result {:?} has no usable entry",
                truncate(text, 200)
            )));
        }
        Ok(Self { entries })
    }

    /// The entries, in the order to try them.
    pub fn entries(&self) -> &[ProxyEntry] {
        &self.entries
    }
}

impl fmt::Display for PacResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, entry) in self.entries.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{entry}")?;
        }
        Ok(())
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(host: &str, port: u16) -> ProxyAddress {
        ProxyAddress {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_every_kind() {
        let r = PacResult::parse(
            "PROXY p.corp:3128; https Secure.corp:443;SOCKS s:1080; SOCKS4 [2001:db8::1]:1080; SOCKS5 10.0.0.1:1081; DIRECT;",
        )
        .unwrap();
        assert_eq!(
            r.entries(),
            &[
                ProxyEntry::Proxy(addr("p.corp", 3128)),
                ProxyEntry::Https(addr("secure.corp", 443)),
                ProxyEntry::Socks(addr("s", 1080)),
                ProxyEntry::Socks4(addr("2001:db8::1", 1080)),
                ProxyEntry::Socks5(addr("10.0.0.1", 1081)),
                ProxyEntry::Direct,
            ]
        );
        assert_eq!(
            r.to_string(),
            "PROXY p.corp:3128; HTTPS secure.corp:443; SOCKS s:1080; SOCKS4 [2001:db8::1]:1080; SOCKS5 10.0.0.1:1081; DIRECT"
        );
    }

    #[test]
    fn refuses_malformed_entries() {
        for bad in [
            "",
            " ; ",
            "PROXY",
            "PROXY host",
            "PROXY host:0",
            "PROXY host:65536",
            "PROXY a b:1",
            "DIRECT x",
            "FTP host:21",
            "PROXY ho st:1",
            "PROXY [::1:80",
            "PROXY 1:2:3:80",
            "PROXY host:80; BOGUS",
        ] {
            let error = PacResult::parse(bad).unwrap_err();
            assert_eq!(error.code(), 2_100_002, "{bad:?}");
        }
    }

    #[test]
    fn drops_local_and_link_local_proxies() {
        let r = PacResult::parse(
            "PROXY localhost:1; PROXY 127.0.0.2:3; PROXY [::1]:4; PROXY 169.254.1.1:5; PROXY [fe80::1]:6; PROXY [::ffff:127.0.0.1]:7; PROXY a.localhost:8; PROXY 0.0.0.0:9; PROXY ok:10",
        )
        .unwrap();
        assert_eq!(r.to_string(), "PROXY ok:10");
        assert_eq!(
            PacResult::parse("PROXY 127.0.0.1:8080").unwrap_err().code(),
            2_100_002
        );
    }
}
