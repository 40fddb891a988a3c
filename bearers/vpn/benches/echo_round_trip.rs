//! Packet path through a VPN, and the cost of the checks.
//!
//! - `vpn/echo_round_trip` (root): an ICMP echo request sent from a raw socket in a
//!   namespace, routed into the TUN device, read by a forwarder from the tunnel's
//!   descriptor, answered (`testing::echo_pings`) and delivered back to the socket.
//!   Without root it is skipped with a message.
//! - `vpn/spec_check`: [`VpnSpec::check`] of a spec with 2 addresses, 64 routes and
//!   100 disallowed apps.
//! - `vpn/icmp_echo_reply`: answering one 84-byte echo request.

use std::io::Read;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use netcore::LinkAddress;
use netcore_bearer_vpn::testing::{echo_pings, icmp_echo_reply, internet_checksum};
use netcore_bearer_vpn::{VpnBearer, VpnConfig, VpnSpec};
use netcore_link::testing::{NetNs, is_root};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn spec() -> VpnSpec {
    let mut spec = VpnSpec::new(LinkAddress::new(ip("10.99.0.1"), 24).unwrap());
    spec.addresses
        .push(LinkAddress::new(ip("fd00:99::1"), 64).unwrap());
    spec.routes = (0..64u8)
        .map(|i| (IpAddr::from([10, 98, i, 0]), 24))
        .collect();
    spec.disallowed_apps = (10_000..10_100).collect();
    spec
}

/// The ICMP part of echo request `sequence` (56 bytes of data), as a raw socket sends it.
fn echo_request(sequence: u16) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x4e, 0x43];
    icmp.extend_from_slice(&sequence.to_be_bytes());
    icmp.extend_from_slice(&[0x5a; 56]);
    let checksum = internet_checksum(&icmp);
    icmp[2..4].copy_from_slice(&checksum.to_be_bytes());
    icmp
}

fn echo_round_trip(c: &mut Criterion) {
    if !is_root() {
        println!("vpn/echo_round_trip skipped: needs root (creates a namespace and a TUN device)");
        return;
    }
    let ns = NetNs::create().unwrap();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let forwarder = ns.spawn(move || async move {
        let bearer = VpnBearer::new(VpnConfig::default()).unwrap();
        let mut spec = VpnSpec::new(LinkAddress::new(ip("10.99.0.1"), 24).unwrap());
        spec.routes.push((ip("10.98.0.0"), 24));
        let tunnel = bearer
            .establish(netcore::AppId::from_uid(1), spec)
            .await
            .unwrap();
        ready_tx.send(()).unwrap();
        tokio::select! {
            result = echo_pings(&tunnel) => panic!("the tunnel failed: {result:?}"),
            _ = stop_rx => {}
        }
    });
    ready.recv().unwrap();
    let socket = ns
        .run(|| {
            socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::RAW,
                Some(socket2::Protocol::ICMPV4),
            )
        })
        .unwrap()
        .unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let to = socket2::SockAddr::from(std::net::SocketAddr::new(ip("10.98.0.5"), 0));
    let mut sequence = 0u16;
    let mut reply = [0u8; 1500];
    c.bench_function("vpn/echo_round_trip", |b| {
        b.iter(|| {
            sequence = sequence.wrapping_add(1);
            socket.send_to(&echo_request(sequence), &to).unwrap();
            loop {
                let len = (&mut &socket).read(&mut reply).expect("no echo reply");
                let header = usize::from(reply[0] & 0x0f) * 4;
                if len >= header + 8
                    && reply[header] == 0
                    && reply[header + 6..header + 8] == sequence.to_be_bytes()
                {
                    break;
                }
            }
        })
    });
    let _ = stop.send(());
    forwarder.join().unwrap().unwrap();
}

fn checks(c: &mut Criterion) {
    let spec = spec();
    c.bench_function("vpn/spec_check", |b| b.iter(|| spec.check().unwrap()));
    let mut packet = vec![
        0x45, 0, 0, 84, 0, 1, 0x40, 0, 64, 1, 0, 0, 10, 99, 0, 1, 10, 98, 0, 5,
    ];
    let checksum = internet_checksum(&packet);
    packet[10..12].copy_from_slice(&checksum.to_be_bytes());
    packet.extend_from_slice(&echo_request(1));
    c.bench_function("vpn/icmp_echo_reply", |b| {
        b.iter(|| icmp_echo_reply(std::hint::black_box(&packet)).unwrap())
    });
}

criterion_group!(benches, checks, echo_round_trip);
criterion_main!(benches);
