//! Custom DNS rules per application (seed `addCustomDnsRule`, `removeCustomDnsRule`,
//! `clearCustomDnsRules`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use netcore::{AppId, Error, Result};

use crate::idn::lookup_form;

/// The most hosts one application may have rules for.
pub const MAX_RULES_PER_APP: usize = 1024;
/// The most addresses one rule may map a host to.
pub const MAX_ADDRESSES_PER_RULE: usize = 64;

/// The rules of every application: host (lookup form) to addresses.
#[derive(Debug, Default)]
pub(crate) struct RuleTable {
    by_app: HashMap<AppId, HashMap<String, Arc<[IpAddr]>>>,
}

impl RuleTable {
    /// Validates a rule and returns its key and addresses without storing it.
    pub(crate) fn parse<S: AsRef<str>>(host: &str, ips: &[S]) -> Result<(String, Arc<[IpAddr]>)> {
        if host.trim().is_empty() {
            return Err(Error::Parameter(
                "the host of a custom DNS rule is empty".into(),
            ));
        }
        if ips.is_empty() {
            return Err(Error::Parameter(format!(
                "the custom DNS rule for {host:?} has no IP address"
            )));
        }
        if ips.len() > MAX_ADDRESSES_PER_RULE {
            return Err(Error::invalid(format!(
                "the custom DNS rule for {host:?} has {} addresses, more than {MAX_ADDRESSES_PER_RULE}",
                ips.len()
            )));
        }
        let key = lookup_form(host)?;
        let mut addresses = Vec::with_capacity(ips.len());
        for ip in ips {
            let ip = ip.as_ref();
            let parsed: IpAddr = ip.trim().parse().map_err(|_| {
                Error::invalid(format!(
                    "{ip:?} in the custom DNS rule for {host:?} is not an IP address"
                ))
            })?;
            if !addresses.contains(&parsed) {
                addresses.push(parsed);
            }
        }
        Ok((key, addresses.into()))
    }

    /// Adds (or replaces) `app`'s rule for `key`.
    pub(crate) fn insert(&mut self, app: AppId, key: String, ips: Arc<[IpAddr]>) -> Result<()> {
        let rules = self.by_app.entry(app).or_default();
        if rules.len() >= MAX_RULES_PER_APP && !rules.contains_key(&key) {
            return Err(Error::invalid(format!(
                "{app} already has {MAX_RULES_PER_APP} custom DNS rules"
            )));
        }
        rules.insert(key, ips);
        Ok(())
    }

    /// Removes `app`'s rule for `key`; whether there was one.
    pub(crate) fn remove(&mut self, app: AppId, key: &str) -> bool {
        let Some(rules) = self.by_app.get_mut(&app) else {
            return false;
        };
        let removed = rules.remove(key).is_some();
        if rules.is_empty() {
            self.by_app.remove(&app);
        }
        removed
    }

    /// Removes all of `app`'s rules.
    pub(crate) fn clear(&mut self, app: AppId) {
        self.by_app.remove(&app);
    }

    /// `app`'s rule for `key`.
    pub(crate) fn get(&self, app: AppId, key: &str) -> Option<Arc<[IpAddr]>> {
        self.by_app.get(&app)?.get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_refuses_bad_rules_with_seed_codes() {
        assert_eq!(RuleTable::parse("", &["1.2.3.4"]).unwrap_err().code(), 401);
        let none: [&str; 0] = [];
        assert_eq!(RuleTable::parse("a.com", &none).unwrap_err().code(), 401);
        assert_eq!(
            RuleTable::parse("a.com", &["1.2.3"]).unwrap_err().code(),
            2_100_001
        );
        assert_eq!(
            RuleTable::parse("a..com", &["1.2.3.4"]).unwrap_err().code(),
            2_100_001
        );
        let (key, ips) = RuleTable::parse("A.Com.", &["1.2.3.4", "::1", "1.2.3.4"]).unwrap();
        assert_eq!(key, "a.com");
        assert_eq!(
            &*ips,
            &["1.2.3.4".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]
        );
    }
}
