//! Seed 000, "Querying the connection information of the default network": its
//! bearer type, capabilities and connection properties.
//!
//! `cargo run -p netcore-facade --example default_capabilities`

use netcore::{ConnectionProperties, NetCapabilities, NetHandle};
use netcore_facade::{Config, NetManager};

/// `getDefaultNet`, then `getNetCapabilities` and `getConnectionProperties`; `None`
/// when there is no default network (netId 0).
pub async fn default_network(
    manager: &NetManager,
) -> netcore::Result<Option<(NetHandle, NetCapabilities, ConnectionProperties)>> {
    let net = manager.get_default_net().await?;
    if net.is_none() {
        return Ok(None);
    }
    let caps = manager.get_net_capabilities(net).await?;
    let props = manager.get_connection_properties(net).await?;
    Ok(Some((net, caps, props)))
}

#[tokio::main]
async fn main() -> netcore::Result<()> {
    let manager = NetManager::new(Config::default()).await?;
    match default_network(&manager).await? {
        None => println!("no default network"),
        Some((net, caps, props)) => {
            let bearers: Vec<&str> = caps.bearer_types.iter().map(|b| b.seed_name()).collect();
            let names: Vec<&str> = caps.network_cap.iter().map(|c| c.seed_name()).collect();
            println!("default network {net}: {}", bearers.join(","));
            println!("capabilities: {}", names.join(" "));
            println!("interface {} mtu {}", props.interface_name, props.mtu);
        }
    }
    Ok(())
}
