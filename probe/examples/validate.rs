//! Runs one connectivity check on an interface and prints what it found.
//!
//! ```text
//! cargo run -p netcore-probe --example validate -- IFACE [HTTP_URL HTTPS_URL]
//! # e.g. against a local server answering 204:
//! cargo run -p netcore-probe --example validate -- lo http://127.0.0.1:8080/generate_204 https://127.0.0.1:8443/generate_204
//! ```
//!
//! Without URLs the defaults (Google's generate_204) are probed; probe host names
//! resolve through the DNS servers in `NETCORE_DNS` (comma-separated addresses).
//! `RUST_LOG=netcore_probe=debug` shows each probe's answer.

use std::sync::Arc;

use netcore::{ConnectionProperties, NetAddress, NetHandle};
use netcore_probe::{NetworkTarget, Validator, ValidatorConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let mut args = std::env::args().skip(1);
    let interface: String = args
        .next()
        .ok_or("usage: validate IFACE [HTTP_URL HTTPS_URL]")?;
    let mut config = ValidatorConfig::default();
    if let (Some(http), Some(https)) = (args.next(), args.next()) {
        config.http_url = http;
        config.https_url = https;
    }
    let dns_servers = std::env::var("NETCORE_DNS")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|ip| ip.parse().map(|ip| NetAddress::new(ip, 53)))
        .collect::<Result<Vec<_>, _>>()?;
    // netcore-dns resolves the probe host names with those servers, over the interface.
    let net = NetHandle::new(100)?;
    let dns = netcore_dns::DnsService::new(netcore_dns::DnsConfig::default());
    let properties = ConnectionProperties {
        interface_name: interface.clone(),
        dnses: dns_servers,
        ..ConnectionProperties::default()
    };
    dns.set_network(net, &properties)?;
    let target = NetworkTarget::new(net, interface).with_resolver(Arc::new(dns));
    let result = Validator::new(config)?.validate(&target).await;
    println!("{result:?}");
    Ok(())
}
