//! Prints the cellular bearer's reports from this host's ModemManager (system bus,
//! or `bus_address` of the configuration): every connected bearer as `Appeared`,
//! then changes. Observes only; connects and disconnects nothing.
//! Run with `cargo run -p netcore-bearer-cellular --example observe_cellular [CONFIG.json]`.

use netcore::{Bearer, BearerEvent, NetCap, ReportSink};
use netcore_bearer_cellular::{CellularBearer, CellularConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> netcore::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let config = match std::env::args().nth(1) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| netcore::Error::invalid(format!("cannot read {path}: {e}")))?;
            CellularConfig::from_json(&text)?
        }
        None => CellularConfig::default(),
    };
    let bearer = CellularBearer::new(config)?;
    bearer
        .run(ReportSink::new(|event| match event {
            BearerEvent::Appeared { key, info } | BearerEvent::Changed { key, info } => {
                println!(
                    "{key}: {} on {}, quality {:?}, metered {}, mms {}, dns {:?}",
                    info.identifier.as_deref().unwrap_or("?"),
                    info.properties.interface_name,
                    info.quality,
                    !info.capabilities.contains(NetCap::NotMetered),
                    info.capabilities.contains(NetCap::Mms),
                    info.properties
                        .dnses
                        .iter()
                        .map(|d| d.ip())
                        .collect::<Vec<_>>(),
                );
            }
            BearerEvent::Gone { key } => println!("{key}: gone"),
            other => println!("{other:?}"),
        }))
        .await
}
