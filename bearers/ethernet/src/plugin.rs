//! The Ethernet bearer as a plugin (feature `plugin`): its configuration is the
//! JSON form of [`EthernetConfig`] (`null` for the defaults).

use netcore::{Error, NetBearType, Result};
use netcore_plugin::ExportBearer;

use crate::{EthernetBearer, EthernetConfig};

impl ExportBearer for EthernetBearer {
    const NAME: &'static std::ffi::CStr = c"ethernet";
    const BEARER_TYPE: NetBearType = NetBearType::Ethernet;

    fn from_config(config: serde_json::Value) -> Result<Self> {
        let config: EthernetConfig = if config.is_null() {
            EthernetConfig::default()
        } else {
            serde_json::from_value(config)
                .map_err(|e| Error::invalid(format!("ethernet configuration: {e}")))?
        };
        EthernetBearer::new(config)
    }
}

netcore_plugin::export_bearer!(EthernetBearer);
