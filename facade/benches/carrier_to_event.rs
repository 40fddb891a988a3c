//! From a carrier change in the kernel to the engine's event, through the whole
//! runtime: the Ethernet bearer on rtnetlink, the engine, and a registered
//! default-network connection. Target (issue 9): median under 1 ms.
//!
//! In a network namespace of its own (needs root; skipped otherwise) with a veth pair
//! b0/b0p, each flap sets b0p down (or up) and measures, from just before the
//! request:
//! - `kernel_notification`: until a separate link watcher reads b0's carrier change;
//! - `engine_event`: until the connection gets `netLost` (or `netAvailable`).
//!
//! Prints median and p99 over 100 flaps, and writes the medians where
//! `cargo xtask bench` finds them.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use netcore::engine::NetEvent;
use netcore_facade::{Config, NetManager};
use netcore_link::LinkClient;
use netcore_link::testing::{NetNs, SKIP_MESSAGE, is_root, watch_carrier};

const FLAPS: usize = 100;
const WAIT: Duration = Duration::from_secs(5);

/// Starts the runtime with a default-network connection on a thread of its own (in
/// this thread's namespace) and forwards its events with their arrival time.
fn start_runtime() -> mpsc::Receiver<(NetEvent, Instant)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut config = Config::default();
            config.ethernet.allow = vec!["b0".into()];
            let manager = NetManager::embedded(config).await.expect("runtime starts");
            let mut connection = manager.create_net_connection(None, 0);
            connection.register().await.expect("register");
            while let Some(event) = connection.next_event().await {
                if tx.send((event, Instant::now())).is_err() {
                    return;
                }
            }
        });
    });
    rx
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn write_estimate(name: &str, median: Duration) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/criterion/carrier_to_event")
        .join(name)
        .join("new");
    if std::fs::create_dir_all(&dir).is_ok() {
        let json = format!(
            "{{\"median\":{{\"point_estimate\":{}}}}}",
            median.as_nanos()
        );
        let _ = std::fs::write(dir.join("estimates.json"), json);
    }
}

fn measure() {
    let kernel = watch_carrier("b0");
    let events = start_runtime();
    let first = events.recv_timeout(WAIT).expect("the network at start");
    assert!(matches!(first.0, NetEvent::Available(_)), "{first:?}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = runtime
        .block_on(async { LinkClient::connect() })
        .expect("netlink");
    let mut kernel_times = Vec::new();
    let mut engine_times = Vec::new();
    let mut down = false;
    for _ in 0..FLAPS {
        down = !down;
        // Drain what the last flap left (capability and property events).
        while events.try_recv().is_ok() {}
        let start = Instant::now();
        runtime
            .block_on(client.set_link_up("b0p", !down))
            .expect("flap");
        let (carrier, kernel_at) = kernel.recv_timeout(WAIT).expect("kernel notification");
        assert_eq!(carrier, !down);
        let engine_at = loop {
            let (event, at) = events.recv_timeout(WAIT).expect("engine event");
            match (&event, down) {
                (NetEvent::Lost(_), true) | (NetEvent::Available(_), false) => break at,
                _ => continue,
            }
        };
        kernel_times.push(kernel_at - start);
        engine_times.push(engine_at - start);
    }
    kernel_times.sort();
    engine_times.sort();
    let (km, kp) = (
        percentile(&kernel_times, 0.5),
        percentile(&kernel_times, 0.99),
    );
    let (em, ep) = (
        percentile(&engine_times, 0.5),
        percentile(&engine_times, 0.99),
    );
    println!("carrier_to_event over {FLAPS} flaps (from the request to set the peer down/up):");
    println!("  kernel notification  median {km:>10.3?}  p99 {kp:>10.3?}");
    println!("  engine event         median {em:>10.3?}  p99 {ep:>10.3?}");
    println!(
        "  engine after kernel  median {:>10.3?}",
        em.saturating_sub(km)
    );
    write_estimate("kernel_notification", km);
    write_estimate("engine_event", em);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !is_root() {
        println!("carrier_to_event: {SKIP_MESSAGE}");
        return;
    }
    let ns = NetNs::create().expect("namespace");
    ns.add_veth("b0", "b0p").expect("veth");
    ns.run(measure).expect("run in the namespace");
}
