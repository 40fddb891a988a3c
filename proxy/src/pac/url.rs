//! Preparing a URL for `FindProxyForURL(url, host)`.

use netcore::{Error, Result};

/// The longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// The arguments a PAC script gets for one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptUrl {
    /// The URL the script sees: without user information or fragment; for `https` and
    /// `wss` only `scheme://host:port/` (no path, no query), so the script cannot read
    /// secrets in paths of encrypted requests.
    pub url: String,
    /// The host, lower case, IPv6 without brackets.
    pub host: String,
}

/// Prepares `url` (`scheme://[user@]host[:port][/path][?query][#fragment]`) for the
/// script. A URL that is too long, has no `scheme://`, an empty host or a bad port is
/// refused with 2100001.
pub fn prepare_url(url: &str) -> Result<ScriptUrl> {
    let url = url.trim();
    if url.len() > MAX_URL_BYTES {
        return Err(Error::invalid(format!(
            "the URL is longer than {MAX_URL_BYTES} bytes"
        )));
    }
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(Error::invalid("the URL has blanks or control characters"));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Error::invalid(format!("{url:?} is not an absolute URL")))?;
    let scheme_valid = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_valid {
        return Err(Error::invalid(format!("{url:?} has no valid scheme")));
    }
    let scheme = scheme.to_ascii_lowercase();
    let rest = rest.split('#').next().unwrap_or_default();
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| Error::invalid(format!("{url:?}: no closing ] in the host")))?;
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| Error::invalid(format!("{url:?}: bad IPv6 address")))?;
        let port =
            match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| {
                    Error::invalid(format!("{url:?}: junk after the IPv6 address"))
                })?),
            };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(port) => Some(
            port.parse::<u16>()
                .map_err(|_| Error::invalid(format!("{url:?}: bad port")))?,
        ),
    };
    if host.is_empty() {
        return Err(Error::invalid(format!("{url:?} has no host")));
    }
    let host = host.to_ascii_lowercase();
    let bracketed = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let url = match scheme.as_str() {
        "https" | "wss" => format!("{scheme}://{bracketed}:{}/", port.unwrap_or(443)),
        _ => {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let path = if path.is_empty() { "/" } else { path };
            let path = if path.starts_with('?') {
                format!("/{path}")
            } else {
                path.to_owned()
            };
            format!("{scheme}://{bracketed}{port}{path}")
        }
    };
    Ok(ScriptUrl { url, host })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(url: &str) -> (String, String) {
        let p = prepare_url(url).unwrap();
        (p.url, p.host)
    }

    #[test]
    fn https_and_wss_are_stripped() {
        assert_eq!(
            prepared("https://user:pw@Www.Example.com/secret/path?token=1#frag"),
            (
                "https://www.example.com:443/".into(),
                "www.example.com".into()
            )
        );
        assert_eq!(
            prepared("wss://chat.example.com:8443/socket?id=2"),
            (
                "wss://chat.example.com:8443/".into(),
                "chat.example.com".into()
            )
        );
        assert_eq!(
            prepared("HTTPS://[2001:DB8::1]/x"),
            ("https://[2001:db8::1]:443/".into(), "2001:db8::1".into())
        );
    }

    #[test]
    fn http_keeps_path_and_query_but_not_credentials() {
        assert_eq!(
            prepared("http://u:p@example.com:8080/a/b?c=d#e"),
            (
                "http://example.com:8080/a/b?c=d".into(),
                "example.com".into()
            )
        );
        assert_eq!(prepared("http://example.com").0, "http://example.com/");
        assert_eq!(prepared("ftp://example.com?x").0, "ftp://example.com/?x");
    }

    #[test]
    fn refuses_bad_urls_with_2100001() {
        for bad in [
            "example.com",
            "://example.com",
            "1http://example.com",
            "http://",
            "http://:80/",
            "http://host:99999/",
            "http://host:x/",
            "http://[::1/",
            "http://[::1]x/",
            "http://exa mple.com/",
        ] {
            assert_eq!(prepare_url(bad).unwrap_err().code(), 2_100_001, "{bad:?}");
        }
        let long = format!("http://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert_eq!(prepare_url(&long).unwrap_err().code(), 2_100_001);
    }
}
