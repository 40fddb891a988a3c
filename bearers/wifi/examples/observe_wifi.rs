//! Prints the Wi-Fi bearer's reports for this host's wireless interfaces (those
//! wpa_supplicant manages): every connected network as `Appeared`, then changes.
//! Observes only; changes nothing.
//! Run with `cargo run -p netcore-bearer-wifi --example observe_wifi [CONFIG.json]`.

use netcore::{Bearer, BearerEvent, ReportSink};
use netcore_bearer_wifi::{WifiBearer, WifiConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> netcore::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let config = match std::env::args().nth(1) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| netcore::Error::invalid(format!("cannot read {path}: {e}")))?;
            WifiConfig::from_json(&text)?
        }
        None => WifiConfig::default(),
    };
    if config.interfaces.is_empty() {
        let wireless: Vec<String> = netcore_link::LinkClient::connect()?
            .links()
            .await?
            .into_iter()
            .filter(|l| l.wireless)
            .map(|l| l.name)
            .collect();
        if wireless.is_empty() {
            println!("no wireless interfaces on this host; waiting for kernel changes");
        } else {
            println!("wireless interfaces: {}", wireless.join(", "));
        }
    }
    let bearer = WifiBearer::new(config)?;
    bearer
        .run(ReportSink::new(|event| match event {
            BearerEvent::Appeared { key, info } | BearerEvent::Changed { key, info } => {
                let p = &info.properties;
                println!(
                    "{key}: network id {:?}, quality {:?}, metered {}, mtu {}, addresses {:?}",
                    info.identifier,
                    info.quality,
                    !info.capabilities.contains(netcore::NetCap::NotMetered),
                    p.mtu,
                    p.link_addresses
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
