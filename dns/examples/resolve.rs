//! Resolves a name on a network with its own DNS server, with a custom rule and the
//! IDNA helpers.
//!
//! ```text
//! cargo run -p netcore-dns --example resolve -- [SERVER_IP:PORT] [HOST] [INTERFACE]
//! ```
//!
//! Without a server, only the custom rule and IDNA parts run. Binding to an interface
//! needs CAP_NET_RAW on Linux before 5.7; an empty interface means unbound sockets.

use std::net::SocketAddr;

use netcore::{ConnectionProperties, ConversionProcess, NetAddress, NetHandle, QueryOptions};
use netcore_dns::{AppId, DnsConfig, DnsService, get_dns_ascii, get_dns_unicode};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let mut args = std::env::args().skip(1);
    let server: Option<SocketAddr> = args.next().map(|s| s.parse()).transpose()?;
    let host = args.next().unwrap_or_else(|| "www.example.com".into());
    let interface = args.next().unwrap_or_default();

    let dns = DnsService::new(DnsConfig::default());
    let app = AppId::from_uid(10_001);

    // IDNA, as the seed's getDnsAscii / getDnsUnicode.
    let ascii = get_dns_ascii("www.示例.com", ConversionProcess::NoConfiguration)?;
    let unicode = get_dns_unicode(&ascii, ConversionProcess::NoConfiguration)?;
    println!("getDnsAscii(www.示例.com) = {ascii}; getDnsUnicode({ascii}) = {unicode}");

    // A custom rule answers this app's lookups without asking a server.
    dns.add_custom_dns_rule(app, "printer.home", &["192.168.1.20"])?;
    let found = dns
        .get_addresses_by_name(app, None, "printer.home", QueryOptions::default())
        .await?;
    println!("printer.home for {app}: {found:?}");
    let other = dns
        .get_addresses_by_name(
            AppId::from_uid(10_002),
            None,
            "printer.home",
            QueryOptions::default(),
        )
        .await;
    println!("printer.home for app 10002: {other:?}");

    if let Some(server) = server {
        let network = NetHandle::new(100)?;
        let properties = ConnectionProperties {
            interface_name: interface,
            dnses: vec![NetAddress::new(server.ip(), server.port())],
            ..Default::default()
        };
        dns.set_network(network, &properties)?;
        dns.set_default_network(network);
        match dns
            .get_addresses_by_name(app, Some(network), &host, QueryOptions::default())
            .await
        {
            Ok(addresses) => println!("{host} on network {network}: {addresses:?}"),
            Err(e) => println!("{host} on network {network}: error {}: {e}", e.code()),
        }
    }
    Ok(())
}
