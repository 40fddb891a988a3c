//! Prints the Bluetooth bearer's reports from this host's BlueZ (system bus, or
//! `bus_address` of the configuration): every connected PAN device as `Appeared`,
//! then changes. Observes only; connects and disconnects nothing.
//! Run with `cargo run -p netcore-bearer-bluetooth --example observe_bluetooth [CONFIG.json]`.

use netcore::{Bearer, BearerEvent, NetCap, ReportSink};
use netcore_bearer_bluetooth::{BluetoothBearer, BluetoothConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> netcore::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let config = match std::env::args().nth(1) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| netcore::Error::invalid(format!("cannot read {path}: {e}")))?;
            BluetoothConfig::from_json(&text)?
        }
        None => BluetoothConfig::default(),
    };
    let bearer = BluetoothBearer::new(config)?;
    bearer
        .run(ReportSink::new(|event| match event {
            BearerEvent::Appeared { key, info } | BearerEvent::Changed { key, info } => {
                println!(
                    "{key}: {} on {}, metered {}, addresses {:?}",
                    info.identifier.as_deref().unwrap_or("?"),
                    info.properties.interface_name,
                    !info.capabilities.contains(NetCap::NotMetered),
                    info.properties
                        .link_addresses
                        .iter()
                        .map(|a| format!("{}/{}", a.address().ip(), a.prefix_length()))
                        .collect::<Vec<_>>(),
                );
            }
            BearerEvent::Gone { key } => println!("{key}: gone"),
            other => println!("{other:?}"),
        }))
        .await
}
