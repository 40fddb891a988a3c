//! Seed 000, "Subscribing to status changes of the specified network": a Wi-Fi
//! network with INTERNET, waited for with a timeout.
//!
//! `cargo run -p netcore-facade --example subscribe_network`

use netcore::engine::NetEvent;
use netcore::{NetBearType, NetCap, NetSpecifier};
use netcore_facade::{Config, NetManager};

/// Registers for a Wi-Fi network with INTERNET and returns the first `count` events
/// (`netAvailable` ... or `netUnavailable` after `timeout_ms`), then unregisters.
pub async fn subscribe_wifi(
    manager: &NetManager,
    timeout_ms: u32,
    count: usize,
) -> netcore::Result<Vec<NetEvent>> {
    let spec = NetSpecifier::new(&[NetBearType::Wifi], &[NetCap::Internet]);
    let mut connection = manager.create_net_connection(Some(spec), timeout_ms);
    connection.register().await?;
    let mut events = Vec::new();
    while events.len() < count {
        match connection.next_event().await {
            Some(event) => {
                let done = matches!(event, NetEvent::Unavailable);
                events.push(event);
                if done {
                    break;
                }
            }
            None => break,
        }
    }
    connection.unregister().await?;
    Ok(events)
}

#[tokio::main]
async fn main() -> netcore::Result<()> {
    let manager = NetManager::new(Config::default()).await?;
    for event in subscribe_wifi(&manager, 10_000, 1).await? {
        println!("{}: {:?}", event.name(), event.net_handle());
    }
    Ok(())
}
