//! The Bluetooth bearer's configuration.

use std::net::IpAddr;
use std::time::Duration;

use netcore::Error;
use serde::{Deserialize, Serialize};

/// The most DNS servers accepted.
pub const MAX_DNS: usize = 64;
/// The longest D-Bus address accepted, in bytes.
pub const MAX_ADDRESS_LEN: usize = 1024;

/// How the bearer connects PAN devices and what it adds to their networks.
///
/// In JSON (every field optional):
/// ```json
/// {
///   "role": "nap",
///   "dns": ["192.0.2.53"],
///   "release_disconnects": true,
///   "bus_address": null,
///   "call_timeout_ms": 5000
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BluetoothConfig {
    /// The PAN role asked of the device in `Network1.Connect`: `nap` (the default),
    /// `gn` or `panu`.
    pub role: String,
    /// DNS servers reported for every Bluetooth network (BlueZ knows none).
    pub dns: Vec<IpAddr>,
    /// Whether releasing a network (nobody needs it) disconnects it; default `true`:
    /// a PAN is usually a phone's metered data.
    pub release_disconnects: bool,
    /// The D-Bus address of the bus BlueZ is on; `None` (the default): the system bus.
    pub bus_address: Option<String>,
    /// How long a D-Bus call to BlueZ may take, in milliseconds, 100 to 120000;
    /// default 5000.
    pub call_timeout_ms: u64,
}

impl Default for BluetoothConfig {
    fn default() -> Self {
        Self {
            role: "nap".into(),
            dns: Vec::new(),
            release_disconnects: true,
            bus_address: None,
            call_timeout_ms: 5000,
        }
    }
}

impl BluetoothConfig {
    /// Parses a JSON configuration (`null` or `{}` for the defaults) and checks it.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        netcore::bearer::config_from_json("bluetooth", text, Self::check)
    }

    /// Reads a JSON value (`null` for the defaults) and checks it.
    pub fn from_value(value: serde_json::Value) -> Result<Self, Error> {
        netcore::bearer::config_from_value("bluetooth", value, Self::check)
    }

    /// Checks every field; errors are [`Error::InvalidValue`] naming the field.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |what: String| Err(Error::invalid(format!("bluetooth configuration: {what}")));
        if !matches!(self.role.as_str(), "nap" | "gn" | "panu") {
            return bad(format!(
                "role {:?} is not nap, gn or panu",
                crate::device::clip(&self.role)
            ));
        }
        if self.dns.len() > MAX_DNS {
            return bad(format!("more than {MAX_DNS} DNS servers"));
        }
        if let Some(address) = &self.bus_address
            && (address.is_empty() || address.len() > MAX_ADDRESS_LEN || !address.contains(':'))
        {
            return bad(format!(
                "bus_address {:?} is not a D-Bus address (transport:key=value,...)",
                crate::device::clip(address)
            ));
        }
        if !(100..=120_000).contains(&self.call_timeout_ms) {
            return bad(format!(
                "call_timeout_ms {} is not within 100 to 120000",
                self.call_timeout_ms
            ));
        }
        Ok(())
    }

    /// [`BluetoothConfig::call_timeout_ms`] as a duration.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_full_config() {
        assert_eq!(
            BluetoothConfig::from_json("{}").unwrap(),
            BluetoothConfig::default()
        );
        let config = BluetoothConfig::from_json("null").unwrap();
        assert_eq!(config.role, "nap");
        assert!(config.release_disconnects);
        assert_eq!(config.call_timeout(), Duration::from_secs(5));
        let config = BluetoothConfig::from_json(
            r#"{"role":"gn","dns":["192.0.2.53"],"release_disconnects":false,
                "bus_address":"unix:path=/tmp/bus","call_timeout_ms":300}"#,
        )
        .unwrap();
        assert_eq!(config.role, "gn");
        assert_eq!(config.dns.len(), 1);
        assert!(!config.release_disconnects);
        assert_eq!(config.bus_address.as_deref(), Some("unix:path=/tmp/bus"));
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        for (json, why) in [
            (r#"{"Role":"nap"}"#, "unknown field"),
            (r#"{"role":"hfp"}"#, "not nap, gn or panu"),
            (r#"{"dns":["x"]}"#, "invalid IP address"),
            (r#"{"bus_address":""}"#, "not a D-Bus address"),
            (r#"{"call_timeout_ms":99}"#, "call_timeout_ms 99"),
            ("[1]", "bluetooth configuration"),
            ("{", "bluetooth configuration"),
        ] {
            let e = BluetoothConfig::from_json(json).unwrap_err();
            assert_eq!(e.code(), 2_100_001, "{json}");
            assert!(e.to_string().contains(why), "{json}: {e}");
        }
    }
}
