//! The cellular bearer as a plugin (feature `plugin`): its configuration is the JSON
//! form of [`CellularConfig`] (`null` for the defaults).

use netcore::{NetBearType, Result};
use netcore_plugin::ExportBearer;

use crate::{CellularBearer, CellularConfig};

impl ExportBearer for CellularBearer {
    const NAME: &'static std::ffi::CStr = c"cellular";
    const BEARER_TYPE: NetBearType = NetBearType::Cellular;

    fn from_config(config: serde_json::Value) -> Result<Self> {
        CellularBearer::new(CellularConfig::from_value(config)?)
    }
}

netcore_plugin::export_bearer!(CellularBearer);

#[cfg(test)]
mod tests {
    use super::*;
    use netcore::Bearer;

    #[test]
    fn config_crosses_as_json() {
        let bearer = CellularBearer::from_config(serde_json::Value::Null).unwrap();
        assert_eq!(bearer.config(), &CellularConfig::default());
        assert_eq!(bearer.bearer_type(), CellularBearer::BEARER_TYPE);
        let bearer = CellularBearer::from_config(
            serde_json::json!({"apn": "internet", "release_disconnects": false}),
        )
        .unwrap();
        assert_eq!(bearer.config().apn, "internet");
        assert!(!bearer.config().release_disconnects);
        for bad in [
            serde_json::json!({"apm": "internet"}),
            serde_json::json!({"call_timeout_ms": 1}),
            serde_json::json!([1]),
        ] {
            let e = CellularBearer::from_config(bad.clone()).unwrap_err();
            assert_eq!(e.code(), 2_100_001, "{bad}");
        }
    }
}
