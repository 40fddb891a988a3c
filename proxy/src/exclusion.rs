//! The exclusion list of an [`netcore::HttpProxy`], matched as seed 001
//! describes it.
//!
//! - An entry matches a host exactly, or partially: listing `ample.com` matches
//!   `ample.com`, `www.ample.com` and `ample.com:80`, but neither `www.example.com` nor
//!   `ample.com.org` (a partial match is a whole trailing run of labels).
//! - An entry that is an IP address matches only that exact address.
//! - A list made only of `*` entries matches every host: the proxy is off. A `*` next to
//!   any other entry has no effect.
//! - Matching ignores case and a leading protocol prefix (`http://`, `https://`, any
//!   `scheme://`), in the URL as in the entries.
//! - An entry with a port (`ample.com:8080`) matches only URLs with that port; an entry
//!   without one matches every port.

use std::net::IpAddr;

use netcore::HttpProxy;

/// A URL or host reduced to what the exclusion rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPort {
    /// Lower-case host without brackets or a trailing dot.
    host: String,
    /// The explicit port, if any.
    port: Option<u16>,
}

/// Drops a `scheme://` prefix, user information and everything after the authority.
fn authority_of(text: &str) -> &str {
    let text = text.trim();
    let rest = match text.find("://") {
        Some(index) => &text[index + 3..],
        None => text,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    match authority.rfind('@') {
        Some(index) => &authority[index + 1..],
        None => authority,
    }
}

/// Splits `host[:port]` or `[v6][:port]` (or a bare IPv6 address). `None` when the port
/// is not a number in 0..=65535 or the host is empty.
fn split_host_port(authority: &str) -> Option<HostPort> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let close = rest.find(']')?;
        let host = &rest[..close];
        let after = &rest[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return None,
        };
        (host, port)
    } else if authority.matches(':').count() > 1 {
        // A bare IPv6 address has no port.
        (authority, None)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok()?),
        None => None,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    Some(HostPort { host, port })
}

/// Whether `host` equals `entry` or ends with `.entry`.
fn domain_matches(host: &str, entry: &str) -> bool {
    host == entry
        || host
            .strip_suffix(entry)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// A compiled exclusion list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExclusionList {
    /// Every host is excluded (the list held only `*`).
    all: bool,
    /// The usable entries (wildcards and unparsable entries dropped).
    entries: Vec<HostPort>,
}

impl ExclusionList {
    /// Compiles the entries of an exclusion list. Empty entries and entries that are
    /// not a host (an unparsable port) are ignored, with a debug log.
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Self {
        let trimmed: Vec<&str> = entries
            .iter()
            .map(|entry| entry.as_ref().trim())
            .filter(|entry| !entry.is_empty())
            .collect();
        let all = !trimmed.is_empty() && trimmed.iter().all(|entry| *entry == "*");
        let entries = trimmed
            .iter()
            .filter(|entry| **entry != "*")
            .filter_map(|entry| {
                let parsed = split_host_port(authority_of(entry));
                if parsed.is_none() {
                    tracing::debug!(entry, "ignoring an exclusion entry that is not a host");
                }
                parsed
            })
            .collect();
        Self { all, entries }
    }

    /// Whether the list excludes every host (it held only `*`).
    pub fn excludes_everything(&self) -> bool {
        self.all
    }

    /// Whether the host of `url` (a URL, `host:port` or a bare host; protocol prefixes
    /// are ignored) is excluded, i.e. bypasses the proxy. A URL without a usable host
    /// is excluded only when the list excludes everything.
    pub fn is_excluded(&self, url: &str) -> bool {
        if self.all {
            return true;
        }
        let Some(target) = split_host_port(authority_of(url)) else {
            return false;
        };
        let target_ip = target.host.parse::<IpAddr>().ok();
        self.entries.iter().any(|entry| {
            if entry.port.is_some() && entry.port != target.port {
                return false;
            }
            match (entry.host.parse::<IpAddr>(), target_ip) {
                (Ok(entry_ip), Some(target_ip)) => entry_ip == target_ip,
                (Ok(_), None) => false,
                (Err(_), Some(_)) => entry.host == target.host,
                (Err(_), None) => domain_matches(&target.host, &entry.host),
            }
        })
    }
}

/// Whether a request to `url` goes through `proxy`: `false` when the URL's host is in
/// the proxy's exclusion list (seed 001 rules, see the [module docs](self)).
pub fn uses_proxy(proxy: &HttpProxy, url: &str) -> bool {
    !ExclusionList::new(&proxy.exclusion_list).is_excluded(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> ExclusionList {
        ExclusionList::new(entries)
    }

    #[test]
    fn seed_partial_match_example() {
        let l = list(&["ample.com"]);
        assert!(l.is_excluded("ample.com"));
        assert!(l.is_excluded("www.ample.com"));
        assert!(l.is_excluded("ample.com:80"));
        assert!(!l.is_excluded("www.example.com"));
        assert!(!l.is_excluded("ample.com.org"));
    }

    #[test]
    fn protocol_prefixes_and_case_are_ignored() {
        let l = list(&["HTTPS://Ample.COM"]);
        assert!(l.is_excluded("http://WWW.ample.com/path?q=1"));
        assert!(l.is_excluded("https://ample.com:443/"));
        assert!(l.is_excluded("ftp://user:pw@ample.com"));
        assert!(!l.is_excluded("http://example.com/ample.com"));
    }

    #[test]
    fn ip_addresses_match_exactly() {
        let l = list(&["192.168.1.1", "::1", "192.168"]);
        assert!(l.is_excluded("http://192.168.1.1:8080/"));
        assert!(!l.is_excluded("192.168.1.10"));
        assert!(!l.is_excluded("10.192.168.1.1"));
        assert!(l.is_excluded("http://[::1]:80/"));
        assert!(l.is_excluded("[0:0::1]"));
        // "192.168" is not an address: it never matches an address partially.
        assert!(!l.is_excluded("10.0.192.168"));
    }

    #[test]
    fn a_lone_wildcard_disables_the_proxy() {
        assert!(list(&["*"]).is_excluded("anything.example"));
        assert!(list(&["*", " * "]).excludes_everything());
        assert!(list(&["*"]).is_excluded("http://10.0.0.1/"));
    }

    #[test]
    fn a_wildcard_among_other_entries_has_no_effect() {
        let l = list(&["*", "ample.com"]);
        assert!(!l.excludes_everything());
        assert!(!l.is_excluded("example.org"));
        assert!(l.is_excluded("www.ample.com"));
        assert!(!list(&["*.ample.com"]).is_excluded("www.ample.com"));
    }

    #[test]
    fn entry_ports_must_match() {
        let l = list(&["ample.com:8080"]);
        assert!(l.is_excluded("http://www.ample.com:8080/"));
        assert!(!l.is_excluded("http://www.ample.com/"));
        assert!(!l.is_excluded("ample.com:80"));
    }

    #[test]
    fn empty_lists_and_entries_exclude_nothing() {
        assert!(!list(&[]).is_excluded("ample.com"));
        assert!(!list(&["", "  "]).is_excluded("ample.com"));
        assert!(!list(&["ample.com:99999"]).is_excluded("ample.com"));
    }

    #[test]
    fn uses_proxy_reads_the_proxys_list() {
        let proxy = HttpProxy::new("proxy.corp", 3128, vec!["ample.com".into()]).unwrap();
        assert!(!uses_proxy(&proxy, "https://www.ample.com/"));
        assert!(uses_proxy(&proxy, "https://www.example.com/"));
    }
}
