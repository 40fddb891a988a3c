//! The runtime's bounds: a subscriber that never reads, one that falls too far
//! behind, and a bearer flooding reports, with simulated bearers.

use std::sync::Arc;
use std::time::Duration;

use netcore::engine::NetEvent;
use netcore::sim::SimBearer;
use netcore::{AppId, NetBearType, NetHandle, NetworkInfo};
use netcore_runtime::{Config, MERGE_AFTER_UNREAD, Runtime, Subscription};

const APP: AppId = AppId::from_uid(10_001);

fn wifi(bandwidth: u32) -> NetworkInfo {
    let mut info = NetworkInfo::new(NetBearType::Wifi, "wlan0");
    info.link_up_bandwidth_kbps = Some(bandwidth);
    info
}

/// Polls `done` until it holds (a liveness bound, not a timing assertion).
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The process's resident memory in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Every queued event, as `name(netId)`.
fn names(events: &mut Subscription) -> Vec<String> {
    std::iter::from_fn(|| events.try_recv())
        .map(|e| {
            format!(
                "{}({})",
                e.name(),
                e.net_handle().unwrap_or(NetHandle::NONE)
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_stays_bounded_and_still_sees_the_switch() {
    let wifi_bearer = Arc::new(SimBearer::new(NetBearType::Wifi, "wifi"));
    let eth_bearer = Arc::new(SimBearer::new(NetBearType::Ethernet, "eth"));
    let runtime = Runtime::builder(Config::default())
        .bearer(wifi_bearer.clone())
        .bearer(eth_bearer.clone())
        .start()
        .unwrap();
    let id = runtime.next_connection_id();
    let mut stuck = runtime.register(APP, id, None, 0).unwrap();
    wifi_bearer.connect("wlan0", wifi(0));
    eventually("the Wi-Fi network", || stuck.unread() >= 3).await;
    let wlan = runtime.read(|e| e.default_net());

    let before = resident_bytes();
    const CHANGES: u32 = 100_000;
    for bandwidth in 1..=CHANGES {
        wifi_bearer.update("wlan0", wifi(bandwidth));
    }
    eventually("every change applied", || {
        runtime
            .read(|e| e.net_capabilities(wlan))
            .is_ok_and(|caps| caps.link_up_bandwidth_kbps == Some(CHANGES))
    })
    .await;
    let grown = resident_bytes().saturating_sub(before);
    let unread = stuck.unread();
    assert!(
        unread <= MERGE_AFTER_UNREAD + 1,
        "{unread} events wait for a subscriber that never reads"
    );
    // 100,000 unmerged events and reports would take tens of MiB.
    assert!(grown < 8 << 20, "the process grew by {grown} bytes");
    assert!(stuck.error().is_none());

    // Ethernet comes: the default moves, and the stuck subscriber gets it in order.
    eth_bearer.connect("eth0", NetworkInfo::new(NetBearType::Ethernet, "eth0"));
    eventually("the switch", || {
        runtime.read(|e| e.default_net()) != wlan && stuck.unread() > unread
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut last_caps = None;
    let mut seen = Vec::new();
    while let Some(event) = stuck.try_recv() {
        if let NetEvent::CapabilitiesChange(info) = &event
            && info.net_handle == wlan
        {
            last_caps = info.net_cap.link_up_bandwidth_kbps;
        }
        seen.push(format!(
            "{}({})",
            event.name(),
            event.net_handle().unwrap_or(NetHandle::NONE)
        ));
    }
    assert_eq!(seen[0], "netAvailable(100)");
    assert_eq!(last_caps, Some(CHANGES), "the latest capabilities arrive");
    let lost = seen
        .iter()
        .position(|s| s == "netLost(100)")
        .expect("netLost of the old default");
    assert_eq!(
        seen[lost..lost + 4],
        [
            "netLost(100)",
            "netAvailable(101)",
            "netCapabilitiesChange(101)",
            "netConnectionPropertiesChange(101)",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_past_its_limit_is_disconnected_and_its_request_freed() {
    let wifi_bearer = Arc::new(SimBearer::new(NetBearType::Wifi, "wifi"));
    let cell_bearer = Arc::new(SimBearer::new(NetBearType::Cellular, "cell"));
    let mut config = Config::default();
    config.max_unread_events = 40;
    let runtime = Runtime::builder(config)
        .bearer(wifi_bearer.clone())
        .bearer(cell_bearer.clone())
        .start()
        .unwrap();
    let stuck_id = runtime.next_connection_id();
    let mut stuck = runtime.register(APP, stuck_id, None, 0).unwrap();
    let reader_id = runtime.next_connection_id();
    let mut reader = runtime.register(APP, reader_id, None, 0).unwrap();
    cell_bearer.connect("wwan0", NetworkInfo::new(NetBearType::Cellular, "wwan0"));
    wifi_bearer.connect("wlan0", wifi(0).with_quality(80));
    eventually("both networks", || {
        runtime.read(|e| e.all_nets().len()) == 2
    })
    .await;
    // The bearers start in any order: find which netId is which.
    let net_of = |bearer_type| {
        runtime.read(|e| {
            e.all_nets()
                .into_iter()
                .find(|&n| e.net_capabilities(n).unwrap().bearer_types == [bearer_type])
                .unwrap()
                .net_id()
        })
    };
    let (cell, wlan) = (net_of(NetBearType::Cellular), net_of(NetBearType::Wifi));
    eventually("Wi-Fi as the default", || {
        runtime.read(|e| e.default_net().net_id()) == wlan
    })
    .await;
    // Each switch is netLost, netAvailable and two changes: 40 unread events are
    // reached within a dozen switches. The reader keeps up.
    let mut read = Vec::new();
    for round in 0..15 {
        let (quality, default) = if round % 2 == 0 {
            (5, cell)
        } else {
            (80, wlan)
        };
        wifi_bearer.update("wlan0", wifi(0).with_quality(quality));
        eventually("the switch", || {
            runtime.read(|e| e.default_net().net_id()) == default
        })
        .await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        read.extend(names(&mut reader));
    }
    let switches = read
        .windows(2)
        .filter(|w| w[0].starts_with("netLost") && w[1].starts_with("netAvailable"))
        .count();
    assert!(switches >= 15, "{switches} switches read: {read:?}");
    assert!(reader.error().is_none());
    let error = stuck
        .error()
        .expect("the stuck subscriber was disconnected");
    assert_eq!(error.code(), 2100003);
    assert!(error.to_string().contains("unread"), "{error}");
    // What it had queued stays readable, then its events end.
    let queued = names(&mut stuck);
    assert!(queued.len() > 40, "{queued:?}");
    assert!(stuck.is_closed());
    // Its request is gone: the app's quota counts the reader's only.
    assert_eq!(runtime.read(|e| e.request_count(APP)), 1);
    assert_eq!(runtime.unregister(stuck_id).unwrap_err().code(), 2101007);
    runtime.unregister(reader_id).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_past_its_network_limit_is_refused_and_others_go_on() {
    let vpn_like = Arc::new(SimBearer::new(NetBearType::Bluetooth, "flood"));
    let wifi_bearer = Arc::new(SimBearer::new(NetBearType::Wifi, "wifi"));
    let runtime = Runtime::builder(Config::default())
        .bearer(vpn_like.clone())
        .bearer(wifi_bearer.clone())
        .start()
        .unwrap();
    let limit = netcore::engine::MAX_NETWORKS_PER_BEARER;
    for i in 0..limit + 50 {
        vpn_like.connect(
            &format!("bt{i}"),
            NetworkInfo::new(NetBearType::Bluetooth, &format!("bt{i}")),
        );
    }
    wifi_bearer.connect("wlan0", wifi(1));
    eventually("the flood and the Wi-Fi network applied", || {
        runtime.read(|e| e.all_nets().len()) == limit + 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(runtime.read(|e| e.all_nets().len()), limit + 1);
}
