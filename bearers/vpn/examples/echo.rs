//! Establishes a VPN (10.99.0.1/24, a route to 10.98.0.0/24) and answers the pings
//! sent through it, printing the bearer's reports. Needs root (`CAP_NET_ADMIN`);
//! run it inside a network namespace of your own:
//!
//! ```text
//! ip netns add vpn-demo
//! ip netns exec vpn-demo cargo run -p netcore-bearer-vpn --example echo
//! ip netns exec vpn-demo ping -c 3 10.98.0.5    # in another shell
//! ```

use netcore::{Bearer, LinkAddress, ReportSink};
use netcore_bearer_vpn::{VpnBearer, VpnConfig, VpnSpec};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let bearer = VpnBearer::new(VpnConfig::default())?;
    let runner = bearer.clone();
    tokio::spawn(async move {
        let sink = ReportSink::new(|event| println!("bearer: {event:?}"));
        if let Err(e) = runner.run(sink).await {
            eprintln!("bearer stopped: {e}");
        }
    });

    let mut spec = VpnSpec::new(LinkAddress::new("10.99.0.1".parse()?, 24)?);
    spec.routes.push(("10.98.0.0".parse()?, 24));
    spec.dns.push("10.98.0.53".parse()?);
    // The app: this process's uid.
    let tunnel = bearer.establish(netcore::AppId::current(), spec).await?;
    println!(
        "VPN up on {}; ping 10.98.0.5 to see echo replies (Ctrl-C to stop)",
        tunnel.name()
    );
    tokio::select! {
        answered = netcore_bearer_vpn::testing::echo_pings(&tunnel) => {
            println!("tunnel failed after {} replies", answered?);
        }
        _ = tokio::signal::ctrl_c() => println!("closing {}", tunnel.name()),
    }
    tunnel.close();
    Ok(())
}
