//! System tests (root): real TUN devices in a network namespace, established through
//! the bearer running inside it, carrying real ICMP through a forwarder in the test.

use std::net::IpAddr;
use std::time::Duration;

use netcore::{
    AppId, Bearer, BearerEvent, LinkAddress, NetBearType, NetCap, NetworkInfo, ReportSink,
};
use netcore_bearer_vpn::testing::echo_pings;
use netcore_bearer_vpn::{CoveredApps, VpnBearer, VpnConfig, VpnSpec};
use netcore_link::testing::{NetNs, skip_unless_root};
use netcore_link::{LinkClient, LinkError};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// How long a test waits for something that should happen at once (a liveness bound,
/// not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(10);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn spec() -> VpnSpec {
    let mut spec = VpnSpec::new(LinkAddress::new(ip("10.99.0.1"), 24).unwrap());
    spec.routes.push((ip("10.98.0.0"), 24));
    spec.dns.push(ip("10.98.0.53"));
    spec.disallowed_apps.push(10_999);
    spec
}

/// Starts the bearer's `run` and returns the receiver of its reports.
fn start(bearer: &VpnBearer) -> UnboundedReceiver<BearerEvent> {
    start_run(bearer).0
}

/// Starts the bearer's `run`; returns the receiver of its reports and the task.
fn start_run(bearer: &VpnBearer) -> (UnboundedReceiver<BearerEvent>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = unbounded_channel();
    let runner = bearer.clone();
    let task = tokio::spawn(async move {
        let sink = ReportSink::new(move |event| {
            let _ = tx.send(event);
        });
        if let Err(e) = runner.run(sink).await {
            panic!("the bearer failed: {e}");
        }
    });
    (rx, task)
}

async fn next(rx: &mut UnboundedReceiver<BearerEvent>) -> BearerEvent {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("no report from the bearer in time")
        .expect("the bearer stopped reporting")
}

/// Waits for reports of `key` until its network has the spec's address and route;
/// checks that the first report of it is `Appeared`.
async fn wait_configured(rx: &mut UnboundedReceiver<BearerEvent>, key: &str) -> NetworkInfo {
    let mut appeared = false;
    loop {
        match next(rx).await {
            BearerEvent::Appeared { key: k, info } if k == key => {
                appeared = true;
                if configured(&info) {
                    return info;
                }
            }
            BearerEvent::Changed { key: k, info } if k == key => {
                assert!(appeared, "Changed before Appeared for {key}");
                if configured(&info) {
                    return info;
                }
            }
            other => panic!("unexpected report {other:?}"),
        }
    }
}

fn configured(info: &NetworkInfo) -> bool {
    let p = &info.properties;
    p.link_addresses
        .iter()
        .any(|a| a.address().ip() == ip("10.99.0.1") && a.prefix_length() == 24)
        && p.routes
            .iter()
            .any(|r| r.destination.address().ip() == ip("10.98.0.0"))
}

async fn wait_gone(rx: &mut UnboundedReceiver<BearerEvent>, key: &str) {
    loop {
        match next(rx).await {
            BearerEvent::Gone { key: k } if k == key => return,
            BearerEvent::Changed { key: k, .. } if k == key => {}
            other => panic!("unexpected report {other:?}"),
        }
    }
}

/// Waits until the kernel has no interface `name`.
async fn wait_no_link(name: &str) {
    let link = LinkClient::connect().unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match link.link_by_name(name).await {
            Err(LinkError::NoSuchLink(_)) => return,
            Ok(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            other => panic!("{name} is still in the kernel: {other:?}"),
        }
    }
}

/// Pings 10.98.0.5 three times from the namespace with `ping` (when installed),
/// then three times with a raw ICMP socket of the test (always, so that a machine
/// without `ping` still carries real ICMP). Returns what happened; panics unless
/// every echo was answered.
async fn ping_through_the_vpn(namespace: &str) -> String {
    let mut result = String::new();
    let has_ping = std::process::Command::new("ping")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if has_ping {
        let out = tokio::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                namespace,
                "ping",
                "-c",
                "3",
                "-W",
                "1",
                "10.98.0.5",
            ])
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && stdout.contains(" 0% packet loss"),
            "ping failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        result.push_str(&stdout);
    } else {
        result.push_str("ping is not installed (iputils-ping): raw ICMP socket only\n");
    }
    // Created on this thread, so inside the namespace; used on a blocking thread.
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::RAW,
        Some(socket2::Protocol::ICMPV4),
    )
    .unwrap();
    let raw = tokio::task::spawn_blocking(move || raw_ping(&socket, 3))
        .await
        .unwrap();
    result.push_str(&raw);
    result
}

/// Sends `count` echo requests to 10.98.0.5 and waits for each reply.
fn raw_ping(socket: &socket2::Socket, count: u16) -> String {
    use std::io::Read;
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let to = socket2::SockAddr::from(std::net::SocketAddr::new(ip("10.98.0.5"), 0));
    for seq in 1..=count {
        let mut request = vec![8, 0, 0, 0, 0x4e, 0x43, 0, seq as u8, b'v', b'p', b'n', b'!'];
        let c = netcore_bearer_vpn::testing::internet_checksum(&request);
        request[2..4].copy_from_slice(&c.to_be_bytes());
        socket.send_to(&request, &to).unwrap();
        let mut answered = false;
        for _ in 0..10 {
            let mut reply = [0u8; 1500];
            // socket2's `Read` fills a plain buffer (no `MaybeUninit`).
            let Ok(len) = (&mut &*socket).read(&mut reply) else {
                break;
            };
            let reply = &reply[..len];
            let header = usize::from(reply[0] & 0x0f) * 4;
            if reply.get(header) == Some(&0) && reply.get(header + 7) == Some(&(seq as u8)) {
                answered = true;
                break;
            }
        }
        assert!(answered, "no echo reply to request {seq}");
    }
    format!("{count} packets transmitted, {count} received, 0% packet loss (raw socket)")
}

#[test]
fn vpn_in_a_namespace_carries_icmp_and_goes_when_closed() {
    if skip_unless_root() {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter("netcore_bearer_vpn=debug")
        .with_test_writer()
        .try_init();
    let ns = NetNs::create().unwrap();
    let namespace = ns.name().to_owned();
    ns.run_async(|| async move {
        let bearer = VpnBearer::new(VpnConfig::default()).unwrap();
        let mut reports = start(&bearer);
        let tunnel = bearer
            .establish(AppId::from_uid(10_123), spec())
            .await
            .unwrap();
        let name = tunnel.name().to_owned();
        assert!(name.starts_with("vpn"), "{name}");
        assert_eq!(tunnel.owner(), AppId::from_uid(10_123));

        // The facade's view.
        assert_eq!(bearer.owner_of(&name), Some(AppId::from_uid(10_123)));
        assert_eq!(bearer.vpn_apps(), vec![AppId::from_uid(10_123)]);
        bearer.require_vpn_app(AppId::from_uid(10_123)).unwrap();
        assert_eq!(
            bearer
                .require_vpn_app(AppId::from_uid(10_000))
                .unwrap_err()
                .code(),
            2_100_301
        );
        let covered = bearer.covered_apps(&name).unwrap();
        assert_eq!(covered, CoveredApps::AllExcept([10_999].into()));
        assert!(
            covered.covers(AppId::from_uid(10_000)) && !covered.covers(AppId::from_uid(10_999))
        );
        let covering: Vec<String> = bearer
            .vpns_covering(AppId::from_uid(10_000))
            .into_iter()
            .map(|v| v.key)
            .collect();
        assert_eq!(covering, vec![name.clone()]);
        assert!(bearer.vpns_covering(AppId::from_uid(10_999)).is_empty());
        let vpn = bearer.vpn(&name).unwrap();
        assert_eq!(
            (vpn.owner, vpn.dns.clone()),
            (AppId::from_uid(10_123), vec![ip("10.98.0.53")])
        );

        // The network: a VPN without NOT_VPN, with the kernel's address and route.
        let info = wait_configured(&mut reports, &name).await;
        assert_eq!(info.bearer_type, NetBearType::Vpn);
        assert!(info.capabilities.contains(NetCap::Internet));
        assert!(!info.capabilities.contains(NetCap::NotVpn));
        assert_eq!(info.properties.interface_name, name);
        assert_eq!(info.properties.mtu, 1500);
        assert_eq!(
            info.properties
                .dnses
                .iter()
                .map(|d| d.ip())
                .collect::<Vec<_>>(),
            vec![ip("10.98.0.53")]
        );

        // Real ICMP through the TUN device: the test answers the echo requests.
        let result = tokio::select! {
            answered = echo_pings(&tunnel) => panic!("the tunnel failed: {answered:?}"),
            result = ping_through_the_vpn(&namespace) => result,
        };
        println!("{result}");

        // Closing: Gone, forgotten, and the device is gone from the kernel.
        tunnel.close();
        wait_gone(&mut reports, &name).await;
        assert_eq!(bearer.owner_of(&name), None);
        assert!(bearer.vpn_apps().is_empty());
        wait_no_link(&name).await;
    })
    .unwrap();
}

#[test]
fn refusals_and_a_descriptor_handed_on() {
    if skip_unless_root() {
        return;
    }
    let ns = NetNs::create().unwrap();
    ns.run_async(|| async move {
        let mut config = VpnConfig::default();
        config.max_tunnels_per_app = 1;
        let bearer = VpnBearer::new(config).unwrap();
        let mut reports = start(&bearer);

        // A name in use is 2100001 and leaves nothing behind.
        let mut named = spec();
        named.name = Some("lo".into());
        assert_eq!(
            bearer
                .establish(AppId::from_uid(1), named)
                .await
                .unwrap_err()
                .code(),
            2_100_001
        );
        assert!(bearer.vpns().is_empty());

        // A named tunnel; a second one of the same app is over its quota (2101022).
        let mut named = spec();
        named.name = Some("nctun7".into());
        let tunnel = bearer.establish(AppId::from_uid(1), named).await.unwrap();
        assert_eq!(tunnel.name(), "nctun7");
        let e = bearer
            .establish(AppId::from_uid(1), spec())
            .await
            .unwrap_err();
        assert_eq!(e.code(), 2_101_022, "{e}");
        wait_configured(&mut reports, "nctun7").await;

        // The descriptor handed on (as to the app's process): the VPN lives while
        // it is open, and goes when it closes.
        let fd = tunnel.into_owned_fd().unwrap();
        assert_eq!(bearer.owner_of("nctun7"), Some(AppId::from_uid(1)));
        drop(fd);
        wait_gone(&mut reports, "nctun7").await;
        wait_no_link("nctun7").await;
        assert_eq!(bearer.owner_of("nctun7"), None);

        // Another app, with IPv6 too; dropping its tunnel is closing it.
        let mut dual = spec();
        dual.addresses
            .push(LinkAddress::new(ip("fd00:99::1"), 64).unwrap());
        dual.routes.push((ip("fd00:98::"), 64));
        dual.mtu = 1400;
        let tunnel = bearer.establish(AppId::from_uid(2), dual).await.unwrap();
        let name = tunnel.name().to_owned();
        let mut info = wait_configured(&mut reports, &name).await;
        let has_ipv6 = |info: &NetworkInfo| {
            let p = &info.properties;
            p.link_addresses
                .iter()
                .any(|a| a.address().ip() == ip("fd00:99::1"))
                && p.routes
                    .iter()
                    .any(|r| r.destination.address().ip() == ip("fd00:98::"))
        };
        while !has_ipv6(&info) {
            match next(&mut reports).await {
                BearerEvent::Changed { key, info: now } if key == name => info = now,
                other => panic!("unexpected report {other:?}"),
            }
        }
        assert_eq!(info.properties.mtu, 1400);
        drop(tunnel);
        wait_gone(&mut reports, &name).await;
        assert!(bearer.vpns().is_empty());
    })
    .unwrap();
}

#[test]
fn a_restarted_run_reports_every_vpn_appeared() {
    if skip_unless_root() {
        return;
    }
    let ns = NetNs::create().unwrap();
    ns.run_async(|| async move {
        let bearer = VpnBearer::new(VpnConfig::default()).unwrap();
        // Established before any `run`: reported when one starts.
        let first = bearer.establish(AppId::from_uid(1), spec()).await.unwrap();
        let mut second_spec = spec();
        second_spec.addresses = vec![LinkAddress::new(ip("10.97.0.1"), 24).unwrap()];
        second_spec.routes = vec![(ip("10.96.0.0"), 24)];
        let second = bearer
            .establish(AppId::from_uid(2), second_spec)
            .await
            .unwrap();
        let (mut reports, task) = start_run(&bearer);
        let mut keys = Vec::new();
        while keys.len() < 2 {
            match next(&mut reports).await {
                BearerEvent::Appeared { key, .. } => keys.push(key),
                BearerEvent::Changed { .. } => {}
                other => panic!("unexpected report {other:?}"),
            }
        }
        keys.sort();
        let mut names = vec![first.name().to_owned(), second.name().to_owned()];
        names.sort();
        assert_eq!(keys, names);

        // The host runs the bearer again (after a failure): Appeared again.
        task.abort();
        let mut reports = start(&bearer);
        let mut again = Vec::new();
        while again.len() < 2 {
            if let BearerEvent::Appeared { key, .. } = next(&mut reports).await {
                again.push(key);
            }
        }
        again.sort();
        assert_eq!(again, names);
        assert_eq!(
            bearer.vpn_apps(),
            vec![AppId::from_uid(1), AppId::from_uid(2)]
        );
        let first_name = first.name().to_owned();
        first.close();
        wait_gone(&mut reports, &first_name).await;
        assert_eq!(bearer.vpn_apps(), vec![AppId::from_uid(2)]);
        drop(second);
    })
    .unwrap();
}

#[test]
fn removing_an_app_closes_its_vpns_only() {
    if skip_unless_root() {
        return;
    }
    let ns = NetNs::create().unwrap();
    ns.run_async(|| async move {
        let bearer = VpnBearer::new(VpnConfig::default()).unwrap();
        let mut reports = start(&bearer);
        let leaving = AppId::from_uid(3);
        let staying = AppId::from_uid(4);
        let gone = bearer.establish(leaving, spec()).await.unwrap();
        let gone_name = gone.name().to_owned();
        wait_configured(&mut reports, &gone_name).await;
        let mut other_spec = spec();
        other_spec.addresses = vec![LinkAddress::new(ip("10.97.0.1"), 24).unwrap()];
        other_spec.routes = vec![(ip("10.96.0.0"), 24)];
        let kept = bearer.establish(staying, other_spec).await.unwrap();
        loop {
            match next(&mut reports).await {
                BearerEvent::Appeared { key, .. } if key == kept.name() => break,
                BearerEvent::Changed { .. } => {}
                other => panic!("unexpected report {other:?}"),
            }
        }

        assert_eq!(bearer.remove_app(leaving).await, 1);
        wait_gone(&mut reports, &gone_name).await;
        assert_eq!(bearer.vpn_apps(), vec![staying]);
        assert_eq!(
            bearer.require_vpn_app(leaving).unwrap_err().code(),
            2_100_301
        );
        let link = LinkClient::connect().unwrap();
        assert!(
            matches!(
                link.link_by_name(&gone_name).await,
                Err(LinkError::NoSuchLink(_))
            ),
            "the departed app's device is removed from the kernel"
        );
        link.link_by_name(kept.name()).await.unwrap();
        assert_eq!(
            bearer.remove_app(leaving).await,
            0,
            "nothing left to remove"
        );
        drop(gone);
        drop(kept);
    })
    .unwrap();
}
