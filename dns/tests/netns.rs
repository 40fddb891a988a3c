//! Binding is real: in a private network namespace (made by the test, removed with
//! it), a network bound to a veth interface never reaches a DNS server that a
//! network bound to `lo` reaches. Needs root, `unshare` and `ip` (iproute2): without
//! them the test says it is skipped and why.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Answer, TestServer, ip, net};
use hickory_proto::rr::RecordType;
use netcore::{Error, FamilyType, NetAddress, QueryOptions, ResolveFailure};
use netcore_dns::{AppId, DnsConfig, DnsService};

const MARK: &str = "NETCORE_DNS_TEST_IN_NETNS";
const TEST_NAME: &str = "a_network_bound_to_another_interface_never_reaches_loopback_servers";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    })
}

#[test]
fn a_network_bound_to_another_interface_never_reaches_loopback_servers() {
    if std::env::var_os(MARK).is_none() {
        if !is_root() {
            eprintln!("SKIPPED {TEST_NAME}: needs root to make a network namespace");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let status = Command::new("unshare")
            .args(["--net", "--", "sh", "-c"])
            .arg(
                "ip link set lo up && ip link add nc-a type veth peer name nc-b \
                 && ip link set nc-a up && ip link set nc-b up && exec \"$0\" \"$@\"",
            )
            .arg(&exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(MARK, "1")
            .status();
        match status {
            Ok(status) => assert!(status.success(), "the test in the namespace failed"),
            Err(e) => eprintln!("SKIPPED {TEST_NAME}: cannot run unshare: {e}"),
        }
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = TestServer::start("127.0.0.1").await;
        server.set("via-lo.test", Answer::Addresses(vec![ip("10.5.5.5")], 60));
        server.set("via-veth.test", Answer::Addresses(vec![ip("10.6.6.6")], 60));
        let mut config = DnsConfig::default();
        config.timeout = Duration::from_millis(300);
        config.attempts = 0;
        let dns = DnsService::new(config);
        dns.set_network(net(100), &server.properties("lo")).unwrap();
        dns.set_network(net(101), &server.properties("nc-a"))
            .unwrap();
        let v4 = QueryOptions {
            family: FamilyType::Ipv4,
        };
        let app = AppId::from_uid(10_001);

        let on_lo = dns
            .get_addresses_by_name(app, Some(net(100)), "via-lo.test", v4)
            .await
            .unwrap();
        assert_eq!(on_lo, vec![NetAddress::new(ip("10.5.5.5"), 0)]);

        let on_veth = dns
            .get_addresses_by_name(app, Some(net(101)), "via-veth.test", v4)
            .await;
        match on_veth {
            Err(Error::Resolve { failure, .. }) => assert!(
                matches!(
                    failure,
                    ResolveFailure::Timeout | ResolveFailure::ServerFailure
                ),
                "{failure:?}"
            ),
            other => panic!("the lookup bound to nc-a must fail, got {other:?}"),
        }
        assert_eq!(
            server.count("via-veth.test", RecordType::A),
            0,
            "a query bound to nc-a reached the server on lo"
        );
        assert_eq!(server.count("via-lo.test", RecordType::A), 1);
    });
}
