//! System tests with network namespaces (needs root; skipped with a printed reason
//! otherwise): a chain host → r1 → r2 → r3 → target of real routers for traceroute and
//! loss, and validation and captive-portal servers behind a veth.
//!
//! Namespaces come from `netcore_link::testing::NetNs` and are deleted when dropped,
//! also when a test fails; servers run on a thread inside their namespace and stop
//! when the test's handle to them is dropped.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use netcore::engine::ValidationResult;
use netcore::{NetHandle, PacketsType, TraceRouteOptions};
use netcore_link::testing::{NetNs, skip_unless_root};
use netcore_probe::{
    Diagnostics, DiagnosticsConfig, IcmpSocket, NetworkTarget, Validator, ValidatorConfig,
};
use support::{Behaviour, TestCa, serve_in};

/// Runs a shell command inside `ns` and fails the test when it fails.
fn sh(ns: &NetNs, script: &str) {
    let output = Command::new("ip")
        .args(["netns", "exec", ns.name(), "sh", "-c", script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Five namespaces: host, r1, r2, r3, target. Link i joins node i (10.{i+1}.0.1) and
/// node i+1 (10.{i+1}.0.2, and fd00:{i+1}::1 and ::2); every node routes towards the target, routers forward,
/// and the routers further away route 10.1.0.0/24 (fd00:1::/64) back.
fn chain() -> Vec<NetNs> {
    let nodes: Vec<NetNs> = (0..5).map(|_| NetNs::create().unwrap()).collect();
    for i in 0..4 {
        let (left, right) = (format!("nct-l{i}"), format!("nct-r{i}"));
        nodes[i].add_veth_to(&left, &right, &nodes[i + 1]).unwrap();
        let v4 = |host: u8| format!("10.{}.0.{host}/24", i + 1);
        let v6 = |host: u8| format!("fd00:{}::{host}/64", i + 1);
        nodes[i].ip(&["addr", "add", &v4(1), "dev", &left]).unwrap();
        nodes[i + 1]
            .ip(&["addr", "add", &v4(2), "dev", &right])
            .unwrap();
        nodes[i]
            .ip(&["-6", "addr", "add", &v6(1), "dev", &left, "nodad"])
            .unwrap();
        nodes[i + 1]
            .ip(&["-6", "addr", "add", &v6(2), "dev", &right, "nodad"])
            .unwrap();
    }
    for (i, node) in nodes.iter().enumerate() {
        let (gateway, gateway6) = if i < 4 {
            (format!("10.{}.0.2", i + 1), format!("fd00:{}::2", i + 1))
        } else {
            ("10.4.0.1".to_owned(), "fd00:4::1".to_owned())
        };
        node.ip(&["route", "add", "default", "via", &gateway])
            .unwrap();
        node.ip(&["-6", "route", "add", "default", "via", &gateway6])
            .unwrap();
        if (2..4).contains(&i) {
            node.ip(&["route", "add", "10.1.0.0/24", "via", &format!("10.{i}.0.1")])
                .unwrap();
            node.ip(&[
                "-6",
                "route",
                "add",
                "fd00:1::/64",
                "via",
                &format!("fd00:{i}::1"),
            ])
            .unwrap();
        }
        // Forward, and answer every probe (no ICMP rate limit).
        sh(
            node,
            "echo 1 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/ipv4/icmp_ratelimit; \
             echo 1 > /proc/sys/net/ipv6/conf/all/forwarding; echo 0 > /proc/sys/net/ipv6/icmp/ratelimit",
        );
    }
    // Wait (bounded) until duplicate address detection has finished everywhere: a
    // router whose link-local address is still tentative does not route IPv6 yet.
    for _ in 0..100 {
        if nodes.iter().all(|n| {
            n.ip(&["-6", "addr", "show", "tentative"])
                .unwrap()
                .trim()
                .is_empty()
        }) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    nodes
}

const TARGET: &str = "10.4.0.2";

fn diagnostics(icmp_socket: IcmpSocket) -> Diagnostics {
    let mut config = DiagnosticsConfig::default();
    config.reply_timeout_ms = 500;
    config.hop_timeout_ms = 500;
    config.interface = None;
    config.icmp_socket = icmp_socket;
    Diagnostics::new(config)
}

fn addresses(hops: &[netcore::TraceRouteInfo]) -> Vec<String> {
    hops.iter().map(|h| h.address.clone()).collect()
}

#[test]
fn traceroute_reports_each_router_then_the_target() {
    if skip_unless_root() {
        return;
    }
    let nodes = chain();
    let host = &nodes[0];
    // Let ICMP datagram sockets be used in the host namespace too.
    sh(
        host,
        "echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range",
    );
    let expected = ["10.1.0.2", "10.2.0.2", "10.3.0.2", "10.4.0.2"];
    let cases = [
        (PacketsType::Icmp, IcmpSocket::Datagram),
        (PacketsType::Icmp, IcmpSocket::Raw),
        (PacketsType::Udp, IcmpSocket::Auto),
    ];
    for (packets, socket) in cases {
        let hops = host
            .run_async(|| async move {
                let options = TraceRouteOptions::new(30, packets).unwrap();
                diagnostics(socket)
                    .query_trace_route(TARGET, Some(options))
                    .await
            })
            .unwrap()
            .unwrap();
        assert_eq!(addresses(&hops), expected, "{packets:?} over {socket:?}");
        for (i, hop) in hops.iter().enumerate() {
            assert_eq!(hop.jump_no, i as u32 + 1);
            assert!(hop.rtt[0] > 0.0 && hop.rtt[0] <= hop.rtt[2], "{hop:?}");
        }
    }
}

#[test]
fn traceroute_over_ipv6_reports_each_router_then_the_target() {
    if skip_unless_root() {
        return;
    }
    let nodes = chain();
    let host = &nodes[0];
    sh(
        host,
        "echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range",
    );
    let expected = ["fd00:1::2", "fd00:2::2", "fd00:3::2", "fd00:4::2"];
    let cases = [
        (PacketsType::Icmp, IcmpSocket::Datagram),
        (PacketsType::Icmp, IcmpSocket::Raw),
        (PacketsType::Udp, IcmpSocket::Auto),
    ];
    for (packets, socket) in cases {
        let hops = host
            .run_async(|| async move {
                let options = TraceRouteOptions::new(30, packets).unwrap();
                diagnostics(socket)
                    .query_trace_route("fd00:4::2", Some(options))
                    .await
            })
            .unwrap()
            .unwrap();
        assert_eq!(addresses(&hops), expected, "{packets:?} over {socket:?}");
    }
}

#[test]
fn traceroute_stops_at_max_jump_number_and_marks_silent_hops() {
    if skip_unless_root() {
        return;
    }
    let nodes = chain();
    let run = |max: i64| {
        nodes[0]
            .run_async(|| async move {
                let options = TraceRouteOptions::new(max, PacketsType::Udp).unwrap();
                diagnostics(IcmpSocket::Auto)
                    .query_trace_route(TARGET, Some(options))
                    .await
            })
            .unwrap()
            .unwrap()
    };
    assert_eq!(addresses(&run(2)), ["10.1.0.2", "10.2.0.2"]);
    // r2 stops sending time exceeded: its hop is "*" and the trace goes on.
    sh(
        &nodes[2],
        "nft add table ip nctest && nft 'add chain ip nctest out { type filter hook output priority 0; }' \
         && nft add rule ip nctest out icmp type time-exceeded drop",
    );
    let hops = run(30);
    assert_eq!(addresses(&hops), ["10.1.0.2", "*", "10.3.0.2", "10.4.0.2"]);
    assert_eq!(hops[1].rtt, [0.0; 4]);
}

/// Drops `percent` of the packets `sender` sends through `device` to `router`: tc
/// netem on the device when the kernel has it, else an nftables rule with a random
/// number generator in the router's forward hook (a drop in the sender's own output
/// hook would fail the send with EPERM rather than lose the packet).
fn add_loss(sender: &NetNs, device: &str, router: &NetNs, router_device: &str, percent: u32) {
    let netem = Command::new("ip")
        .args([
            "netns",
            "exec",
            sender.name(),
            "tc",
            "qdisc",
            "add",
            "dev",
            device,
            "root",
            "netem",
            "loss",
        ])
        .arg(format!("{percent}%"))
        .output()
        .unwrap();
    if !netem.status.success() {
        println!(
            "tc netem unavailable ({}); dropping with nftables numgen in the router instead",
            String::from_utf8_lossy(&netem.stderr).trim()
        );
        sh(
            router,
            &format!(
                "nft add table ip nctestloss && nft 'add chain ip nctestloss lossy {{ type filter hook forward priority 0; }}' \
                 && nft add rule ip nctestloss lossy iifname {router_device} numgen random mod 100 '<' {percent} drop"
            ),
        );
    }
}

#[test]
fn loss_rate_follows_real_packet_loss() {
    if skip_unless_root() {
        return;
    }
    let nodes = chain();
    let host = &nodes[0];
    let series = |count: i64| {
        host.run_async(|| async move {
            diagnostics(IcmpSocket::Auto)
                .probe_series(TARGET, count, Duration::from_millis(10), PacketsType::Icmp)
                .await
        })
        .unwrap()
        .unwrap()
    };
    let clean = series(20);
    assert_eq!(clean.loss_rate, 0);
    assert!(clean.rtt[0] > 0.0);
    add_loss(host, "nct-l0", &nodes[1], "nct-r0", 30);
    let lossy = series(100);
    println!("with 30 % loss: {lossy:?}");
    // 30 % of 100 probes: the band is over four standard deviations wide each way.
    assert!((12..=50).contains(&lossy.loss_rate), "{lossy:?}");
    assert!(lossy.rtt[0] > 0.0);
}

#[test]
fn a_series_without_a_route_returns_at_once() {
    if skip_unless_root() {
        return;
    }
    let lonely = NetNs::create().unwrap();
    let result = lonely
        .run_async(|| async {
            let diagnostics = diagnostics(IcmpSocket::Auto);
            let series =
                diagnostics.probe_series(TARGET, 1000, Duration::from_secs(1), PacketsType::Icmp);
            tokio::time::timeout(Duration::from_secs(20), series).await
        })
        .unwrap()
        .expect("the series did not stop at the failed send")
        .unwrap();
    assert_eq!(result.loss_rate, 100);
}

#[test]
fn validation_and_portal_over_a_bound_veth() {
    if skip_unless_root() {
        return;
    }
    let client = NetNs::create().unwrap();
    let server = NetNs::create().unwrap();
    client.add_veth_to("nct-c0", "nct-s0", &server).unwrap();
    client
        .ip(&["addr", "add", "10.9.0.1/24", "dev", "nct-c0"])
        .unwrap();
    server
        .ip(&["addr", "add", "10.9.0.2/24", "dev", "nct-s0"])
        .unwrap();
    let ca = TestCa::new();
    let tls = ca.server_config(&["10.9.0.2"]);
    let at = |port: u16| SocketAddr::from(([10, 9, 0, 2], port));
    let _servers = serve_in(
        &server,
        vec![
            (at(80), Behaviour::no_content(), None),
            (at(443), Behaviour::no_content(), Some(tls)),
            (
                at(8080),
                Behaviour::redirect("http://10.9.0.2:8080/login"),
                None,
            ),
        ],
    );
    let config = |http: &str, https: &str| {
        let mut config = ValidatorConfig::default();
        config.http_url = http.into();
        config.https_url = https.into();
        config.first_result_timeout_ms = 500;
        config.overall_timeout_ms = 2_000;
        config.extra_root_certs_pem = vec![ca.pem.clone()];
        config.use_webpki_roots = false;
        config
    };
    let check = |config: ValidatorConfig, interface: &'static str| {
        client
            .run_async(|| async move {
                let target = NetworkTarget::new(NetHandle::new(100).unwrap(), interface);
                Validator::new(config).unwrap().validate(&target).await
            })
            .unwrap()
    };
    let good = config(
        "http://10.9.0.2/generate_204",
        "https://10.9.0.2/generate_204",
    );
    assert_eq!(check(good.clone(), "nct-c0"), ValidationResult::Validated);
    // Bound to another interface, the same probes cannot get out.
    assert_eq!(check(good, "lo"), ValidationResult::Failed);
    let portal = config(
        "http://10.9.0.2:8080/generate_204",
        "https://10.9.0.2:8443/generate_204",
    );
    assert_eq!(
        check(portal, "nct-c0"),
        ValidationResult::Portal {
            url: "http://10.9.0.2:8080/login".into()
        }
    );
}
