//! The seed's exclusion-list examples through the public API.

use netcore::HttpProxy;
use netcore_proxy::{AppId, ProxySettings, uses_proxy};

fn proxy_excluding(entries: &[&str]) -> HttpProxy {
    HttpProxy::new(
        "192.168.0.10",
        8080,
        entries.iter().map(|e| e.to_string()).collect(),
    )
    .unwrap()
}

#[test]
fn seed_example_ample_com() {
    let proxy = proxy_excluding(&["ample.com"]);
    for excluded in [
        "ample.com",
        "www.ample.com",
        "ample.com:80",
        "http://ample.com",
        "https://WWW.AMPLE.COM/x",
    ] {
        assert!(
            !uses_proxy(&proxy, excluded),
            "{excluded} should bypass the proxy"
        );
    }
    for proxied in [
        "www.example.com",
        "ample.com.org",
        "http://www.example.com/ample.com",
    ] {
        assert!(
            uses_proxy(&proxy, proxied),
            "{proxied} should use the proxy"
        );
    }
}

#[test]
fn seed_example_set_app_http_proxy_list() {
    // The seed's setAppHttpProxy example splits "192.168,baidu.com".
    let proxy = proxy_excluding(&"192.168,baidu.com".split(',').collect::<Vec<_>>());
    assert!(!uses_proxy(&proxy, "http://www.baidu.com/"));
    assert!(
        uses_proxy(&proxy, "http://192.168.1.1/"),
        "addresses match only exactly"
    );
    assert!(uses_proxy(&proxy, "http://example.org/"));
}

#[test]
fn wildcards() {
    assert!(!uses_proxy(
        &proxy_excluding(&["*"]),
        "http://anything.example/"
    ));
    assert!(uses_proxy(
        &proxy_excluding(&["*", "ample.com"]),
        "http://anything.example/"
    ));
    assert!(!uses_proxy(
        &proxy_excluding(&["*", "ample.com"]),
        "http://ample.com/"
    ));
}

#[test]
fn ip_addresses_exact() {
    let proxy = proxy_excluding(&["10.0.0.1", "2001:db8::1"]);
    assert!(!uses_proxy(&proxy, "http://10.0.0.1:8080/"));
    assert!(uses_proxy(&proxy, "http://10.0.0.11/"));
    assert!(!uses_proxy(&proxy, "http://[2001:db8:0::1]/"));
    assert!(uses_proxy(&proxy, "http://[2001:db8::2]/"));
}

#[test]
fn settings_apply_the_app_proxys_list() {
    let mut settings = ProxySettings::new();
    settings
        .set_global_http_proxy(Some(proxy_excluding(&[])))
        .unwrap();
    settings
        .set_app_http_proxy(AppId::from_uid(1), proxy_excluding(&["ample.com"]))
        .unwrap();
    assert!(
        settings
            .proxy_for_url(AppId::from_uid(1), "http://www.ample.com/")
            .is_none()
    );
    assert!(
        settings
            .proxy_for_url(AppId::from_uid(2), "http://www.ample.com/")
            .is_some()
    );
}
