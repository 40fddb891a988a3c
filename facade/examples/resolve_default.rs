//! Seed 000, "Resolving the domain name of the default network to obtain all IP
//! addresses".
//!
//! `cargo run -p netcore-facade --example resolve_default -- example.com`

use netcore::NetAddress;
use netcore_facade::{Config, NetManager};

/// `getAddressesByName` on the default network: every address of `host`.
pub async fn resolve_on_default(
    manager: &NetManager,
    host: &str,
) -> netcore::Result<Vec<NetAddress>> {
    manager.get_addresses_by_name(host).await
}

#[tokio::main]
async fn main() -> netcore::Result<()> {
    let host = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "example.com".into());
    let manager = NetManager::new(Config::default()).await?;
    for address in resolve_on_default(&manager, &host).await? {
        println!("{}", address.ip());
    }
    Ok(())
}
