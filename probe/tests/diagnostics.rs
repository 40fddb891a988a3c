//! Probe series and traceroute against 127.0.0.1 with real sockets, and bad input.

use std::sync::Arc;
use std::time::Duration;

use netcore::{Error, NetHandle, PacketsType, ResolveFailure, TraceRouteOptions};
use netcore_dns::{DnsConfig, DnsService};
use netcore_probe::{Diagnostics, DiagnosticsConfig, IcmpSocket};

/// Diagnostics bound to `interface`.
fn on(interface: &str) -> Diagnostics {
    let mut config = DiagnosticsConfig::default();
    config.interface = Some(interface.into());
    Diagnostics::new(config)
}

fn quick() -> Diagnostics {
    on("lo")
}

fn assert_sane_rtt(rtt: [f64; 4]) {
    let [min, avg, max, sd] = rtt;
    assert!(min > 0.0, "{rtt:?}");
    assert!(min <= avg && avg <= max, "{rtt:?}");
    assert!(sd >= 0.0 && sd <= max - min, "{rtt:?}");
}

#[tokio::test]
async fn icmp_series_to_loopback_loses_nothing() {
    let result = quick()
        .probe_series("127.0.0.1", 4, Duration::from_millis(20), PacketsType::Icmp)
        .await
        .unwrap();
    assert_eq!(result.loss_rate, 0);
    assert_sane_rtt(result.rtt);
}

#[tokio::test]
async fn udp_series_to_loopback_is_answered_by_port_unreachable() {
    let result = quick()
        .probe_series("127.0.0.1", 4, Duration::from_millis(20), PacketsType::Udp)
        .await
        .unwrap();
    assert_eq!(result.loss_rate, 0);
    assert_sane_rtt(result.rtt);
}

#[tokio::test]
async fn query_probe_result_sends_one_probe_a_second() {
    let result = quick().query_probe_result("127.0.0.1", 1).await.unwrap();
    assert_eq!(result.loss_rate, 0);
    assert_sane_rtt(result.rtt);
}

#[tokio::test]
async fn a_probe_that_cannot_be_sent_ends_the_series_at_once() {
    // Binding to an interface that does not exist fails every send; the series of
    // 1000 one-second probes must return after the first with everything lost.
    let diagnostics = on("nctest-none0");
    for packets in [PacketsType::Icmp, PacketsType::Udp] {
        let series = diagnostics.probe_series("127.0.0.1", 1000, Duration::from_secs(1), packets);
        let result = tokio::time::timeout(Duration::from_secs(20), series)
            .await
            .expect("the series did not end at the failed send")
            .unwrap();
        assert_eq!(result.loss_rate, 100);
        assert_eq!(result.rtt, [0.0; 4]);
    }
    let error = diagnostics
        .query_trace_route("127.0.0.1", None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), 2100003);
}

#[tokio::test]
async fn bad_durations_are_2100001() {
    let diagnostics = quick();
    for duration in [0, -1, 1001, i64::MAX] {
        let error = diagnostics
            .query_probe_result("127.0.0.1", duration)
            .await
            .unwrap_err();
        assert_eq!(error.code(), 2100001, "duration {duration}");
    }
    for interval in [Duration::ZERO, Duration::from_secs(61)] {
        let error = diagnostics
            .probe_series("127.0.0.1", 1, interval, PacketsType::Icmp)
            .await
            .unwrap_err();
        assert_eq!(error.code(), 2100001, "interval {interval:?}");
    }
    let error = diagnostics.query_probe_result("  ", 1).await.unwrap_err();
    assert_eq!(error.code(), 2100001);
}

#[tokio::test]
async fn traceroute_to_loopback_is_one_hop() {
    for packets in [PacketsType::Icmp, PacketsType::Udp] {
        let options = TraceRouteOptions::new(30, packets).unwrap();
        let hops = quick()
            .query_trace_route("127.0.0.1", Some(options))
            .await
            .unwrap();
        assert_eq!(hops.len(), 1, "{packets:?}: {hops:?}");
        assert_eq!(hops[0].jump_no, 1);
        assert_eq!(hops[0].address, "127.0.0.1");
        assert_sane_rtt(hops[0].rtt);
    }
    let hops = Diagnostics::default()
        .query_trace_route("127.0.0.1", None)
        .await
        .unwrap();
    assert_eq!(hops.len(), 1);
}

#[tokio::test]
async fn max_jump_number_outside_1_to_30_is_2100001() {
    for bad in [0, 31, -1, 1000] {
        assert_eq!(
            TraceRouteOptions::new(bad, PacketsType::Icmp)
                .unwrap_err()
                .code(),
            2100001
        );
        let json = serde_json::json!({ "maxJumpNumber": bad });
        assert!(serde_json::from_value::<TraceRouteOptions>(json).is_err());
    }
}

#[tokio::test]
async fn unresolvable_names_fail_with_the_resolvers_error() {
    // A real netcore-dns service that knows no network.
    let dns = Arc::new(DnsService::new(DnsConfig::default()));
    let diagnostics = quick().with_resolver(NetHandle::NONE, dns);
    let error = diagnostics
        .query_probe_result("www.example.com", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Resolve {
                failure: ResolveFailure::NoNetwork,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.code(), 2100003);
    let error = diagnostics
        .query_trace_route("www.example.com", None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), 2100003);
}

#[tokio::test]
async fn names_without_a_resolver_are_2100003() {
    let error = quick()
        .query_trace_route("www.example.com", None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), 2100003);
}

#[tokio::test]
async fn ipv6_loopback_is_probed_and_traced_too() {
    for packets in [PacketsType::Icmp, PacketsType::Udp] {
        let result = quick()
            .probe_series("::1", 3, Duration::from_millis(10), packets)
            .await
            .unwrap();
        assert_eq!(result.loss_rate, 0, "{packets:?}");
        assert_sane_rtt(result.rtt);
        let options = TraceRouteOptions::new(30, packets).unwrap();
        let hops = quick()
            .query_trace_route("::1", Some(options))
            .await
            .unwrap();
        assert_eq!(hops.len(), 1, "{packets:?}: {hops:?}");
        assert_eq!(hops[0].address, "::1");
    }
}

/// Whether this process may open ICMP datagram sockets (`net.ipv4.ping_group_range`).
fn ping_group_allows_us() -> bool {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap();
    let bounds: Vec<u32> = range
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let gid = nix::unistd::getegid().as_raw();
    bounds[0] <= gid && gid <= bounds[1]
}

#[tokio::test]
async fn each_icmp_socket_kind_works_where_allowed() {
    let with = |icmp_socket| {
        let mut config = DiagnosticsConfig::default();
        config.interface = Some("lo".into());
        config.icmp_socket = icmp_socket;
        Diagnostics::new(config)
    };
    let interval = Duration::from_millis(10);
    let datagram = with(IcmpSocket::Datagram)
        .probe_series("127.0.0.1", 2, interval, PacketsType::Icmp)
        .await
        .unwrap();
    assert_eq!(
        datagram.loss_rate,
        if ping_group_allows_us() { 0 } else { 100 }
    );
    let raw = with(IcmpSocket::Raw)
        .probe_series("127.0.0.1", 2, interval, PacketsType::Icmp)
        .await
        .unwrap();
    let root = nix::unistd::geteuid().is_root();
    assert_eq!(raw.loss_rate, if root { 0 } else { 100 });
}
