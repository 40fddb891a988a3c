//! Seed 000, "Checking whether the default network supports Internet access".
//!
//! `cargo run -p netcore-facade --example check_internet`

use netcore::NetCap;
use netcore_facade::{Config, NetManager, blocking};

/// What the check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Internet {
    /// There is no default network.
    NoDefaultNetwork,
    /// A connectivity check is running: try again later.
    Checking,
    /// The default network reaches the internet.
    Validated,
    /// The default network did not pass the check.
    NotValidated,
}

/// `getDefaultNetSync`, then `getNetCapabilitiesSync` and the seed's reading of
/// CHECKING_CONNECTIVITY and VALIDATED.
pub fn check_internet(manager: &NetManager) -> netcore::Result<Internet> {
    let net = blocking::get_default_net(manager)?;
    if net.is_none() {
        return Ok(Internet::NoDefaultNetwork);
    }
    let caps = blocking::get_net_capabilities(manager, net)?.network_cap;
    Ok(if caps.contains(NetCap::CheckingConnectivity) {
        Internet::Checking
    } else if caps.contains(NetCap::Validated) {
        Internet::Validated
    } else {
        Internet::NotValidated
    })
}

#[tokio::main]
async fn main() -> netcore::Result<()> {
    let manager = NetManager::new(Config::default()).await?;
    println!("{:?}", check_internet(&manager)?);
    Ok(())
}
