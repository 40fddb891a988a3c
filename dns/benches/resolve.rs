//! Benchmarks of `netcore-dns`: a cache hit, a rule hit, and an uncached lookup
//! against a DNS server on loopback side by side with the system resolver
//! (getaddrinfo through `std::net::ToSocketAddrs`) asking the same server.
//!
//! For getaddrinfo to ask the loopback server, the benchmark re-runs itself (when
//! root) in a private mount namespace (`unshare --mount`, private propagation) where a
//! temporary resolv.conf naming only `127.0.0.77` is bind-mounted over
//! `/etc/resolv.conf`; the server then listens on `127.0.0.77:53`. The host's own
//! resolv.conf is never touched. Before each getaddrinfo measurement the benchmark
//! checks that the resolv.conf it sees names only the loopback server; otherwise (not
//! root, no `unshare`) the getaddrinfo case is skipped with a message, so no query
//! ever leaves loopback.
//!
//! Both sides ask for IPv4 and IPv6 (getaddrinfo with `AF_UNSPEC`, `FamilyType::All`),
//! with no cache (`cache_capacity: 0` on our side; no nscd on the machine).

#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::ToSocketAddrs;
use std::process::Command;
use std::time::Duration;

use common::{Answer, TestServer, ip, net};
use criterion::{Criterion, criterion_group};
use netcore::{FamilyType, QueryOptions};
use netcore_dns::{AppId, DnsConfig, DnsService};

const SERVER_IP: &str = "127.0.0.77";
const NAMESPACE_MARK: &str = "NETCORE_DNS_BENCH_NAMESPACE";
const RESOLV_CONF: &str = "nameserver 127.0.0.77\noptions timeout:1 attempts:1\n";

/// Re-runs this benchmark inside a private mount namespace with our resolv.conf, when
/// possible. Returns only when it did not (or when already inside).
fn enter_namespace() {
    if std::env::var_os(NAMESPACE_MARK).is_some() || !is_root() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let resolv =
        std::env::temp_dir().join(format!("netcore-dns-bench-{}.conf", std::process::id()));
    if std::fs::write(&resolv, RESOLV_CONF).is_err() {
        return;
    }
    let status = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(r#"mount --bind "$1" /etc/resolv.conf && shift && exec "$@""#)
        .arg("sh")
        .arg(&resolv)
        .arg(&exe)
        .args(std::env::args_os().skip(1))
        .env(NAMESPACE_MARK, "1")
        .status();
    let _ = std::fs::remove_file(&resolv);
    match status {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => eprintln!("note: cannot run unshare ({e}); getaddrinfo is not compared"),
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Whether getaddrinfo would ask only our loopback server.
fn resolv_conf_is_ours() -> bool {
    std::env::var_os(NAMESPACE_MARK).is_some()
        && std::fs::read_to_string("/etc/resolv.conf").is_ok_and(|s| s == RESOLV_CONF)
}

fn benches(c: &mut Criterion) {
    // The server runs on a runtime thread of its own, so that it answers while the
    // measured side blocks (getaddrinfo).
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let in_namespace = resolv_conf_is_ours();
    let server = server_rt.block_on(async {
        if in_namespace {
            TestServer::start_at(SERVER_IP, 53).await
        } else {
            TestServer::start("127.0.0.1").await
        }
    });
    server.set(
        "bench.test",
        Answer::Addresses(vec![ip("10.7.7.7"), ip("fd00::77")], 300),
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = AppId::from_uid(10_001);
    let ipv4 = QueryOptions {
        family: FamilyType::Ipv4,
    };
    let iface = common::loopback_interface();

    let cached = DnsService::new(DnsConfig::default());
    cached
        .set_network(net(100), &server.properties(iface))
        .unwrap();
    cached.set_default_network(net(100));
    cached
        .add_custom_dns_rule(app, "rule.test", &["192.0.2.1"])
        .unwrap();
    let warm = rt.block_on(cached.get_addresses_by_name(app, None, "bench.test", ipv4));
    assert_eq!(warm.unwrap().len(), 1);

    c.bench_function("cache_hit", |b| {
        b.iter(|| rt.block_on(cached.get_addresses_by_name(app, None, "bench.test", ipv4)))
    });
    c.bench_function("rule_hit", |b| {
        b.iter(|| rt.block_on(cached.get_addresses_by_name(app, None, "rule.test", ipv4)))
    });

    let mut config = DnsConfig::default();
    config.cache_capacity = 0;
    let uncached = DnsService::new(config);
    uncached
        .set_network(net(100), &server.properties(iface))
        .unwrap();
    uncached.set_default_network(net(100));
    let mut group = c.benchmark_group("uncached_lookup");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("netcore_dns", |b| {
        b.iter(|| {
            let found = rt.block_on(uncached.get_addresses_by_name(
                app,
                None,
                "bench.test",
                QueryOptions::default(),
            ));
            assert_eq!(found.map(|a| a.len()).ok(), Some(2));
        })
    });
    if resolv_conf_is_ours() {
        group.bench_function("getaddrinfo", |b| {
            b.iter(|| {
                let found: Vec<_> = ("bench.test", 0).to_socket_addrs().unwrap().collect();
                assert_eq!(found.len(), 2);
            })
        });
    } else {
        eprintln!(
            "note: getaddrinfo is not compared: it needs root and unshare to use a private \
             resolv.conf naming the loopback server"
        );
    }
    group.finish();
}

criterion_group!(dns_benches, benches);

fn main() {
    enter_namespace();
    dns_benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
