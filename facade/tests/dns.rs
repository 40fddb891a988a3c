//! DNS through the public API: networks' own servers, per-app rules, IDNA.

#[allow(dead_code)]
#[path = "../examples/resolve_default.rs"]
mod resolve_default;
#[path = "../../dns/tests/common/mod.rs"]
mod server;

use std::sync::Arc;
use std::time::Duration;

use netcore::AppId;
use netcore::sim::SimBearer;
use netcore::{ConversionProcess, FamilyType, NetBearType, NetHandle, NetworkInfo, QueryOptions};
use netcore_facade::{Config, NetManager, blocking};
use server::{Answer, TestServer, ip, loopback_interface};

async fn eventually(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out");
}

/// A Wi-Fi network and an Ethernet network whose servers answer `same.test`
/// differently.
async fn two_networks() -> (NetManager, TestServer, TestServer, Arc<SimBearer>) {
    let wifi_dns = TestServer::start("127.0.0.1").await;
    let eth_dns = TestServer::start("127.0.0.2").await;
    wifi_dns.set("same.test", Answer::Addresses(vec![ip("192.0.2.1")], 300));
    eth_dns.set(
        "same.test",
        Answer::Addresses(vec![ip("192.0.2.2"), ip("2001:db8::2")], 300),
    );
    let wifi = Arc::new(SimBearer::new(NetBearType::Wifi, "wifi"));
    let eth = Arc::new(SimBearer::new(NetBearType::Ethernet, "eth"));
    let manager = NetManager::builder(Config::default())
        .bearer(wifi.clone())
        .bearer(eth.clone())
        .start()
        .unwrap();
    let mut w = NetworkInfo::new(NetBearType::Wifi, loopback_interface());
    w.properties = wifi_dns.properties(loopback_interface());
    let mut e = NetworkInfo::new(NetBearType::Ethernet, loopback_interface());
    e.properties = eth_dns.properties(loopback_interface());
    wifi.connect("wlan0", w);
    eth.connect("eth0", e);
    eventually(|| blocking::get_all_nets(&manager).unwrap().len() == 2).await;
    (manager, wifi_dns, eth_dns, wifi)
}

/// The network of `bearer_type`.
async fn net_of(manager: &NetManager, bearer_type: NetBearType) -> NetHandle {
    for net in manager.get_all_nets().await.unwrap() {
        let caps = manager.get_net_capabilities(net).await.unwrap();
        if caps.bearer_types == [bearer_type] {
            return net;
        }
    }
    panic!("no {bearer_type} network");
}

fn ips(addresses: &[netcore::NetAddress]) -> Vec<String> {
    addresses.iter().map(|a| a.ip().to_string()).collect()
}

#[tokio::test]
async fn each_network_resolves_with_its_own_servers() {
    let (manager, wifi_dns, eth_dns, _wifi) = two_networks().await;
    // The default network is Ethernet (priority over Wi-Fi).
    let default = manager.get_default_net().await.unwrap();
    assert_eq!(default, net_of(&manager, NetBearType::Ethernet).await);
    let found = manager.get_addresses_by_name("same.test").await.unwrap();
    assert_eq!(ips(&found), ["192.0.2.2", "2001:db8::2"]);
    assert!(found.iter().all(|a| a.port() == 0));
    let v6 = manager
        .get_addresses_by_name_with_options(
            "same.test",
            QueryOptions {
                family: FamilyType::Ipv6,
            },
        )
        .await
        .unwrap();
    assert_eq!(ips(&v6), ["2001:db8::2"]);

    let wifi_net = net_of(&manager, NetBearType::Wifi).await;
    let on_wifi = manager
        .network(wifi_net)
        .get_addresses_by_name("same.test")
        .await
        .unwrap();
    assert_eq!(ips(&on_wifi), ["192.0.2.1"]);
    let first = manager
        .network(wifi_net)
        .get_address_by_name("same.test")
        .await
        .unwrap();
    assert_eq!(first.ip().to_string(), "192.0.2.1");
    assert!(wifi_dns.total() > 0 && eth_dns.total() > 0);

    // An app bound to Wi-Fi resolves there.
    let bound = manager.for_app(AppId::from_uid(4242));
    bound.set_app_net(wifi_net).await.unwrap();
    let found = bound.get_addresses_by_name("same.test").await.unwrap();
    assert_eq!(ips(&found), ["192.0.2.1"]);
}

#[tokio::test]
async fn a_network_that_goes_resolves_no_more() {
    let (manager, _wifi_dns, _eth_dns, wifi) = two_networks().await;
    let wifi_net = net_of(&manager, NetBearType::Wifi).await;
    wifi.disconnect("wlan0");
    eventually(|| blocking::get_all_nets(&manager).unwrap().len() == 1).await;
    let err = manager
        .network(wifi_net)
        .get_addresses_by_name("same.test")
        .await
        .unwrap_err();
    assert_eq!(err.code(), 2100001, "{err}");
}

#[tokio::test]
async fn custom_rules_answer_first_for_their_app_only() {
    let (manager, _wifi_dns, eth_dns, _wifi) = two_networks().await;
    let app_a = manager.for_app(AppId::from_uid(5000));
    let app_b = manager.for_app(AppId::from_uid(5001));
    app_a
        .add_custom_dns_rule("same.test", &["198.51.100.9"])
        .await
        .unwrap();
    let before = eth_dns.total();
    assert_eq!(
        ips(&app_a.get_addresses_by_name("same.test").await.unwrap()),
        ["198.51.100.9"]
    );
    assert_eq!(eth_dns.total(), before, "the rule answered without a query");
    assert_eq!(
        ips(&app_b.get_addresses_by_name("same.test").await.unwrap()),
        ["192.0.2.2", "2001:db8::2"]
    );
    app_a.remove_custom_dns_rule("same.test").await.unwrap();
    assert_eq!(
        ips(&app_a.get_addresses_by_name("same.test").await.unwrap()),
        ["192.0.2.2", "2001:db8::2"]
    );
    app_a
        .add_custom_dns_rule("x.test", &["198.51.100.1"])
        .await
        .unwrap();
    app_a.clear_custom_dns_rules().await.unwrap();
    let err = app_a.get_addresses_by_name("x.test").await.unwrap_err();
    assert_eq!(err.code(), 2100003);
    // Bad rules.
    let empty: [&str; 0] = [];
    assert_eq!(
        app_a
            .add_custom_dns_rule("", &["1.2.3.4"])
            .await
            .unwrap_err()
            .code(),
        401
    );
    assert_eq!(
        app_a
            .add_custom_dns_rule("a.test", &empty)
            .await
            .unwrap_err()
            .code(),
        401
    );
    assert_eq!(
        app_a
            .add_custom_dns_rule("a.test", &["not-an-ip"])
            .await
            .unwrap_err()
            .code(),
        2100001
    );
}

#[tokio::test]
async fn bad_names_and_idna() {
    let (manager, _wifi_dns, eth_dns, _wifi) = two_networks().await;
    let before = eth_dns.total();
    for bad in ["a\0b.test", "a..test", &"x".repeat(254)] {
        let err = manager.get_addresses_by_name(bad).await.unwrap_err();
        assert_eq!(err.code(), 2100001, "{bad:?}");
    }
    assert_eq!(eth_dns.total(), before, "no query for a bad name");
    assert_eq!(
        manager.get_dns_ascii("www.示例.com", None).unwrap(),
        "www.xn--fsq092h.com"
    );
    assert_eq!(
        manager
            .get_dns_unicode(
                "www.xn--fsq092h.com",
                Some(ConversionProcess::NoConfiguration)
            )
            .unwrap(),
        "www.示例.com"
    );
    assert_eq!(
        manager
            .get_dns_ascii(&"a".repeat(64), None)
            .unwrap_err()
            .code(),
        2100001
    );
}

#[tokio::test]
async fn the_resolve_example_uses_the_default_network() {
    let (manager, _wifi_dns, _eth_dns, _wifi) = two_networks().await;
    let found = resolve_default::resolve_on_default(&manager, "same.test")
        .await
        .unwrap();
    assert_eq!(
        ips(&found),
        ["192.0.2.2", "2001:db8::2"],
        "Ethernet is the default"
    );
}
