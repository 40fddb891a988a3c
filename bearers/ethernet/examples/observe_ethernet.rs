//! Prints the Ethernet bearer's reports for this host: every current network as
//! `Appeared`, then changes. Observes only; changes nothing.
//! Run with `cargo run -p netcore-bearer-ethernet --example observe_ethernet [CONFIG.json]`.

use netcore::{Bearer, BearerEvent, ReportSink};
use netcore_bearer_ethernet::{EthernetBearer, EthernetConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> netcore::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let config = match std::env::args().nth(1) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| netcore::Error::invalid(format!("cannot read {path}: {e}")))?;
            EthernetConfig::from_json(&text)?
        }
        None => EthernetConfig::default(),
    };
    let bearer = EthernetBearer::new(config)?;
    bearer
        .run(ReportSink::new(|event| match event {
            BearerEvent::Appeared { key, info } | BearerEvent::Changed { key, info } => {
                let p = &info.properties;
                println!(
                    "{key}: mtu={} addresses={:?} routes={:?} bandwidth={:?} kbit/s ipv4={} ipv6={}",
                    p.mtu,
                    p.link_addresses
                        .iter()
                        .map(|a| format!("{}/{}", a.address().ip(), a.prefix_length()))
                        .collect::<Vec<_>>(),
                    p.routes
                        .iter()
                        .map(|r| format!(
                            "{}/{}{}",
                            r.destination.address().ip(),
                            r.destination.prefix_length(),
                            if r.has_gateway { format!(" via {}", r.gateway.ip()) } else { String::new() }
                        ))
                        .collect::<Vec<_>>(),
                    info.link_down_bandwidth_kbps,
                    p.is_ipv4_link_valid,
                    p.is_ipv6_link_valid,
                );
            }
            BearerEvent::Gone { key } => println!("{key}: gone"),
            other => println!("{other:?}"),
        }))
        .await
}
