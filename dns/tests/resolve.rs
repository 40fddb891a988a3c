//! Resolution against real DNS servers (hickory-server) on loopback.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Answer, TestServer, ip, loopback_interface, net};
use hickory_proto::rr::RecordType;
use netcore::{
    ConnectionProperties, Error, FamilyType, NetAddress, NetHandle, QueryOptions, Resolve,
    ResolveFailure,
};
use netcore_dns::{AppId, DnsConfig, DnsService, ManualClock};

const APP: AppId = AppId::from_uid(10_001);
const OTHER_APP: AppId = AppId::from_uid(10_002);

fn quick_config() -> DnsConfig {
    let mut config = DnsConfig::default();
    config.timeout = Duration::from_millis(300);
    config.attempts = 0;
    config
}

fn service(clock: &Arc<ManualClock>) -> DnsService {
    DnsService::with_clock(quick_config(), clock.clone())
}

fn ipv4() -> QueryOptions {
    QueryOptions {
        family: FamilyType::Ipv4,
    }
}

fn addrs(list: &[&str]) -> Vec<NetAddress> {
    list.iter().map(|s| NetAddress::new(ip(s), 0)).collect()
}

fn failure(result: netcore::Result<impl std::fmt::Debug>) -> ResolveFailure {
    match result {
        Err(Error::Resolve { failure, .. }) => failure,
        other => panic!("expected a resolve error, got {other:?}"),
    }
}

/// Two networks whose servers answer the same name differently.
async fn two_networks() -> (DnsService, TestServer, TestServer, Arc<ManualClock>) {
    let a = TestServer::start("127.0.0.1").await;
    let b = TestServer::start("127.0.0.2").await;
    a.set(
        "shared.test",
        Answer::Addresses(vec![ip("10.0.0.1"), ip("fd00::1")], 300),
    );
    b.set(
        "shared.test",
        Answer::Addresses(vec![ip("10.0.0.2"), ip("fd00::2")], 300),
    );
    let clock = Arc::new(ManualClock::new());
    let dns = service(&clock);
    let iface = loopback_interface();
    dns.set_network(net(100), &a.properties(iface)).unwrap();
    dns.set_network(net(101), &b.properties(iface)).unwrap();
    dns.set_default_network(net(100));
    (dns, a, b, clock)
}

#[tokio::test]
async fn each_network_resolves_with_its_own_servers() {
    let (dns, a, b, _) = two_networks().await;
    let on_a = dns
        .get_addresses_by_name(APP, Some(net(100)), "shared.test", QueryOptions::default())
        .await
        .unwrap();
    let on_b = dns
        .get_addresses_by_name(APP, Some(net(101)), "shared.test", QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(on_a, addrs(&["10.0.0.1", "fd00::1"]));
    assert_eq!(on_b, addrs(&["10.0.0.2", "fd00::2"]));
    assert!(on_a.iter().all(|a| a.port() == 0));
    // Each server was asked once per family, never for the other network.
    assert_eq!(a.count("shared.test", RecordType::A), 1);
    assert_eq!(b.count("shared.test", RecordType::A), 1);
    assert_eq!(a.count("shared.test", RecordType::AAAA), 1);

    // No network given: the default one; then the app's bound network.
    let default = dns
        .get_addresses_by_name(APP, None, "shared.test", ipv4())
        .await
        .unwrap();
    assert_eq!(default, addrs(&["10.0.0.1"]));
    dns.set_app_network(APP, net(101));
    let bound = dns
        .get_addresses_by_name(APP, None, "shared.test", ipv4())
        .await
        .unwrap();
    assert_eq!(bound, addrs(&["10.0.0.2"]));
    let other = dns
        .get_addresses_by_name(OTHER_APP, None, "shared.test", ipv4())
        .await
        .unwrap();
    assert_eq!(other, addrs(&["10.0.0.1"]), "binding is per app");
    // NetHandle::NONE means "no explicit network".
    let none = dns
        .get_addresses_by_name(OTHER_APP, Some(NetHandle::NONE), "shared.test", ipv4())
        .await
        .unwrap();
    assert_eq!(none, addrs(&["10.0.0.1"]));
}

#[tokio::test]
async fn family_types_and_first_address() {
    let (dns, a, _b, _) = two_networks().await;
    let v6 = QueryOptions {
        family: FamilyType::Ipv6,
    };
    assert_eq!(
        dns.get_addresses_by_name(APP, Some(net(100)), "shared.test", v6)
            .await
            .unwrap(),
        addrs(&["fd00::1"])
    );
    assert_eq!(
        a.count("shared.test", RecordType::A),
        0,
        "IPv6 only asks AAAA"
    );
    assert_eq!(
        dns.get_addresses_by_name(APP, Some(net(100)), "shared.test", ipv4())
            .await
            .unwrap(),
        addrs(&["10.0.0.1"])
    );
    let first = dns
        .get_address_by_name(APP, Some(net(101)), "shared.test")
        .await
        .unwrap();
    assert_eq!(first, NetAddress::new(ip("10.0.0.2"), 0));

    // Only IPv4 exists: asking IPv6 is "no such name", All gives the IPv4 one.
    a.set("v4only.test", Answer::Addresses(vec![ip("10.9.9.9")], 300));
    assert_eq!(
        failure(
            dns.get_addresses_by_name(APP, Some(net(100)), "v4only.test", v6)
                .await
        ),
        ResolveFailure::NotFound
    );
    assert_eq!(
        dns.get_addresses_by_name(APP, Some(net(100)), "v4only.test", QueryOptions::default())
            .await
            .unwrap(),
        addrs(&["10.9.9.9"])
    );
    // IP literals come back as they are, without a query.
    let before = a.total();
    assert_eq!(
        dns.get_addresses_by_name(APP, None, "192.0.2.1", QueryOptions::default())
            .await
            .unwrap(),
        addrs(&["192.0.2.1"])
    );
    assert_eq!(a.total(), before);
}

#[tokio::test]
async fn failures_are_told_apart() {
    let (dns, a, _b, _) = two_networks().await;
    a.set("missing.test", Answer::NxDomain(30));
    a.set("broken.test", Answer::ServFail);
    assert_eq!(
        failure(
            dns.get_addresses_by_name(APP, None, "missing.test", ipv4())
                .await
        ),
        ResolveFailure::NotFound
    );
    assert_eq!(
        failure(
            dns.get_addresses_by_name(APP, None, "broken.test", ipv4())
                .await
        ),
        ResolveFailure::ServerFailure
    );
    let err = dns
        .get_addresses_by_name(APP, None, "missing.test", ipv4())
        .await
        .unwrap_err();
    assert_eq!(err.code(), 2_100_003);
    assert!(err.to_string().contains("no such name"), "{err}");

    // A server that never answers: timeout, within the configured bound.
    let silent = std::net::UdpSocket::bind("127.0.0.3:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let props = ConnectionProperties {
        interface_name: loopback_interface().into(),
        dnses: vec![NetAddress::new(ip("127.0.0.3"), port)],
        ..Default::default()
    };
    dns.set_network(net(102), &props).unwrap();
    let started = std::time::Instant::now();
    let result = dns
        .get_addresses_by_name(APP, Some(net(102)), "any.test", ipv4())
        .await;
    assert_eq!(failure(result), ResolveFailure::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // No default network; a network without servers; an unknown handle.
    let lonely = DnsService::new(quick_config());
    assert_eq!(
        failure(
            lonely
                .get_addresses_by_name(APP, None, "a.test", ipv4())
                .await
        ),
        ResolveFailure::NoNetwork
    );
    lonely
        .set_network(net(100), &ConnectionProperties::default())
        .unwrap();
    lonely.set_default_network(net(100));
    assert_eq!(
        failure(
            lonely
                .get_addresses_by_name(APP, None, "a.test", ipv4())
                .await
        ),
        ResolveFailure::NoNetwork
    );
    let unknown = lonely
        .get_addresses_by_name(APP, Some(net(555)), "a.test", ipv4())
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), 2_100_001, "{unknown}");
}

#[tokio::test]
async fn bad_host_names_fail_without_a_query() {
    let (dns, a, _b, _) = two_networks().await;
    let long_label = format!("{}.test", "a".repeat(64));
    let long_name = vec!["abcdefghi"; 26].join(".");
    for bad in [
        "",
        "nul\0.test",
        "a..test",
        long_label.as_str(),
        long_name.as_str(),
        "xn--a.test",
        "sp ace.test",
    ] {
        let err = dns
            .get_addresses_by_name(APP, None, bad, QueryOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), 2_100_001, "{bad:?}: {err}");
        assert!(matches!(err, Error::InvalidValue(_)), "{bad:?}: {err}");
    }
    assert_eq!(a.total(), 0, "no query was sent");
}

#[tokio::test]
async fn rules_answer_first_and_only_for_their_app() {
    let (dns, a, _b, _) = two_networks().await;
    dns.add_custom_dns_rule(APP, "Shared.Test", &["192.0.2.7", "2001:db8::7"])
        .unwrap();
    let mine = dns
        .get_addresses_by_name(APP, Some(net(100)), "shared.test", QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(mine, addrs(&["192.0.2.7", "2001:db8::7"]));
    assert_eq!(
        dns.get_addresses_by_name(APP, Some(net(101)), "shared.test", ipv4())
            .await
            .unwrap(),
        addrs(&["192.0.2.7"]),
        "a rule holds on every network"
    );
    assert_eq!(a.total(), 0, "a rule answers before any server is asked");

    // The other app goes to the server.
    let theirs = dns
        .get_addresses_by_name(OTHER_APP, Some(net(100)), "shared.test", ipv4())
        .await
        .unwrap();
    assert_eq!(theirs, addrs(&["10.0.0.1"]));
    // System lookups (the Resolve trait) see no app's rule.
    let system = Resolve::resolve(&dns, net(100), "shared.test", FamilyType::Ipv4)
        .await
        .unwrap();
    assert_eq!(system, vec![ip("10.0.0.1")]);

    // A rule for a name the server does not know; remove; clear.
    dns.add_custom_dns_rule(APP, "only-rule.test", &["192.0.2.8"])
        .unwrap();
    assert_eq!(
        dns.get_address_by_name(APP, None, "only-rule.test")
            .await
            .unwrap(),
        NetAddress::new(ip("192.0.2.8"), 0)
    );
    dns.remove_custom_dns_rule(APP, "shared.test").unwrap();
    assert_eq!(
        dns.get_addresses_by_name(APP, Some(net(100)), "shared.test", ipv4())
            .await
            .unwrap(),
        addrs(&["10.0.0.1"])
    );
    dns.clear_custom_dns_rules(APP);
    assert_eq!(
        failure(
            dns.get_addresses_by_name(APP, None, "only-rule.test", ipv4())
                .await
        ),
        ResolveFailure::NotFound
    );

    // Bad rules, with the seed's codes.
    let none: [&str; 0] = [];
    assert_eq!(
        dns.add_custom_dns_rule(APP, "", &["1.2.3.4"])
            .unwrap_err()
            .code(),
        401
    );
    assert_eq!(
        dns.add_custom_dns_rule(APP, "x.test", &none)
            .unwrap_err()
            .code(),
        401
    );
    assert_eq!(
        dns.add_custom_dns_rule(APP, "x.test", &["1.2.3.4", "not-an-ip"])
            .unwrap_err()
            .code(),
        2_100_001
    );
    assert_eq!(dns.remove_custom_dns_rule(APP, "").unwrap_err().code(), 401);
    // A refused rule changed nothing.
    assert_eq!(
        failure(dns.get_addresses_by_name(APP, None, "x.test", ipv4()).await),
        ResolveFailure::NotFound
    );
}

#[tokio::test]
async fn cache_honours_ttl_with_an_injected_clock() {
    let (dns, a, _b, clock) = two_networks().await;
    a.set("ttl.test", Answer::Addresses(vec![ip("10.1.1.1")], 60));
    for _ in 0..3 {
        let got = dns
            .get_addresses_by_name(APP, None, "ttl.test", ipv4())
            .await
            .unwrap();
        assert_eq!(got, addrs(&["10.1.1.1"]));
    }
    assert_eq!(
        a.count("ttl.test", RecordType::A),
        1,
        "answered from the cache"
    );

    // Before the TTL runs out the cache answers, even though the server changed.
    a.set("ttl.test", Answer::Addresses(vec![ip("10.1.1.2")], 60));
    clock.advance(Duration::from_secs(59));
    let got = dns
        .get_addresses_by_name(APP, None, "ttl.test", ipv4())
        .await
        .unwrap();
    assert_eq!(got, addrs(&["10.1.1.1"]));
    assert_eq!(a.count("ttl.test", RecordType::A), 1);
    // After it, the server is asked again.
    clock.advance(Duration::from_secs(2));
    let got = dns
        .get_addresses_by_name(APP, None, "ttl.test", ipv4())
        .await
        .unwrap();
    assert_eq!(got, addrs(&["10.1.1.2"]));
    assert_eq!(a.count("ttl.test", RecordType::A), 2);

    // The cache is per network: the other network asks its own server.
    let _ = dns
        .get_addresses_by_name(APP, Some(net(101)), "ttl.test", ipv4())
        .await;
    assert_eq!(a.count("ttl.test", RecordType::A), 2);
}

#[tokio::test]
async fn negative_answers_are_cached_for_the_soa_ttl() {
    let (dns, a, _b, clock) = two_networks().await;
    a.set("gone.test", Answer::NxDomain(30));
    for _ in 0..2 {
        assert_eq!(
            failure(
                dns.get_addresses_by_name(APP, None, "gone.test", ipv4())
                    .await
            ),
            ResolveFailure::NotFound
        );
    }
    assert_eq!(a.count("gone.test", RecordType::A), 1);
    a.set("gone.test", Answer::Addresses(vec![ip("10.2.2.2")], 60));
    clock.advance(Duration::from_secs(29));
    assert_eq!(
        failure(
            dns.get_addresses_by_name(APP, None, "gone.test", ipv4())
                .await
        ),
        ResolveFailure::NotFound
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        dns.get_addresses_by_name(APP, None, "gone.test", ipv4())
            .await
            .unwrap(),
        addrs(&["10.2.2.2"])
    );
    assert_eq!(a.count("gone.test", RecordType::A), 2);

    // Server failures are not cached.
    a.set("flaky.test", Answer::ServFail);
    for _ in 0..2 {
        let _ = dns
            .get_addresses_by_name(APP, None, "flaky.test", ipv4())
            .await;
    }
    assert_eq!(a.count("flaky.test", RecordType::A), 2);
}

#[tokio::test]
async fn cache_is_flushed_when_servers_change_or_network_goes() {
    let (dns, a, b, _) = two_networks().await;
    let got = dns
        .get_addresses_by_name(APP, Some(net(100)), "shared.test", ipv4())
        .await
        .unwrap();
    assert_eq!(got, addrs(&["10.0.0.1"]));
    // Same properties again: nothing changes, the cache still answers.
    dns.set_network(net(100), &a.properties(loopback_interface()))
        .unwrap();
    let _ = dns
        .get_addresses_by_name(APP, Some(net(100)), "shared.test", ipv4())
        .await
        .unwrap();
    assert_eq!(a.count("shared.test", RecordType::A), 1);
    // Network 100 now uses server b: flushed, and answered by b.
    dns.set_network(net(100), &b.properties(loopback_interface()))
        .unwrap();
    let got = dns
        .get_addresses_by_name(APP, Some(net(100)), "shared.test", ipv4())
        .await
        .unwrap();
    assert_eq!(got, addrs(&["10.0.0.2"]));
    assert_eq!(b.count("shared.test", RecordType::A), 1);
    // Network 100 goes: lookups on it fail, and when it comes back its cache is empty.
    dns.remove_network(net(100));
    let gone = dns
        .get_addresses_by_name(APP, Some(net(100)), "shared.test", ipv4())
        .await
        .unwrap_err();
    assert_eq!(gone.code(), 2_100_001, "{gone}");
    assert_eq!(
        failure(
            dns.get_addresses_by_name(APP, None, "shared.test", ipv4())
                .await
        ),
        ResolveFailure::NoNetwork,
        "the default network is gone"
    );
    dns.set_network(net(100), &b.properties(loopback_interface()))
        .unwrap();
    let _ = dns
        .get_addresses_by_name(APP, Some(net(100)), "shared.test", ipv4())
        .await
        .unwrap();
    assert_eq!(b.count("shared.test", RecordType::A), 2);
}

#[tokio::test]
async fn identical_concurrent_lookups_share_one_query() {
    let (dns, a, _b, _) = two_networks().await;
    a.set(
        "slow.test",
        Answer::Delayed(
            Duration::from_millis(150),
            Box::new(Answer::Addresses(vec![ip("10.3.3.3")], 60)),
        ),
    );
    let lookups = (0..20).map(|i| {
        let dns = dns.clone();
        let app = AppId::from_uid(20_000 + i);
        tokio::spawn(async move {
            dns.get_addresses_by_name(app, None, "slow.test", ipv4())
                .await
        })
    });
    for result in futures::future::join_all(lookups).await {
        assert_eq!(result.unwrap().unwrap(), addrs(&["10.3.3.3"]));
    }
    assert_eq!(
        a.count("slow.test", RecordType::A),
        1,
        "one upstream query for 20 lookups"
    );
}

#[tokio::test]
async fn binding_to_a_missing_interface_is_a_clear_error() {
    let a = TestServer::start("127.0.0.1").await;
    let dns = DnsService::new(quick_config());
    dns.set_network(net(100), &a.properties("nc-no-such0"))
        .unwrap();
    let err = dns
        .get_addresses_by_name(APP, Some(net(100)), "shared.test", ipv4())
        .await
        .unwrap_err();
    assert_eq!(err.code(), 2_100_003);
    assert!(matches!(err, Error::Internal(_)), "{err}");
    assert!(err.to_string().contains("nc-no-such0"), "{err}");
    assert_eq!(a.total(), 0, "nothing left through another interface");
}

#[tokio::test]
async fn replies_are_bounded() {
    let (_, a, _b, _) = two_networks().await;
    let many: Vec<_> = (0..200u8).map(|i| ip(&format!("10.4.{i}.1"))).collect();
    a.set("many.test", Answer::Addresses(many, u32::MAX));
    let clock = Arc::new(ManualClock::new());
    let mut config = quick_config();
    config.max_addresses = 16;
    config.max_positive_ttl = Duration::from_secs(3600);
    let dns = DnsService::with_clock(config, clock.clone());
    dns.set_network(net(100), &a.properties(loopback_interface()))
        .unwrap();
    let got = dns
        .get_addresses_by_name(APP, Some(net(100)), "many.test", ipv4())
        .await
        .unwrap();
    assert_eq!(got.len(), 16);
    assert_eq!(got[0], NetAddress::new(ip("10.4.0.1"), 0));
    // The answer is too large for UDP: it came truncated, then whole over TCP.
    let per_lookup = a.count("many.test", RecordType::A);
    assert_eq!(per_lookup, 2, "UDP, then TCP");
    // A huge TTL is clamped to max_positive_ttl.
    clock.advance(Duration::from_secs(3599));
    let _ = dns
        .get_addresses_by_name(APP, Some(net(100)), "many.test", ipv4())
        .await
        .unwrap();
    assert_eq!(
        a.count("many.test", RecordType::A),
        per_lookup,
        "still cached"
    );
    clock.advance(Duration::from_secs(2));
    let _ = dns
        .get_addresses_by_name(APP, Some(net(100)), "many.test", ipv4())
        .await
        .unwrap();
    assert_eq!(
        a.count("many.test", RecordType::A),
        2 * per_lookup,
        "expired"
    );
}

#[test]
fn lookups_outside_a_tokio_runtime_fail_cleanly() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let a = rt.block_on(TestServer::start("127.0.0.1"));
    let dns = DnsService::new(quick_config());
    dns.set_network(net(100), &a.properties("")).unwrap();
    let result = futures::executor::block_on(dns.get_addresses_by_name(
        APP,
        Some(net(100)),
        "x.test",
        QueryOptions::default(),
    ));
    let err = result.unwrap_err();
    assert_eq!(err.code(), 2_100_003, "{err}");
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

#[tokio::test]
async fn single_label_names_use_the_network_search_domains() {
    let a = TestServer::start("127.0.0.1").await;
    a.set(
        "printer.corp.test",
        Answer::Addresses(vec![ip("10.8.8.8")], 60),
    );
    a.set("printer", Answer::Addresses(vec![ip("10.8.8.9")], 60));
    a.set("nas", Answer::Addresses(vec![ip("10.8.8.10")], 60));
    let dns = DnsService::new(quick_config());
    let mut props = a.properties(loopback_interface());
    props.domains = "home.test, corp.test".into();
    dns.set_network(net(100), &props).unwrap();
    dns.set_default_network(net(100));

    // home.test has no "printer": corp.test is tried next.
    let got = dns
        .get_addresses_by_name(APP, None, "printer", ipv4())
        .await
        .unwrap();
    assert_eq!(got, addrs(&["10.8.8.8"]));
    assert_eq!(a.count("printer.home.test", RecordType::A), 1);
    assert_eq!(a.count("printer", RecordType::A), 0);
    // Absolute names and names with a dot are not searched.
    let got = dns
        .get_addresses_by_name(APP, None, "printer.", ipv4())
        .await
        .unwrap();
    assert_eq!(got, addrs(&["10.8.8.9"]));
    // No search domain has it: the name as given.
    let got = dns
        .get_addresses_by_name(APP, None, "nas", ipv4())
        .await
        .unwrap();
    assert_eq!(got, addrs(&["10.8.8.10"]));
    assert_eq!(a.count("nas.corp.test", RecordType::A), 1);
    // The app's rule for the single label answers before any search.
    dns.add_custom_dns_rule(APP, "printer", &["192.0.2.99"])
        .unwrap();
    let before = a.total();
    let got = dns
        .get_addresses_by_name(APP, None, "printer", ipv4())
        .await
        .unwrap();
    assert_eq!(got, addrs(&["192.0.2.99"]));
    assert_eq!(a.total(), before);
    // Unknown everywhere: "no such name", naming the host as asked.
    let err = dns
        .get_addresses_by_name(APP, None, "ghost", ipv4())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Resolve { host, failure: ResolveFailure::NotFound } if host == "ghost"),
        "{err:?}"
    );
    // Changing only the search domains flushes the cache.
    props.domains = "corp.test".into();
    dns.set_network(net(100), &props).unwrap();
    let _ = dns
        .get_addresses_by_name(OTHER_APP, None, "nas", ipv4())
        .await
        .unwrap();
    assert_eq!(a.count("nas.corp.test", RecordType::A), 2);
    assert_eq!(a.count("nas.home.test", RecordType::A), 1);
}

#[tokio::test]
async fn an_unreachable_server_falls_back_to_the_next_of_the_same_network() {
    // The first server is a port nothing listens on (connection refused).
    let unused = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let bad_addr = unused.local_addr().unwrap();
    drop(unused);
    let good = TestServer::start("127.0.0.2").await;
    good.set("both.test", Answer::Addresses(vec![ip("10.9.0.1")], 60));
    let mut config = quick_config();
    config.attempts = 1;
    let dns = DnsService::new(config);
    let props = ConnectionProperties {
        interface_name: loopback_interface().into(),
        dnses: vec![
            NetAddress::new(bad_addr.ip(), bad_addr.port()),
            NetAddress::new(good.addr.ip(), good.addr.port()),
        ],
        ..Default::default()
    };
    dns.set_network(net(100), &props).unwrap();
    let got = dns
        .get_addresses_by_name(APP, Some(net(100)), "both.test", ipv4())
        .await
        .unwrap();
    assert_eq!(got, addrs(&["10.9.0.1"]));
    assert_eq!(good.count("both.test", RecordType::A), 1);
}

#[tokio::test]
async fn a_servfail_falls_back_to_the_next_server_of_the_same_network() {
    let broken = TestServer::start("127.0.0.1").await;
    let good = TestServer::start("127.0.0.2").await;
    broken.set("both.test", Answer::ServFail);
    good.set("both.test", Answer::Addresses(vec![ip("10.9.0.2")], 60));
    broken.set("down.test", Answer::ServFail);
    good.set("down.test", Answer::ServFail);
    let mut config = quick_config();
    config.attempts = 1;
    let dns = DnsService::new(config);
    let props = ConnectionProperties {
        interface_name: loopback_interface().into(),
        dnses: vec![
            NetAddress::new(broken.addr.ip(), broken.addr.port()),
            NetAddress::new(good.addr.ip(), good.addr.port()),
        ],
        ..Default::default()
    };
    dns.set_network(net(100), &props).unwrap();
    for _ in 0..3 {
        let got = dns
            .get_addresses_by_name(APP, Some(net(100)), "both.test", ipv4())
            .await
            .unwrap();
        assert_eq!(got, addrs(&["10.9.0.2"]));
        dns.flush_cache(None);
    }
    // Every server failing is a server failure, not "no such name".
    assert_eq!(
        failure(
            dns.get_addresses_by_name(APP, Some(net(100)), "down.test", ipv4())
                .await
        ),
        ResolveFailure::ServerFailure
    );
    assert!(broken.count("down.test", RecordType::A) >= 1);
    assert!(good.count("down.test", RecordType::A) >= 1);
}
