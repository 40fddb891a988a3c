//! The VPN bearer as a plugin (feature `plugin`): its configuration is the JSON form
//! of [`VpnConfig`] (`null` for the defaults).

use netcore::{NetBearType, Result};
use netcore_plugin::ExportBearer;

use crate::{VpnBearer, VpnConfig};

impl ExportBearer for VpnBearer {
    const NAME: &'static std::ffi::CStr = c"vpn";
    const BEARER_TYPE: NetBearType = NetBearType::Vpn;

    fn from_config(config: serde_json::Value) -> Result<Self> {
        VpnBearer::new(VpnConfig::from_value(config)?)
    }
}

netcore_plugin::export_bearer!(VpnBearer);

#[cfg(test)]
mod tests {
    use super::*;
    use netcore::Bearer;

    #[test]
    fn config_crosses_as_json() {
        let bearer = VpnBearer::from_config(serde_json::Value::Null).unwrap();
        assert_eq!(bearer.config(), &VpnConfig::default());
        assert_eq!(bearer.bearer_type(), VpnBearer::BEARER_TYPE);
        let bearer = VpnBearer::from_config(serde_json::json!({"name_prefix": "tun"})).unwrap();
        assert_eq!(bearer.config().name_prefix, "tun");
        for bad in [
            serde_json::json!({"prefix": "tun"}),
            serde_json::json!({"max_tunnels": 0}),
            serde_json::json!("vpn"),
        ] {
            let e = VpnBearer::from_config(bad.clone()).unwrap_err();
            assert_eq!(e.code(), 2_100_001, "{bad}: {e}");
        }
    }
}
