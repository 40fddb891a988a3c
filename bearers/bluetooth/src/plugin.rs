//! The Bluetooth bearer as a plugin (feature `plugin`): its configuration is the
//! JSON form of [`BluetoothConfig`] (`null` for the defaults).

use netcore::{NetBearType, Result};
use netcore_plugin::ExportBearer;

use crate::{BluetoothBearer, BluetoothConfig};

impl ExportBearer for BluetoothBearer {
    const NAME: &'static std::ffi::CStr = c"bluetooth";
    const BEARER_TYPE: NetBearType = NetBearType::Bluetooth;

    fn from_config(config: serde_json::Value) -> Result<Self> {
        BluetoothBearer::new(BluetoothConfig::from_value(config)?)
    }
}

netcore_plugin::export_bearer!(BluetoothBearer);

#[cfg(test)]
mod tests {
    use super::*;
    use netcore::Bearer;

    #[test]
    fn config_crosses_as_json() {
        let bearer = BluetoothBearer::from_config(serde_json::Value::Null).unwrap();
        assert_eq!(bearer.config(), &BluetoothConfig::default());
        assert_eq!(bearer.bearer_type(), BluetoothBearer::BEARER_TYPE);
        let bearer = BluetoothBearer::from_config(serde_json::json!({"role": "gn"})).unwrap();
        assert_eq!(bearer.config().role, "gn");
        for bad in [
            serde_json::json!({"rol": "nap"}),
            serde_json::json!({"role": "a2dp"}),
            serde_json::json!([1]),
        ] {
            let e = BluetoothBearer::from_config(bad.clone()).unwrap_err();
            assert_eq!(e.code(), 2_100_001, "{bad}");
        }
    }
}
