//! HTTP proxies and PAC through the public API.

use netcore::AppId;
use netcore::HttpProxy;
use netcore_facade::{Config, NetManager};

fn manager(global: Option<HttpProxy>) -> NetManager {
    let mut config = Config::default();
    config.proxy.global = global;
    // The PAC worker is netcore-proxy's `netcore-pac-worker`, found beside the test
    // (the workspace's tests build it).
    NetManager::builder(config).start().unwrap()
}

fn proxy(host: &str, port: i64, exclusions: &[&str]) -> HttpProxy {
    HttpProxy::new(
        host,
        port,
        exclusions.iter().map(|s| s.to_string()).collect(),
    )
    .unwrap()
}

#[tokio::test]
async fn app_proxies_override_the_global_one_per_app() {
    let m = manager(Some(proxy("global.test", 3128, &["ample.com"])));
    let a = m.for_app(AppId::from_uid(7000));
    let b = m.for_app(AppId::from_uid(7001));
    a.set_app_http_proxy(proxy("app.test", 8080, &[]))
        .await
        .unwrap();
    assert_eq!(
        a.get_default_http_proxy().await.unwrap().unwrap().host,
        "app.test"
    );
    assert_eq!(
        b.get_default_http_proxy().await.unwrap().unwrap().host,
        "global.test"
    );
    // The seed's exclusion example, through the global proxy.
    for (url, direct) in [
        ("http://ample.com/", true),
        ("http://www.ample.com/x", true),
        ("http://ample.com:80/", true),
        ("http://www.example.com/", false),
        ("http://ample.com.org/", false),
    ] {
        let chosen = b.http_proxy_for_url(url).await.unwrap();
        assert_eq!(chosen.is_none(), direct, "{url}");
    }
    let empty = HttpProxy {
        host: String::new(),
        ..proxy("x", 1, &[])
    };
    assert_eq!(
        a.set_app_http_proxy(empty).await.unwrap_err().code(),
        2100001
    );
    assert_eq!(
        a.get_default_http_proxy().await.unwrap().unwrap().host,
        "app.test"
    );
    let none = manager(None);
    assert_eq!(none.get_default_http_proxy().await.unwrap(), None);
}

#[tokio::test]
async fn pac_scripts_answer_find_proxy_for_url() {
    let m = manager(None);
    assert_eq!(m.find_proxy_for_url("http://a.test/").await.unwrap(), "");
    assert_eq!(m.get_pac_file_url().await.unwrap(), "");
    assert_eq!(m.get_pac_url().await.unwrap_err().code(), 2100003);
    m.set_pac_url("http://pac.test/proxy.pac").await.unwrap();
    assert_eq!(m.get_pac_url().await.unwrap(), "http://pac.test/proxy.pac");
    assert_eq!(
        m.find_proxy_for_url("http://a.test/").await.unwrap(),
        "",
        "setPacUrl only stores"
    );

    let script = std::env::temp_dir().join(format!("netcore-{}.pac", std::process::id()));
    std::fs::write(
        &script,
        r#"function FindProxyForURL(url, host) {
             if (shExpMatch(url, "https://secure.test:443/")) return "HTTPS gate.test:443";
             if (dnsDomainIs(host, ".corp.test")) return "PROXY proxy.corp.test:3128";
             return "DIRECT";
           }"#,
    )
    .unwrap();
    let url = format!("file://{}", script.display());
    m.set_pac_file_url(&url).await.unwrap();
    assert_eq!(m.get_pac_file_url().await.unwrap(), url);
    assert_eq!(
        m.find_proxy_for_url("http://www.corp.test/a")
            .await
            .unwrap(),
        "PROXY proxy.corp.test:3128"
    );
    // The path and query of an https URL never reach the script.
    assert_eq!(
        m.find_proxy_for_url("https://secure.test/private?token=1")
            .await
            .unwrap(),
        "HTTPS gate.test:443"
    );
    assert_eq!(
        m.find_proxy_for_url("http://elsewhere.test/")
            .await
            .unwrap(),
        "DIRECT"
    );

    std::fs::write(
        &script,
        "function FindProxyForURL(u, h) { while (true) {} }",
    )
    .unwrap();
    m.set_pac_file_url(&url).await.unwrap();
    let err = m.find_proxy_for_url("http://a.test/").await.unwrap_err();
    assert_eq!(err.code(), 2100002);
    std::fs::remove_file(&script).ok();
    let err = m.set_pac_file_url(&url).await.unwrap_err();
    assert_eq!(err.code(), 2100002, "a missing script is refused");
}
