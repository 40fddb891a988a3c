//! The Wi-Fi bearer's configuration.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use netcore::Error;
use serde::{Deserialize, Serialize};

/// The most interfaces or DNS servers accepted.
pub const MAX_ENTRIES: usize = 64;
/// The longest path of a Unix socket (`sun_path` less its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Where wpa_supplicant is and what the bearer adds to its networks.
///
/// In JSON (every field optional):
/// ```json
/// {
///   "interfaces": ["wlan0"],
///   "control_dir": "/var/run/wpa_supplicant",
///   "metered": false,
///   "dns": ["192.0.2.53"],
///   "release_disconnects": false,
///   "ping_interval_ms": 1000
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct WifiConfig {
    /// The interfaces wpa_supplicant manages; empty (the default): every wireless
    /// interface the kernel has.
    pub interfaces: Vec<String>,
    /// wpa_supplicant's control socket directory (its `ctrl_interface`); default
    /// `/var/run/wpa_supplicant`.
    pub control_dir: PathBuf,
    /// Report the networks as metered (no NOT_METERED); default `false`.
    pub metered: bool,
    /// DNS servers reported for every Wi-Fi network.
    pub dns: Vec<IpAddr>,
    /// Whether releasing a network (nobody needs it) disconnects it; default `false`:
    /// Wi-Fi stays connected.
    pub release_disconnects: bool,
    /// How often wpa_supplicant is pinged (and the signal polled), in milliseconds,
    /// 50 to 60000; default 1000. A peer that died without a word is noticed within
    /// this time plus the request timeout.
    pub ping_interval_ms: u64,
}

impl Default for WifiConfig {
    fn default() -> Self {
        Self {
            interfaces: Vec::new(),
            control_dir: PathBuf::from("/var/run/wpa_supplicant"),
            metered: false,
            dns: Vec::new(),
            release_disconnects: false,
            ping_interval_ms: 1000,
        }
    }
}

impl WifiConfig {
    /// Parses a JSON configuration (`null` or `{}` for the defaults) and checks it.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        netcore::bearer::config_from_json("wifi", text, Self::check)
    }

    /// Reads a JSON value (`null` for the defaults) and checks it.
    pub fn from_value(value: serde_json::Value) -> Result<Self, Error> {
        netcore::bearer::config_from_value("wifi", value, Self::check)
    }

    /// Checks every field; errors are [`Error::InvalidValue`] naming the field.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |what: String| Err(Error::invalid(format!("wifi configuration: {what}")));
        if self.interfaces.len() > MAX_ENTRIES || self.dns.len() > MAX_ENTRIES {
            return bad(format!("more than {MAX_ENTRIES} interfaces or DNS servers"));
        }
        if !self.control_dir.is_absolute() {
            return bad(format!(
                "control_dir {:?} is not an absolute path",
                self.control_dir
            ));
        }
        for name in &self.interfaces {
            if name.is_empty()
                || name.len() > 15
                || name == "."
                || name == ".."
                || name.contains(['/', ' '])
                || name.chars().any(char::is_control)
            {
                return bad(format!(
                    "interface {name:?} is not a valid interface name (1 to 15 bytes, no '/' or spaces)"
                ));
            }
            let path = self.control_dir.join(name);
            if path.as_os_str().len() > MAX_SOCKET_PATH {
                return bad(format!(
                    "control socket path {path:?} is longer than {MAX_SOCKET_PATH} bytes"
                ));
            }
        }
        if !(50..=60_000).contains(&self.ping_interval_ms) {
            return bad(format!(
                "ping_interval_ms {} is not within 50 to 60000",
                self.ping_interval_ms
            ));
        }
        Ok(())
    }

    /// [`WifiConfig::ping_interval_ms`] as a duration.
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }

    /// The control socket of `interface`.
    pub fn socket_path(&self, interface: &str) -> PathBuf {
        self.control_dir.join(interface)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let config = WifiConfig::from_json("{}").unwrap();
        assert_eq!(config, WifiConfig::default());
        assert_eq!(
            WifiConfig::from_json("null").unwrap(),
            WifiConfig::default()
        );
        assert!(config.interfaces.is_empty());
        assert_eq!(config.control_dir, PathBuf::from("/var/run/wpa_supplicant"));
        assert!(!config.metered);
        assert_eq!(config.ping_interval(), Duration::from_secs(1));
        assert_eq!(
            config.socket_path("wlan0"),
            PathBuf::from("/var/run/wpa_supplicant/wlan0")
        );
    }

    #[test]
    fn full_config_parses() {
        let config = WifiConfig::from_json(
            r#"{"interfaces":["wlan0","wlp2s0"],"control_dir":"/run/wpa","metered":true,
                "dns":["192.0.2.53","2001:db8::53"],"release_disconnects":true,"ping_interval_ms":250}"#,
        )
        .unwrap();
        assert_eq!(config.interfaces, ["wlan0", "wlp2s0"]);
        assert_eq!(config.control_dir, PathBuf::from("/run/wpa"));
        assert!(config.metered);
        assert_eq!(config.dns.len(), 2);
        assert!(config.release_disconnects);
        assert_eq!(config.ping_interval(), Duration::from_millis(250));
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        let long_dir = format!(
            r#"{{"control_dir":"/{}","interfaces":["wlan0"]}}"#,
            "d".repeat(101)
        );
        for (json, why) in [
            (r#"{"interface":["wlan0"]}"#, "unknown field"),
            (r#"{"interfaces":["wlan/0"]}"#, "not a valid interface name"),
            (r#"{"interfaces":[""]}"#, "not a valid interface name"),
            (
                r#"{"interfaces":["a-very-long-interface"]}"#,
                "not a valid interface name",
            ),
            (r#"{"control_dir":"run/wpa"}"#, "not an absolute path"),
            (r#"{"dns":["not-an-ip"]}"#, "invalid IP address"),
            (r#"{"metered":"yes"}"#, "invalid type"),
            (r#"{"ping_interval_ms":0}"#, "ping_interval_ms 0"),
            (r#"{"ping_interval_ms":600000}"#, "ping_interval_ms 600000"),
            (long_dir.as_str(), "longer than 107 bytes"),
            ("[1]", "wifi configuration"),
            ("{", "wifi configuration"),
        ] {
            let e = WifiConfig::from_json(json).unwrap_err();
            assert_eq!(e.code(), 2_100_001, "{json}");
            assert!(e.to_string().contains(why), "{json}: {e}");
        }
    }
}
