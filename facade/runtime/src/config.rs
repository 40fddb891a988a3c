//! The runtime's configuration. Every setting has a default, so that no file is
//! needed; with the `toml` feature it is read from a TOML file
//! ([`Config::from_toml`], [`Config::load`]):
//!
//! ```toml
//! manage = false                 # program the default route (namespaces, devices)
//!
//! [engine]
//! profile = "standard"           # or "watch", or ["ethernet", "wifi", "cellular"]
//! linger_secs = 30
//!
//! [ethernet]
//! deny = ["docker*"]
//! ```

#[cfg(feature = "toml")]
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use netcore::engine::{DeviceProfile, EngineConfig};
use netcore::{Error, NetBearType, Result};
use netcore_bearer_ethernet::EthernetConfig;
use serde::{Deserialize, Serialize};

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "NETCORE_CONFIG";

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// When true the runtime programs the kernel's routing (a table per network and
    /// rules in netcore's band, see [`crate::routing`]); when false (the default) it
    /// only observes the host and changes nothing.
    pub manage: bool,
    /// The most events a subscriber may leave unread before it is disconnected
    /// (changes of one network merge while unread, so only `netAvailable`,
    /// `netLost` and `netUnavailable` add up).
    pub max_unread_events: usize,
    /// Network selection and check scheduling.
    pub engine: EngineSettings,
    /// The Ethernet bearer.
    pub ethernet: EthernetConfig,
    /// Whether the Ethernet bearer linked into this build runs (turn it off to run
    /// the Ethernet plugin instead).
    pub builtin_ethernet: bool,
    /// The Wi-Fi bearer (wpa_supplicant).
    pub wifi: netcore_bearer_wifi::WifiConfig,
    /// Whether the Wi-Fi bearer linked into this build runs.
    pub builtin_wifi: bool,
    /// The VPN bearer (TUN devices for VPN apps).
    pub vpn: netcore_bearer_vpn::VpnConfig,
    /// The cellular bearer (ModemManager).
    pub cellular: netcore_bearer_cellular::CellularConfig,
    /// Whether the cellular bearer linked into this build runs.
    pub builtin_cellular: bool,
    /// The Bluetooth PAN bearer (BlueZ).
    pub bluetooth: netcore_bearer_bluetooth::BluetoothConfig,
    /// Whether the Bluetooth bearer linked into this build runs.
    pub builtin_bluetooth: bool,
    /// Bearer plugins.
    pub plugins: PluginSettings,
    /// HTTP proxy and PAC.
    pub proxy: ProxySettings,
    /// Connectivity checks (probe URLs, timeouts).
    pub validation: netcore_probe::ValidatorConfig,
    /// `queryProbeResult` and `queryTraceRoute`.
    pub diagnostics: netcore_probe::DiagnosticsConfig,
    /// The DNS stub every app's resolver asks in manage mode.
    pub dns_stub: DnsStubSettings,
}

/// The DNS stub of manage mode (see [`netcore_dns::stub`]): every app's plain
/// `getaddrinfo` gets the answers netcore's API would give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DnsStubSettings {
    /// Whether manage mode runs the stub.
    pub enabled: bool,
    /// The addresses it answers on (UDP and TCP). Only those on port 53 can go into
    /// resolv.conf.
    pub listen: Vec<std::net::SocketAddr>,
    /// The resolv.conf that points every resolver at the stub while it runs (its
    /// previous content is saved beside it and comes back when the runtime stops).
    /// None (the default): none is written; netcored's shipped configuration sets
    /// `/etc/resolv.conf`.
    pub resolv_conf: Option<PathBuf>,
    /// The most queries of one app waiting for an answer.
    pub max_in_flight_per_app: usize,
    /// The most TCP connections to the stub at once.
    pub max_tcp_connections: usize,
}

impl Default for DnsStubSettings {
    fn default() -> Self {
        let stub = netcore_dns::stub::StubConfig::default();
        Self {
            enabled: true,
            listen: stub.listen,
            resolv_conf: None,
            max_in_flight_per_app: stub.max_in_flight_per_app,
            max_tcp_connections: stub.max_tcp_connections,
        }
    }
}

impl DnsStubSettings {
    /// The stub's configuration.
    pub fn stub_config(&self) -> netcore_dns::stub::StubConfig {
        let mut config = netcore_dns::stub::StubConfig::default();
        config.listen = self.listen.clone();
        config.max_in_flight_per_app = self.max_in_flight_per_app;
        config.max_tcp_connections = self.max_tcp_connections;
        config
    }

    fn check(&self) -> Result<()> {
        if self.enabled && self.listen.is_empty() {
            return Err(Error::invalid("dns_stub.listen is empty"));
        }
        for (name, value) in [
            ("max_in_flight_per_app", self.max_in_flight_per_app),
            ("max_tcp_connections", self.max_tcp_connections),
        ] {
            if !(1..=65_536).contains(&value) {
                return Err(Error::invalid(format!(
                    "dns_stub.{name} {value} is outside 1..=65536"
                )));
            }
        }
        Ok(())
    }
}

/// The global HTTP proxy and PAC evaluation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ProxySettings {
    /// The global proxy, used by apps that set none of their own.
    pub global: Option<netcore::HttpProxy>,
    /// The PAC worker executable (default: `$NETCORE_PAC_WORKER`, else
    /// `netcore-pac-worker` next to this program).
    pub pac_worker: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            manage: false,
            max_unread_events: crate::queue::DEFAULT_MAX_UNREAD_EVENTS,
            engine: EngineSettings::default(),
            ethernet: EthernetConfig::default(),
            builtin_ethernet: true,
            wifi: netcore_bearer_wifi::WifiConfig::default(),
            builtin_wifi: true,
            vpn: netcore_bearer_vpn::VpnConfig::default(),
            cellular: netcore_bearer_cellular::CellularConfig::default(),
            builtin_cellular: true,
            bluetooth: netcore_bearer_bluetooth::BluetoothConfig::default(),
            builtin_bluetooth: true,
            plugins: PluginSettings::default(),
            proxy: ProxySettings::default(),
            validation: netcore_probe::ValidatorConfig::default(),
            diagnostics: netcore_probe::DiagnosticsConfig::default(),
            dns_stub: DnsStubSettings::default(),
        }
    }
}

/// Where bearer plugins come from and how each is configured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PluginSettings {
    /// The directory whose `*.so` files are loaded; `$NETCORE_PLUGIN_DIR` overrides
    /// it. None: no plugins.
    pub dir: Option<PathBuf>,
    /// Each plugin's configuration, by the plugin's name (`[plugins.config.wifi]`).
    pub config: std::collections::BTreeMap<String, serde_json::Value>,
}

impl PluginSettings {
    /// The directory to load plugins from: the environment's, else the configured.
    pub fn effective_dir(&self) -> Option<PathBuf> {
        std::env::var_os(netcore_plugin::PLUGIN_DIR_ENV)
            .map(PathBuf::from)
            .or_else(|| self.dir.clone())
    }

    /// The JSON configuration of the plugin named `name` (`null` when none).
    pub fn config_for(&self, name: &str) -> serde_json::Value {
        self.config
            .get(name)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }
}

/// Which bearer types the default network prefers, by name or as a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProfileSetting {
    /// `"standard"` (Ethernet > Wi-Fi > Bluetooth > Cellular) or `"watch"`
    /// (Bluetooth first).
    Named(String),
    /// Bearer type names in order of preference: `ethernet`, `wifi`, `bluetooth`,
    /// `cellular`, `vpn`.
    Order(Vec<String>),
}

/// The engine's settings, in the units a person writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct EngineSettings {
    /// Bearer preference for the default network.
    pub profile: ProfileSetting,
    /// Seconds an unneeded network is kept before it is released.
    pub linger_secs: u64,
    /// Quality points a network must win by to replace the current one.
    pub quality_hysteresis: u8,
    /// Quality (percent) below which a network counts as poor.
    pub poor_quality: u8,
    /// Most registered connections per app.
    pub max_requests_per_app: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        let engine = EngineConfig::default();
        Self {
            profile: ProfileSetting::Named("standard".into()),
            linger_secs: engine.linger.as_secs(),
            quality_hysteresis: engine.quality_hysteresis,
            poor_quality: engine.poor_quality,
            max_requests_per_app: engine.max_requests_per_app,
        }
    }
}

impl EngineSettings {
    /// The engine configuration these settings describe; a bad profile or a value
    /// out of range is 2100001.
    pub fn engine_config(&self) -> Result<EngineConfig> {
        let profile = match &self.profile {
            ProfileSetting::Named(name) => match name.as_str() {
                "standard" => DeviceProfile::standard(),
                "watch" => DeviceProfile::watch(),
                other => {
                    return Err(Error::invalid(format!(
                        "engine.profile {other:?} is neither \"standard\" nor \"watch\""
                    )));
                }
            },
            ProfileSetting::Order(names) => {
                let order = names
                    .iter()
                    .map(|n| bearer_type_named(n))
                    .collect::<Result<Vec<_>>>()?;
                DeviceProfile::custom(&order)?
            }
        };
        if self.poor_quality > 100 {
            return Err(Error::invalid(format!(
                "engine.poor_quality {} is over 100",
                self.poor_quality
            )));
        }
        let mut config = EngineConfig::default();
        config.profile = profile;
        config.linger = Duration::from_secs(self.linger_secs);
        config.quality_hysteresis = self.quality_hysteresis;
        config.poor_quality = self.poor_quality;
        config.max_requests_per_app = self.max_requests_per_app;
        Ok(config)
    }
}

/// The bearer type a configuration name stands for.
pub fn bearer_type_named(name: &str) -> Result<NetBearType> {
    Ok(match name {
        "ethernet" => NetBearType::Ethernet,
        "wifi" => NetBearType::Wifi,
        "bluetooth" => NetBearType::Bluetooth,
        "cellular" => NetBearType::Cellular,
        "vpn" => NetBearType::Vpn,
        other => {
            return Err(Error::invalid(format!(
                "{other:?} is not a bearer type (ethernet, wifi, bluetooth, cellular, vpn)"
            )));
        }
    })
}

impl Config {
    /// Checks every setting; the first bad one is 2100001 naming it.
    pub fn check(&self) -> Result<()> {
        let config = self;
        if config.max_unread_events == 0 {
            return Err(Error::invalid(
                "max_unread_events is 0: a subscriber could receive nothing",
            ));
        }
        config.engine.engine_config()?;
        config.ethernet.check()?;
        netcore_bearer_wifi::WifiBearer::new(config.wifi.clone())?;
        config.vpn.check()?;
        config.cellular.check()?;
        config.bluetooth.check()?;
        netcore_probe::Validator::new(config.validation.clone())?;
        if let Some(global) = &config.proxy.global {
            netcore_proxy::settings::validate_proxy(global)?;
        }
        config.dns_stub.check()?;
        Ok(())
    }

    /// Parses a configuration; errors name the line and the setting (2100001).
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str) -> Result<Self> {
        let config: Config =
            toml::from_str(text).map_err(|e| Error::invalid(format!("configuration: {e}")))?;
        config.check()?;
        Ok(config)
    }

    /// Reads the file at `path`.
    #[cfg(feature = "toml")]
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(format!("cannot read configuration {}: {e}", path.display()))
        })?;
        Self::from_toml(&text)
    }

    /// The configuration at `path` if given, else at `$NETCORE_CONFIG` if set, else
    /// the defaults.
    #[cfg(feature = "toml")]
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let from_env = std::env::var_os(CONFIG_ENV).map(PathBuf::from);
        match path.map(Path::to_path_buf).or(from_env) {
            Some(path) => Self::from_file(&path),
            None => Ok(Self::default()),
        }
    }
}

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;

    #[test]
    fn no_file_means_defaults() {
        let config = Config::from_toml("").unwrap();
        assert_eq!(config, Config::default());
        assert!(!config.manage);
        assert_eq!(
            config.engine.engine_config().unwrap(),
            EngineConfig::default()
        );
    }

    #[test]
    fn plugin_settings() {
        let text = "builtin_ethernet = false\n[plugins]\ndir = \"/opt/plugins\"\n[plugins.config.wifi]\ninterface = \"wlan0\"\n";
        let config = Config::from_toml(text).unwrap();
        assert!(!config.builtin_ethernet);
        assert_eq!(
            config.plugins.dir.as_deref(),
            Some(Path::new("/opt/plugins"))
        );
        assert_eq!(
            config.plugins.config_for("wifi"),
            serde_json::json!({"interface": "wlan0"})
        );
        assert_eq!(config.plugins.config_for("other"), serde_json::Value::Null);
    }

    #[test]
    fn profiles_by_name_and_order() {
        let watch = Config::from_toml("[engine]\nprofile = \"watch\"\n").unwrap();
        let profile = watch.engine.engine_config().unwrap().profile;
        assert_eq!(profile.rank(NetBearType::Bluetooth), 0);
        let order =
            Config::from_toml("[engine]\nprofile = [\"cellular\", \"wifi\"]\nlinger_secs = 5\n")
                .unwrap();
        let engine = order.engine.engine_config().unwrap();
        assert_eq!(engine.profile.rank(NetBearType::Cellular), 0);
        assert_eq!(engine.linger, Duration::from_secs(5));
    }

    #[test]
    fn bad_settings_are_2100001_with_the_reason() {
        for (text, needle) in [
            ("[engine]\nprofile = \"phone\"\n", "phone"),
            ("[engine]\nprofile = [\"wifi\", \"wifi\"]\n", "twice"),
            ("[engine]\nprofile = [\"modem\"]\n", "modem"),
            ("[engine]\npoor_quality = 101\n", "over 100"),
            ("colour = 1\n", "colour"),
            ("[engine]\nlinger_secs = -1\n", "linger_secs"),
        ] {
            let err = Config::from_toml(text).unwrap_err();
            assert_eq!(err.code(), 2100001, "{text}");
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        }
    }
}
