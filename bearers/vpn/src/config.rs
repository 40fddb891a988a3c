//! The bearer's configuration (its section in netcore's configuration).

use netcore::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::spec::{MAX_INTERFACE_NAME_LEN, check_interface_name};

/// Most VPNs the `max_tunnels` setting may allow.
pub const MAX_TUNNELS_LIMIT: usize = 1024;

/// How the VPN bearer names and limits tunnels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct VpnConfig {
    /// Names of tunnels whose spec names none: the kernel appends the first free
    /// number (`vpn0`, `vpn1`, ...). At most 13 bytes.
    pub name_prefix: String,
    /// Most VPNs at once, over all apps (1..=1024).
    pub max_tunnels: usize,
    /// Most VPNs at once of one app (1..=`max_tunnels`).
    pub max_tunnels_per_app: usize,
    /// Whether a VPN's routes go into the kernel's main table, for every app (the
    /// default). netcored's manage mode turns it off: its policy routing puts them
    /// in the VPN's own table, which only the apps the VPN covers use.
    pub routes_in_main_table: bool,
}

impl Default for VpnConfig {
    fn default() -> Self {
        Self {
            name_prefix: "vpn".into(),
            max_tunnels: 64,
            max_tunnels_per_app: 4,
            routes_in_main_table: true,
        }
    }
}

impl VpnConfig {
    /// The configuration from its JSON form (`null` for the defaults), checked.
    pub fn from_value(value: serde_json::Value) -> Result<Self> {
        netcore::bearer::config_from_value("vpn", value, Self::check)
    }

    /// Checks every field; errors are [`Error::InvalidValue`] naming the field.
    pub fn check(&self) -> Result<()> {
        let bad = |what: String| Err(Error::invalid(format!("vpn configuration: {what}")));
        // Room for the kernel's number ("%d" becomes up to 2 digits in practice).
        if self.name_prefix.len() > MAX_INTERFACE_NAME_LEN - 2 {
            return bad(format!(
                "name_prefix {:?} is longer than {} bytes",
                self.name_prefix,
                MAX_INTERFACE_NAME_LEN - 2
            ));
        }
        if let Err(e) = check_interface_name(&self.name_prefix) {
            return bad(format!("name_prefix: {e}"));
        }
        if !(1..=MAX_TUNNELS_LIMIT).contains(&self.max_tunnels) {
            return bad(format!(
                "max_tunnels {} is outside 1..={MAX_TUNNELS_LIMIT}",
                self.max_tunnels
            ));
        }
        if !(1..=self.max_tunnels).contains(&self.max_tunnels_per_app) {
            return bad(format!(
                "max_tunnels_per_app {} is outside 1..={}",
                self.max_tunnels_per_app, self.max_tunnels
            ));
        }
        Ok(())
    }

    /// The name pattern handed to the kernel for unnamed tunnels (`vpn%d`).
    pub(crate) fn name_pattern(&self) -> String {
        format!("{}%d", self.name_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_refusals() {
        assert_eq!(
            VpnConfig::from_value(serde_json::Value::Null).unwrap(),
            VpnConfig::default()
        );
        let c = VpnConfig::from_value(
            json!({"name_prefix": "tun", "max_tunnels": 2, "max_tunnels_per_app": 1}),
        )
        .unwrap();
        assert_eq!(c.name_pattern(), "tun%d");
        assert_eq!((c.max_tunnels, c.max_tunnels_per_app), (2, 1));
        for bad in [
            json!({"prefix": "x"}),
            json!({"name_prefix": ""}),
            json!({"name_prefix": "a/b"}),
            json!({"name_prefix": "fourteen-bytes"}),
            json!({"max_tunnels": 0}),
            json!({"max_tunnels": 5000}),
            json!({"max_tunnels": 2, "max_tunnels_per_app": 3}),
            json!({"max_tunnels_per_app": 0}),
            json!([1]),
        ] {
            let e = VpnConfig::from_value(bad.clone()).unwrap_err();
            assert_eq!(e.code(), 2_100_001, "{bad}: {e}");
        }
    }
}
