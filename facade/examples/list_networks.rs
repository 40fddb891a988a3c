//! Seed 000, "Obtaining the list of all registered networks" and "Querying the
//! connection information": every network with its capabilities and properties.
//!
//! `cargo run -p netcore-facade --example list_networks`

use netcore::{ConnectionProperties, NetCapabilities, NetHandle};
use netcore_facade::{Config, NetManager};

/// One network as the scenario reads it.
#[derive(Debug)]
pub struct NetworkInfo {
    /// The handle.
    pub handle: NetHandle,
    /// Its capabilities.
    pub capabilities: NetCapabilities,
    /// Its connection properties.
    pub properties: ConnectionProperties,
}

/// `getAllNets`, then `getNetCapabilities` and `getConnectionProperties` of each.
pub async fn list_networks(manager: &NetManager) -> netcore::Result<Vec<NetworkInfo>> {
    let mut networks = Vec::new();
    for handle in manager.get_all_nets().await? {
        networks.push(NetworkInfo {
            handle,
            capabilities: manager.get_net_capabilities(handle).await?,
            properties: manager.get_connection_properties(handle).await?,
        });
    }
    Ok(networks)
}

#[tokio::main]
async fn main() -> netcore::Result<()> {
    let manager = NetManager::new(Config::default()).await?;
    for n in list_networks(&manager).await? {
        let caps: Vec<&str> = n
            .capabilities
            .network_cap
            .iter()
            .map(|c| c.seed_name())
            .collect();
        println!(
            "netId {} on {} ({:?}): {}",
            n.handle,
            n.properties.interface_name,
            n.capabilities.bearer_types,
            caps.join(" ")
        );
    }
    Ok(())
}
