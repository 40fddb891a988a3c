//! The seed's `*Sync` functions: the same calls as [`NetManager`]'s, waiting for
//! their answer. With an embedded runtime they answer at once from any thread.
//! Through netcored they work from a plain thread or a thread of a multi-threaded
//! tokio runtime (the wait moves off the runtime's workers); on the thread of a
//! current-thread tokio runtime the answer could never arrive, so there they are
//! refused (2100003): use the async functions.

use netcore::{
    ConnectionProperties, Error, NetAddress, NetCapabilities, NetHandle, ProtocolType, Result,
};
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::manager::NetManager;

/// Waits for `future`, a call of `manager`, from a thread that may not be a plain
/// one.
pub(crate) fn wait<T>(
    manager: &NetManager,
    future: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    if !manager.uses_daemon() {
        // The embedded runtime's calls never wait for anything.
        return futures::executor::block_on(future);
    }
    match Handle::try_current() {
        Err(_) => futures::executor::block_on(future),
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::CurrentThread => {
            Err(Error::Internal(
                "a blocking call on the thread of a current-thread tokio runtime would never \
                 be answered: call the async function"
                    .into(),
            ))
        }
        Ok(_) => tokio::task::block_in_place(|| futures::executor::block_on(future)),
    }
}

/// `getDefaultNetSync`.
pub fn get_default_net(manager: &NetManager) -> Result<NetHandle> {
    wait(manager, manager.get_default_net())
}

/// `hasDefaultNetSync`.
pub fn has_default_net(manager: &NetManager) -> Result<bool> {
    wait(manager, manager.has_default_net())
}

/// `getAllNetsSync`.
pub fn get_all_nets(manager: &NetManager) -> Result<Vec<NetHandle>> {
    wait(manager, manager.get_all_nets())
}

/// `getNetCapabilitiesSync`.
pub fn get_net_capabilities(manager: &NetManager, net: NetHandle) -> Result<NetCapabilities> {
    wait(manager, manager.get_net_capabilities(net))
}

/// `getConnectionPropertiesSync`.
pub fn get_connection_properties(
    manager: &NetManager,
    net: NetHandle,
) -> Result<ConnectionProperties> {
    wait(manager, manager.get_connection_properties(net))
}

/// `isDefaultNetMeteredSync`.
pub fn is_default_net_metered(manager: &NetManager) -> Result<bool> {
    wait(manager, manager.is_default_net_metered())
}

/// `getAppNetSync`.
pub fn get_app_net(manager: &NetManager) -> Result<NetHandle> {
    wait(manager, manager.get_app_net())
}

/// `setAppNetSync` (the seed's `setAppNet` with a blocking caller).
pub fn set_app_net(manager: &NetManager, net: NetHandle) -> Result<()> {
    wait(manager, manager.set_app_net(net))
}

/// `setNetExtAttributeSync`.
pub fn set_net_ext_attribute(manager: &NetManager, net: NetHandle, attribute: &str) -> Result<()> {
    wait(manager, manager.set_net_ext_attribute(net, attribute))
}

/// `getNetExtAttributeSync`.
pub fn get_net_ext_attribute(manager: &NetManager, net: NetHandle) -> Result<String> {
    wait(manager, manager.get_net_ext_attribute(net))
}

/// `getConnectOwnerUidSync`.
pub fn get_connect_owner_uid(
    manager: &NetManager,
    protocol: ProtocolType,
    local: &NetAddress,
    remote: &NetAddress,
) -> Result<i64> {
    wait(
        manager,
        manager.get_connect_owner_uid(protocol, *local, *remote),
    )
}
