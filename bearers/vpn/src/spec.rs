//! What a VPN app asks for ([`VpnSpec`]), its checks, and the apps a VPN covers
//! ([`CoveredApps`]).

use std::collections::BTreeSet;
use std::net::IpAddr;

use netcore::{AppId, Error, LinkAddress, Result};
use serde::{Deserialize, Serialize};

/// Smallest MTU a VPN may have (IPv4's minimum datagram size).
pub const MIN_MTU: u32 = 576;
/// Largest MTU a VPN may have.
pub const MAX_MTU: u32 = 65_535;
/// Smallest MTU of a VPN with IPv6 addresses or routes (IPv6's minimum link MTU).
pub const MIN_IPV6_MTU: u32 = 1280;
/// Most addresses of one VPN.
pub const MAX_ADDRESSES: usize = 64;
/// Most routes of one VPN.
pub const MAX_ROUTES: usize = netcore::bearer::MAX_LIST_LEN;
/// Most DNS servers of one VPN.
pub const MAX_DNS: usize = 16;
/// Most uids in an allowed or disallowed list.
pub const MAX_APPS: usize = 4096;
/// Longest Linux interface name, in bytes.
pub const MAX_INTERFACE_NAME_LEN: usize = 15;

/// What a VPN app asks for when it establishes a VPN: the tunnel's addresses,
/// routes, DNS servers and MTU, and the apps it covers.
///
/// [`VpnSpec::check`] refuses a bad spec with [`Error::InvalidValue`] (2100001).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct VpnSpec {
    /// The tunnel's own addresses; at least one, at most [`MAX_ADDRESSES`].
    pub addresses: Vec<LinkAddress>,
    /// Destinations routed into the tunnel (`address`, prefix length), with no host
    /// bits set; at most [`MAX_ROUTES`].
    pub routes: Vec<(IpAddr, u8)>,
    /// DNS servers of the VPN network; at most [`MAX_DNS`].
    pub dns: Vec<IpAddr>,
    /// The tunnel's MTU, [`MIN_MTU`]..=[`MAX_MTU`] ([`MIN_IPV6_MTU`] at least with
    /// IPv6).
    pub mtu: u32,
    /// When not empty, only these apps (uids) use the VPN.
    pub allowed_apps: Vec<u32>,
    /// When not empty, every app but these (uids) uses the VPN. Not together with
    /// `allowed_apps`.
    pub disallowed_apps: Vec<u32>,
    /// The interface name (at most 15 bytes, no `/`, `:`, `%` or white space); `None`
    /// lets netcore pick one (`vpn0`, `vpn1`, ... with the default configuration).
    pub name: Option<String>,
}

impl VpnSpec {
    /// A spec with one address, MTU 1500 and nothing else.
    pub fn new(address: LinkAddress) -> Self {
        Self {
            addresses: vec![address],
            routes: Vec::new(),
            dns: Vec::new(),
            mtu: 1500,
            allowed_apps: Vec::new(),
            disallowed_apps: Vec::new(),
            name: None,
        }
    }

    /// Checks every field: [`Error::InvalidValue`] (2100001) naming what is wrong.
    pub fn check(&self) -> Result<()> {
        if self.addresses.is_empty() {
            return Err(invalid("a VPN needs at least one address"));
        }
        check_len("addresses", self.addresses.len(), MAX_ADDRESSES)?;
        check_len("routes", self.routes.len(), MAX_ROUTES)?;
        check_len("DNS servers", self.dns.len(), MAX_DNS)?;
        check_len("allowed apps", self.allowed_apps.len(), MAX_APPS)?;
        check_len("disallowed apps", self.disallowed_apps.len(), MAX_APPS)?;

        let mut seen = BTreeSet::new();
        for address in &self.addresses {
            let ip = address.address().ip();
            if !is_unicast(ip) {
                return Err(invalid(format!("address {ip} is not a unicast address")));
            }
            if !seen.insert(ip) {
                return Err(invalid(format!("address {ip} is given twice")));
            }
        }
        let mut seen = BTreeSet::new();
        for &(destination, prefix_len) in &self.routes {
            let max = if destination.is_ipv4() { 32 } else { 128 };
            if prefix_len > max {
                return Err(invalid(format!(
                    "route {destination}/{prefix_len}: prefix length is outside 0..={max}"
                )));
            }
            if !host_bits_clear(destination, prefix_len) {
                return Err(invalid(format!(
                    "route {destination}/{prefix_len} has host bits set"
                )));
            }
            if !seen.insert((destination, prefix_len)) {
                return Err(invalid(format!(
                    "route {destination}/{prefix_len} is given twice"
                )));
            }
        }
        for &server in &self.dns {
            if !is_unicast(server) {
                return Err(invalid(format!(
                    "DNS server {server} is not a unicast address"
                )));
            }
        }
        if !(MIN_MTU..=MAX_MTU).contains(&self.mtu) {
            return Err(invalid(format!(
                "MTU {} is outside {MIN_MTU}..={MAX_MTU}",
                self.mtu
            )));
        }
        let has_ipv6 = self.addresses.iter().any(|a| a.address().ip().is_ipv6())
            || self.routes.iter().any(|(d, _)| d.is_ipv6());
        if has_ipv6 && self.mtu < MIN_IPV6_MTU {
            return Err(invalid(format!(
                "MTU {} is below {MIN_IPV6_MTU}, the minimum for IPv6",
                self.mtu
            )));
        }
        if !self.allowed_apps.is_empty() && !self.disallowed_apps.is_empty() {
            return Err(invalid(
                "a VPN has either allowed apps or disallowed apps, not both",
            ));
        }
        if let Some(name) = &self.name {
            check_interface_name(name)?;
        }
        Ok(())
    }

    /// The apps this spec covers.
    pub fn covered_apps(&self) -> CoveredApps {
        if !self.allowed_apps.is_empty() {
            CoveredApps::Only(self.allowed_apps.iter().copied().collect())
        } else if !self.disallowed_apps.is_empty() {
            CoveredApps::AllExcept(self.disallowed_apps.iter().copied().collect())
        } else {
            CoveredApps::All
        }
    }
}

/// The apps (uids) whose traffic a VPN carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoveredApps {
    /// Every app.
    All,
    /// Only these apps (the spec's allowed apps).
    Only(BTreeSet<u32>),
    /// Every app but these (the spec's disallowed apps).
    AllExcept(BTreeSet<u32>),
}

impl CoveredApps {
    /// Whether `app` uses the VPN.
    pub fn covers(&self, app: AppId) -> bool {
        let uid = app.uid();
        match self {
            Self::All => true,
            Self::Only(apps) => apps.contains(&uid),
            Self::AllExcept(apps) => !apps.contains(&uid),
        }
    }
}

/// Checks a Linux interface name: 1..=15 bytes of ASCII letters, digits, `-`, `_` and `.`, not `.` or `..`.
pub(crate) fn check_interface_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_INTERFACE_NAME_LEN
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "interface name {name:?} is not 1 to {MAX_INTERFACE_NAME_LEN} letters, digits, '-', '_' or '.'"
        )))
    }
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::invalid(format!("VPN spec: {}", detail.into()))
}

fn check_len(what: &str, len: usize, max: usize) -> Result<()> {
    if len > max {
        return Err(invalid(format!("{len} {what}, more than {max}")));
    }
    Ok(())
}

fn is_unicast(ip: IpAddr) -> bool {
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    !(ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() || broadcast)
}

fn host_bits_clear(ip: IpAddr, prefix_len: u8) -> bool {
    let len = u32::from(prefix_len);
    match ip {
        IpAddr::V4(v4) => u32::from(v4) & u32::MAX.checked_shr(len).unwrap_or(0) == 0,
        IpAddr::V6(v6) => u128::from(v6) & u128::MAX.checked_shr(len).unwrap_or(0) == 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn spec() -> VpnSpec {
        let mut spec = VpnSpec::new(LinkAddress::new(ip("10.99.0.1"), 24).unwrap());
        spec.routes = vec![(ip("10.98.0.0"), 24), (ip("0.0.0.0"), 0)];
        spec.dns = vec![ip("10.99.0.53")];
        spec
    }

    fn refused(change: impl FnOnce(&mut VpnSpec), needle: &str) {
        let mut s = spec();
        change(&mut s);
        let e = s.check().unwrap_err();
        assert_eq!(e.code(), 2_100_001, "{e}");
        assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
    }

    #[test]
    fn a_good_spec_passes() {
        spec().check().unwrap();
        let mut v6 = spec();
        v6.addresses
            .push(LinkAddress::new(ip("fd00::1"), 64).unwrap());
        v6.routes.push((ip("fd01::"), 64));
        v6.routes.push((ip("10.97.0.7"), 32));
        v6.mtu = 1280;
        v6.name = Some("tun-vpn.1".into());
        v6.check().unwrap();
    }

    #[test]
    fn each_refusal_is_2100001() {
        refused(|s| s.addresses.clear(), "at least one address");
        refused(
            |s| {
                s.addresses = (0..=MAX_ADDRESSES as u32)
                    .map(|i| {
                        LinkAddress::new(IpAddr::from([10, 0, (i >> 8) as u8, i as u8]), 32)
                            .unwrap()
                    })
                    .collect()
            },
            "addresses, more than",
        );
        refused(
            |s| {
                s.addresses
                    .push(LinkAddress::new(ip("0.0.0.0"), 8).unwrap())
            },
            "not a unicast",
        );
        refused(
            |s| {
                s.addresses
                    .push(LinkAddress::new(ip("224.0.0.1"), 8).unwrap())
            },
            "not a unicast",
        );
        refused(
            |s| {
                s.addresses
                    .push(LinkAddress::new(ip("10.99.0.1"), 16).unwrap())
            },
            "twice",
        );
        refused(|s| s.routes.push((ip("10.0.0.0"), 33)), "prefix length");
        refused(|s| s.routes.push((ip("fd00::"), 129)), "prefix length");
        refused(|s| s.routes.push((ip("10.98.0.5"), 24)), "host bits");
        refused(|s| s.routes.push((ip("10.98.0.0"), 24)), "twice");
        refused(
            |s| s.routes = vec![(ip("10.0.0.0"), 32); MAX_ROUTES + 1],
            "routes, more than",
        );
        refused(|s| s.dns.push(ip("255.255.255.255")), "DNS server");
        refused(|s| s.dns = vec![ip("10.0.0.1"); MAX_DNS + 1], "DNS servers");
        refused(|s| s.mtu = 575, "MTU 575");
        refused(|s| s.mtu = 65_536, "MTU 65536");
        refused(
            |s| {
                s.routes.push((ip("fd00::"), 8));
                s.mtu = 1279;
            },
            "minimum for IPv6",
        );
        refused(
            |s| {
                s.allowed_apps = vec![1];
                s.disallowed_apps = vec![2];
            },
            "not both",
        );
        refused(|s| s.allowed_apps = vec![1; MAX_APPS + 1], "allowed apps");
        refused(
            |s| s.disallowed_apps = vec![1; MAX_APPS + 1],
            "disallowed apps",
        );
        for bad in ["", "a/b", "a b", "sixteen-bytes-xx", "..", "tun%d", "é"] {
            refused(|s| s.name = Some(bad.into()), "interface name");
        }
    }

    #[test]
    fn covered_apps() {
        let mut s = spec();
        assert_eq!(s.covered_apps(), CoveredApps::All);
        assert!(s.covered_apps().covers(AppId::from_uid(10_000)));
        s.allowed_apps = vec![10_001, 10_002];
        assert!(s.covered_apps().covers(AppId::from_uid(10_001)));
        assert!(!s.covered_apps().covers(AppId::from_uid(10_000)));
        s.allowed_apps.clear();
        s.disallowed_apps = vec![10_001];
        assert!(!s.covered_apps().covers(AppId::from_uid(10_001)));
        assert!(s.covered_apps().covers(AppId::from_uid(10_000)));
    }

    proptest::proptest! {
        /// Any addresses, routes, MTU and lists: `check` answers without panicking,
        /// and whatever it accepts keeps the documented bounds.
        #[test]
        fn check_never_panics(
            v4 in proptest::collection::vec((proptest::num::u32::ANY, 0u8..=40), 0..4),
            routes in proptest::collection::vec((proptest::num::u32::ANY, proptest::num::u8::ANY), 0..4),
            mtu in proptest::num::u32::ANY,
            allowed in proptest::collection::vec(proptest::num::u32::ANY, 0..3),
            disallowed in proptest::collection::vec(proptest::num::u32::ANY, 0..3),
            name in "[a-z0-9%/ .-]{0,20}",
        ) {
            let spec = VpnSpec {
                addresses: v4
                    .iter()
                    .filter_map(|&(a, len)| LinkAddress::new(IpAddr::from(a.to_be_bytes()), i64::from(len)).ok())
                    .collect(),
                routes: routes.iter().map(|&(a, len)| (IpAddr::from(a.to_be_bytes()), len)).collect(),
                dns: Vec::new(),
                mtu,
                allowed_apps: allowed,
                disallowed_apps: disallowed,
                name: Some(name),
            };
            match spec.check() {
                Ok(()) => {
                    proptest::prop_assert!(!spec.addresses.is_empty());
                    proptest::prop_assert!((MIN_MTU..=MAX_MTU).contains(&spec.mtu));
                    proptest::prop_assert!(spec.routes.iter().all(|&(_, len)| len <= 32));
                    proptest::prop_assert!(spec.allowed_apps.is_empty() || spec.disallowed_apps.is_empty());
                }
                Err(e) => proptest::prop_assert_eq!(e.code(), 2_100_001),
            }
        }
    }

    #[test]
    fn spec_crosses_as_json_and_refuses_unknown_fields() {
        let s = spec();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(serde_json::from_value::<VpnSpec>(json.clone()).unwrap(), s);
        let mut extra = json;
        extra["bogus"] = serde_json::json!(1);
        assert!(serde_json::from_value::<VpnSpec>(extra).is_err());
    }
}
