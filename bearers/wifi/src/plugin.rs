//! The Wi-Fi bearer as a plugin (feature `plugin`): its configuration is the JSON
//! form of [`WifiConfig`] (`null` for the defaults).

use netcore::{NetBearType, Result};
use netcore_plugin::ExportBearer;

use crate::{WifiBearer, WifiConfig};

impl ExportBearer for WifiBearer {
    const NAME: &'static std::ffi::CStr = c"wifi";
    const BEARER_TYPE: NetBearType = NetBearType::Wifi;

    fn from_config(config: serde_json::Value) -> Result<Self> {
        WifiBearer::new(WifiConfig::from_value(config)?)
    }
}

netcore_plugin::export_bearer!(WifiBearer);

#[cfg(test)]
mod tests {
    use super::*;
    use netcore::Bearer;

    #[test]
    fn config_crosses_as_json() {
        let bearer = WifiBearer::from_config(serde_json::Value::Null).unwrap();
        assert_eq!(bearer.config(), &WifiConfig::default());
        assert_eq!(bearer.bearer_type(), WifiBearer::BEARER_TYPE);
        let bearer =
            WifiBearer::from_config(serde_json::json!({"interfaces": ["wlan1"], "metered": true}))
                .unwrap();
        assert_eq!(bearer.config().interfaces, ["wlan1"]);
        assert!(bearer.config().metered);
        for bad in [
            serde_json::json!({"interface": "wlan0"}),
            serde_json::json!({"ping_interval_ms": 1}),
            serde_json::json!([1]),
        ] {
            let e = WifiBearer::from_config(bad.clone()).unwrap_err();
            assert_eq!(e.code(), 2_100_001, "{bad}: {e}");
        }
    }
}
