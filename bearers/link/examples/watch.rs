//! Prints the links of this network namespace, then every change the kernel reports.
//! Observes only. Run with `cargo run -p netcore-link --example watch`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), netcore_link::LinkError> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let mut watcher = netcore_link::LinkWatcher::start().await?;
    for link in watcher.state().links() {
        println!(
            "{:>3} {:<16} {:?} carrier={} mtu={} mac={} speed={:?} addresses={:?}",
            link.index,
            link.name,
            link.kind,
            link.has_carrier(),
            link.mtu,
            link.mac
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            link.speed_mbps,
            watcher
                .state()
                .addresses_of(link.index)
                .iter()
                .map(|a| format!("{}/{}", a.address, a.prefix_len))
                .collect::<Vec<_>>()
        );
    }
    loop {
        println!("{:?}", watcher.next_event().await?);
    }
}
