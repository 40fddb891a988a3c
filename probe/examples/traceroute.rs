//! Traces the route to an address and probes it, printing the seed's JSON forms.
//!
//! ```text
//! cargo run -p netcore-probe --example traceroute -- 127.0.0.1 [icmp|udp]
//! ```

use std::time::Duration;

use netcore::{PacketsType, TraceRouteOptions};
use netcore_probe::{Diagnostics, DiagnosticsConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let mut args = std::env::args().skip(1);
    let destination = args
        .next()
        .ok_or("usage: traceroute DESTINATION [icmp|udp]")?;
    let packets = match args.next().as_deref() {
        None | Some("icmp") => PacketsType::Icmp,
        Some("udp") => PacketsType::Udp,
        Some(other) => return Err(format!("unknown packets type {other:?}").into()),
    };
    let diagnostics = Diagnostics::new(DiagnosticsConfig::default());
    let hops = diagnostics
        .query_trace_route(&destination, Some(TraceRouteOptions::new(30, packets)?))
        .await?;
    println!("{}", serde_json::to_string_pretty(&hops)?);
    let probe = diagnostics
        .probe_series(&destination, 5, Duration::from_millis(200), packets)
        .await?;
    println!("{}", serde_json::to_string(&probe)?);
    Ok(())
}
