//! The cellular bearer's configuration.

use std::time::Duration;

use netcore::Error;
use serde::{Deserialize, Serialize};

/// The most APN types accepted.
pub const MAX_APN_TYPES: usize = 16;
/// The longest APN, user name, password or APN type accepted, in bytes.
pub const MAX_FIELD_LEN: usize = 256;
/// The longest D-Bus address accepted, in bytes.
pub const MAX_ADDRESS_LEN: usize = 1024;

/// The APN and how the bearer treats its networks.
///
/// In JSON (every field optional):
/// ```json
/// {
///   "apn": "internet",
///   "apn_types": ["default", "mms"],
///   "user": null,
///   "password": null,
///   "release_disconnects": true,
///   "bus_address": null,
///   "call_timeout_ms": 5000
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CellularConfig {
    /// The APN passed to `Modem.Simple.Connect` (`"apn"`); empty (the default):
    /// none, ModemManager picks one.
    pub apn: String,
    /// What the APN is for (`default`, `mms`, `supl`, ...); with `mms`, the networks
    /// have the MMS capability. Default `["default"]`.
    pub apn_types: Vec<String>,
    /// User name for the APN (`"user"`), if it needs one.
    pub user: Option<String>,
    /// Password for the APN (`"password"`), if it needs one.
    pub password: Option<String>,
    /// Whether releasing a network (nobody needs it) disconnects it; default `true`:
    /// cellular data costs money.
    pub release_disconnects: bool,
    /// The D-Bus address of the bus ModemManager is on; `None` (the default): the
    /// system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket).
    pub bus_address: Option<String>,
    /// How long a D-Bus call to ModemManager may take, in milliseconds, 100 to
    /// 120000; default 5000 (`Connect` waits for the network, so it may be slow).
    pub call_timeout_ms: u64,
}

impl Default for CellularConfig {
    fn default() -> Self {
        Self {
            apn: String::new(),
            apn_types: vec!["default".into()],
            user: None,
            password: None,
            release_disconnects: true,
            bus_address: None,
            call_timeout_ms: 5000,
        }
    }
}

impl CellularConfig {
    /// Parses a JSON configuration (`null` or `{}` for the defaults) and checks it.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        netcore::bearer::config_from_json("cellular", text, Self::check)
    }

    /// Reads a JSON value (`null` for the defaults) and checks it.
    pub fn from_value(value: serde_json::Value) -> Result<Self, Error> {
        netcore::bearer::config_from_value("cellular", value, Self::check)
    }

    /// Checks every field; errors are [`Error::InvalidValue`] naming the field.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |what: String| Err(Error::invalid(format!("cellular configuration: {what}")));
        let text_ok = |s: &str| s.len() <= MAX_FIELD_LEN && !s.chars().any(char::is_control);
        if !text_ok(&self.apn) {
            return bad(format!(
                "apn is longer than {MAX_FIELD_LEN} bytes or has control characters"
            ));
        }
        for (name, value) in [("user", &self.user), ("password", &self.password)] {
            if value.as_deref().is_some_and(|v| !text_ok(v)) {
                return bad(format!(
                    "{name} is longer than {MAX_FIELD_LEN} bytes or has control characters"
                ));
            }
        }
        if self.apn_types.len() > MAX_APN_TYPES {
            return bad(format!("more than {MAX_APN_TYPES} apn_types"));
        }
        for kind in &self.apn_types {
            if kind.is_empty()
                || kind.len() > 32
                || !kind
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return bad(format!(
                    "apn type {:?} is not a word (1 to 32 letters, digits, '-', '_')",
                    netcore_dbus::clip(kind)
                ));
            }
        }
        if let Some(address) = &self.bus_address
            && (address.is_empty() || address.len() > MAX_ADDRESS_LEN || !address.contains(':'))
        {
            return bad(format!(
                "bus_address {:?} is not a D-Bus address (transport:key=value,...)",
                netcore_dbus::clip(address)
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

    /// Whether the APN serves MMS (`apn_types` has `mms`).
    pub fn serves_mms(&self) -> bool {
        self.apn_types.iter().any(|t| t.eq_ignore_ascii_case("mms"))
    }

    /// [`CellularConfig::call_timeout_ms`] as a duration.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let config = CellularConfig::from_json("{}").unwrap();
        assert_eq!(config, CellularConfig::default());
        assert_eq!(
            CellularConfig::from_json("null").unwrap(),
            CellularConfig::default()
        );
        assert_eq!(config.apn, "");
        assert_eq!(config.apn_types, ["default"]);
        assert!(config.release_disconnects);
        assert!(!config.serves_mms());
        assert_eq!(config.bus_address, None);
        assert_eq!(config.call_timeout(), Duration::from_secs(5));
    }

    #[test]
    fn full_config_parses() {
        let config = CellularConfig::from_json(
            r#"{"apn":"internet.example","apn_types":["default","MMS"],"user":"u","password":"p",
                "release_disconnects":false,"bus_address":"unix:path=/tmp/bus","call_timeout_ms":250}"#,
        )
        .unwrap();
        assert_eq!(config.apn, "internet.example");
        assert!(config.serves_mms());
        assert_eq!(config.user.as_deref(), Some("u"));
        assert_eq!(config.password.as_deref(), Some("p"));
        assert!(!config.release_disconnects);
        assert_eq!(config.bus_address.as_deref(), Some("unix:path=/tmp/bus"));
        assert_eq!(config.call_timeout(), Duration::from_millis(250));
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        let long_apn = format!(r#"{{"apn":"{}"}}"#, "a".repeat(300));
        for (json, why) in [
            (r#"{"APN":"internet"}"#, "unknown field"),
            (long_apn.as_str(), "apn is longer"),
            (r#"{"apn":"a\u0001b"}"#, "control characters"),
            (r#"{"apn_types":["de fault"]}"#, "is not a word"),
            (r#"{"apn_types":[""]}"#, "is not a word"),
            (r#"{"bus_address":"nowhere"}"#, "not a D-Bus address"),
            (r#"{"call_timeout_ms":1}"#, "call_timeout_ms 1"),
            (r#"{"release_disconnects":"no"}"#, "invalid type"),
            ("[1]", "cellular configuration"),
            ("{", "cellular configuration"),
        ] {
            let e = CellularConfig::from_json(json).unwrap_err();
            assert_eq!(e.code(), 2_100_001, "{json}");
            assert!(e.to_string().contains(why), "{json}: {e}");
        }
    }
}
