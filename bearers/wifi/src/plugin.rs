//! The Wi-Fi bearer as a plugin (feature `plugin`): its configuration is the JSON
//! form of [`WifiConfig`] (`null` for the defaults).

use netcore::plugin::ExportBearer;
use netcore::{NetBearType, Result};

use crate::{WifiBearer, WifiConfig};

impl ExportBearer for WifiBearer {
    const NAME: &'static std::ffi::CStr = c"wifi";
    const BEARER_TYPE: NetBearType = NetBearType::Wifi;

    fn from_config(config: serde_json::Value) -> Result<Self> {
        WifiBearer::new(WifiConfig::from_value(config)?)
    }
}

netcore::export_bearer!(WifiBearer);
