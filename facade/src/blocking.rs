//! The seed's `*Sync` functions: the same calls as [`NetManager`]'s, returning at
//! once. They may be called from any thread, also outside the runtime.

use netcore::{ConnectionProperties, NetAddress, NetCapabilities, NetHandle, ProtocolType, Result};

use crate::manager::NetManager;

/// Runs a future that completes without waiting (the engine's calls never await).
fn now<T>(future: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(future)
}

/// `getDefaultNetSync`.
pub fn get_default_net(manager: &NetManager) -> Result<NetHandle> {
    now(manager.get_default_net())
}

/// `hasDefaultNetSync`.
pub fn has_default_net(manager: &NetManager) -> Result<bool> {
    now(manager.has_default_net())
}

/// `getAllNetsSync`.
pub fn get_all_nets(manager: &NetManager) -> Result<Vec<NetHandle>> {
    now(manager.get_all_nets())
}

/// `getNetCapabilitiesSync`.
pub fn get_net_capabilities(manager: &NetManager, net: NetHandle) -> Result<NetCapabilities> {
    now(manager.get_net_capabilities(net))
}

/// `getConnectionPropertiesSync`.
pub fn get_connection_properties(
    manager: &NetManager,
    net: NetHandle,
) -> Result<ConnectionProperties> {
    now(manager.get_connection_properties(net))
}

/// `isDefaultNetMeteredSync`.
pub fn is_default_net_metered(manager: &NetManager) -> Result<bool> {
    now(manager.is_default_net_metered())
}

/// `getAppNetSync`.
pub fn get_app_net(manager: &NetManager) -> Result<NetHandle> {
    now(manager.get_app_net())
}

/// `setAppNetSync` (the seed's `setAppNet` with a blocking caller).
pub fn set_app_net(manager: &NetManager, net: NetHandle) -> Result<()> {
    now(manager.set_app_net(net))
}

/// `setNetExtAttributeSync`.
pub fn set_net_ext_attribute(manager: &NetManager, net: NetHandle, attribute: &str) -> Result<()> {
    now(manager.set_net_ext_attribute(net, attribute))
}

/// `getNetExtAttributeSync`.
pub fn get_net_ext_attribute(manager: &NetManager, net: NetHandle) -> Result<String> {
    now(manager.get_net_ext_attribute(net))
}

/// `getConnectOwnerUidSync`.
pub fn get_connect_owner_uid(
    manager: &NetManager,
    protocol: ProtocolType,
    local: &NetAddress,
    remote: &NetAddress,
) -> Result<i64> {
    manager.connect_owner_uid_now(protocol, local, remote)
}
