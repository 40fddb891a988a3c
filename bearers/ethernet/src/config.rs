//! The Ethernet bearer's configuration.

use std::collections::BTreeMap;
use std::net::IpAddr;

use netcore::{Error, LinkAddress};
use serde::{Deserialize, Serialize};

use crate::pattern::InterfaceFilter;

/// The most per-interface sections, DNS servers or domains accepted.
pub const MAX_ENTRIES: usize = 64;

/// Which interfaces the bearer reports, and what it adds to their properties.
///
/// In JSON (every field optional):
/// ```json
/// {
///   "allow": ["eth*", "en*", "veth*"],
///   "deny": ["docker*"],
///   "interfaces": {
///     "eth0": {
///       "dns": ["192.0.2.53"],
///       "domains": ["example.net"],
///       "ipv4": { "address": "192.0.2.10", "prefix_length": 24, "gateway": "192.0.2.1" }
///     }
///   }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct EthernetConfig {
    /// Interface name patterns (`*`, `?`) the bearer may report; default `["*"]`.
    pub allow: Vec<String>,
    /// Patterns never reported, even when allowed; default: container and VM bridges
    /// (`docker*`, `br-*`, `virbr*`).
    pub deny: Vec<String>,
    /// Per-interface settings, by exact interface name.
    pub interfaces: BTreeMap<String, InterfaceConfig>,
}

impl Default for EthernetConfig {
    fn default() -> Self {
        Self {
            allow: vec!["*".into()],
            deny: vec!["docker*".into(), "br-*".into(), "virbr*".into()],
            interfaces: BTreeMap::new(),
        }
    }
}

/// Settings for one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct InterfaceConfig {
    /// DNS servers reported for the interface's network.
    pub dns: Vec<IpAddr>,
    /// Search domains reported for the network.
    pub domains: Vec<String>,
    /// Static IPv4 configuration.
    pub ipv4: Option<StaticIp>,
    /// Static IPv6 configuration.
    pub ipv6: Option<StaticIp>,
    /// The quality (0 to 100) to report for this network: among wired networks the
    /// higher one is preferred as the default (with the engine's hysteresis).
    pub quality: Option<u8>,
}

/// A static address with its prefix and an optional default gateway.
///
/// The bearer reports it in the network's properties (the address, and a default
/// route via the gateway) alongside what the kernel has. Programming it onto the
/// interface is left to a managing component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticIp {
    /// The address.
    pub address: IpAddr,
    /// The prefix length (at most 32 for IPv4, 128 for IPv6).
    pub prefix_length: u8,
    /// The default gateway, of the same family.
    #[serde(default)]
    pub gateway: Option<IpAddr>,
}

impl StaticIp {
    /// The address as a [`LinkAddress`], checking the prefix length.
    pub fn link_address(&self) -> Result<LinkAddress, Error> {
        LinkAddress::new(self.address, i64::from(self.prefix_length))
    }
}

impl EthernetConfig {
    /// Parses a JSON configuration and checks it ([`EthernetConfig::check`]).
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let config: Self = serde_json::from_str(text)
            .map_err(|e| Error::invalid(format!("ethernet configuration: {e}")))?;
        config.check()?;
        Ok(config)
    }

    /// Checks every pattern and per-interface section; returns the interface filter.
    /// Errors are [`Error::InvalidValue`] naming the interface and the field.
    pub fn check(&self) -> Result<InterfaceFilter, Error> {
        let filter = InterfaceFilter::new(&self.allow, &self.deny)?;
        if self.interfaces.len() > MAX_ENTRIES {
            return Err(Error::invalid(format!(
                "ethernet configuration: {} interface sections, at most {MAX_ENTRIES}",
                self.interfaces.len()
            )));
        }
        for (name, section) in &self.interfaces {
            let bad = |what: String| {
                Err(Error::invalid(format!(
                    "ethernet interface {name:?}: {what}"
                )))
            };
            if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
                return bad(
                    "is not a valid interface name (1 to 15 bytes, no '/' or spaces)".into(),
                );
            }
            if let Some(q) = section.quality.filter(|&q| q > 100) {
                return bad(format!("quality {q} is over 100"));
            }
            if section.dns.len() > MAX_ENTRIES || section.domains.len() > MAX_ENTRIES {
                return bad(format!("more than {MAX_ENTRIES} DNS servers or domains"));
            }
            if let Some(d) = section
                .domains
                .iter()
                .find(|d| d.is_empty() || d.contains([',', ' ']))
            {
                return bad(format!("domain {d:?} is empty or has ',' or spaces"));
            }
            for (family, static_ip, v4) in [
                ("ipv4", &section.ipv4, true),
                ("ipv6", &section.ipv6, false),
            ] {
                let Some(s) = static_ip else { continue };
                if s.address.is_ipv4() != v4 {
                    return bad(format!(
                        "{family}.address {} is not an {family} address",
                        s.address
                    ));
                }
                if let Some(g) = s.gateway
                    && g.is_ipv4() != v4
                {
                    return bad(format!("{family}.gateway {g} is not an {family} address"));
                }
                if let Err(e) = s.link_address() {
                    return bad(format!("{family}: {e}"));
                }
            }
        }
        Ok(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_allow_all_but_container_bridges() {
        let filter = EthernetConfig::default().check().unwrap();
        assert!(filter.admits("eth0"));
        assert!(filter.admits("veth1"));
        assert!(!filter.admits("docker0"));
        assert!(!filter.admits("br-1234"));
        assert_eq!(
            EthernetConfig::from_json("{}").unwrap(),
            EthernetConfig::default()
        );
    }

    #[test]
    fn quality_is_at_most_100() {
        let err =
            EthernetConfig::from_json(r#"{"interfaces":{"eth0":{"quality":101}}}"#).unwrap_err();
        assert_eq!(err.code(), 2100001);
        assert!(err.to_string().contains("quality 101"), "{err}");
    }

    #[test]
    fn full_config_parses() {
        let config = EthernetConfig::from_json(
            r#"{"allow":["e*"],"deny":["e9"],"interfaces":{"eth0":{"dns":["192.0.2.53","2001:db8::53"],
               "domains":["example.net"],
               "ipv4":{"address":"192.0.2.10","prefix_length":24,"gateway":"192.0.2.1"},
               "ipv6":{"address":"2001:db8::10","prefix_length":64}}}}"#,
        )
        .unwrap();
        let eth0 = &config.interfaces["eth0"];
        assert_eq!(eth0.dns.len(), 2);
        assert_eq!(
            eth0.ipv4.as_ref().unwrap().gateway,
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(eth0.ipv6.as_ref().unwrap().prefix_length, 64);
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        for (json, why) in [
            (r#"{"allow":["eth[0]"]}"#, "eth[0]"),
            (r#"{"deny":[""]}"#, "is empty"),
            (r#"{"alow":["*"]}"#, "unknown field"),
            (
                r#"{"interfaces":{"eth0":{"dns":["not-an-ip"]}}}"#,
                "invalid IP address",
            ),
            (
                r#"{"interfaces":{"eth0":{"ipv4":{"address":"2001:db8::1","prefix_length":64}}}}"#,
                "not an ipv4",
            ),
            (
                r#"{"interfaces":{"eth0":{"ipv4":{"address":"192.0.2.1","prefix_length":33}}}}"#,
                "prefix length 33",
            ),
            (
                r#"{"interfaces":{"eth0":{"ipv6":{"address":"2001:db8::1","prefix_length":64,"gateway":"192.0.2.1"}}}}"#,
                "ipv6.gateway",
            ),
            (
                r#"{"interfaces":{"an/interface":{}}}"#,
                "not a valid interface name",
            ),
            (r#"{"interfaces":{"eth0":{"domains":["a,b"]}}}"#, "domain"),
            ("[1,2]", "ethernet configuration"),
        ] {
            let e = EthernetConfig::from_json(json).unwrap_err();
            assert_eq!(e.code(), 2_100_001, "{json}");
            assert!(e.to_string().contains(why), "{json}: {e}");
        }
    }
}
