//! A corpus of PAC scripts with expected results, covering every helper, run in the
//! real worker process with a table resolver and a fixed clock (Sunday 23:30 GMT,
//! Monday 00:30 local at GMT+1).

mod common;

use netcore_proxy::{ProxyAddress, ProxyEntry};

/// (name, body of FindProxyForURL(url, host), URL, expected result)
const CORPUS: &[(&str, &str, &str, &str)] = &[
    (
        "plain host",
        r#"return isPlainHostName(host) ? "PROXY yes:1" : "DIRECT";"#,
        "http://intranet/",
        "PROXY yes:1",
    ),
    (
        "dotted host",
        r#"return isPlainHostName(host) ? "PROXY yes:1" : "DIRECT";"#,
        "http://a.b/",
        "DIRECT",
    ),
    (
        "dnsDomainIs",
        r#"return dnsDomainIs(host, ".corp") ? "PROXY yes:1" : "DIRECT";"#,
        "http://www.corp/",
        "PROXY yes:1",
    ),
    (
        "dnsDomainIs no",
        r#"return dnsDomainIs(host, ".corp") ? "PROXY yes:1" : "DIRECT";"#,
        "http://www.corpx/",
        "DIRECT",
    ),
    (
        "localHostOrDomainIs short",
        r#"return localHostOrDomainIs(host, "www.corp.com") ? "PROXY yes:1" : "DIRECT";"#,
        "http://www/",
        "PROXY yes:1",
    ),
    (
        "localHostOrDomainIs other",
        r#"return localHostOrDomainIs(host, "www.corp.com") ? "PROXY yes:1" : "DIRECT";"#,
        "http://home.corp.com/",
        "DIRECT",
    ),
    (
        "isResolvable",
        r#"return isResolvable(host) ? "PROXY yes:1" : "DIRECT";"#,
        "http://intranet.corp/",
        "PROXY yes:1",
    ),
    (
        "isResolvable unknown",
        r#"return isResolvable(host) ? "PROXY yes:1" : "DIRECT";"#,
        "http://nowhere.corp/",
        "DIRECT",
    ),
    (
        "isResolvable v6 only",
        r#"return isResolvable(host) ? "PROXY yes:1" : "DIRECT";"#,
        "http://v6only.corp/",
        "DIRECT",
    ),
    (
        "isInNet by name",
        r#"return isInNet(host, "10.0.0.0", "255.0.0.0") ? "PROXY yes:1" : "DIRECT";"#,
        "http://intranet.corp/",
        "PROXY yes:1",
    ),
    (
        "isInNet literal out",
        r#"return isInNet(host, "10.0.0.0", "255.0.0.0") ? "PROXY yes:1" : "DIRECT";"#,
        "http://192.0.2.1/",
        "DIRECT",
    ),
    (
        "isInNet unresolvable",
        r#"return isInNet(host, "0.0.0.0", "0.0.0.0") ? "PROXY yes:1" : "DIRECT";"#,
        "http://nowhere.corp/",
        "DIRECT",
    ),
    (
        "dnsResolve",
        r#"return "PROXY " + dnsResolve(host) + ":1";"#,
        "http://dual.corp/",
        "PROXY 10.9.9.9:1",
    ),
    (
        "dnsResolve null",
        r#"return dnsResolve(host) === null ? "PROXY null:1" : "DIRECT";"#,
        "http://nowhere.corp/",
        "PROXY null:1",
    ),
    (
        "convert_addr",
        r#"return convert_addr("10.1.2.3") == 167838211 ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "myIpAddress",
        r#"return "PROXY " + myIpAddress() + ":1";"#,
        "http://a/",
        "PROXY 192.0.2.7:1",
    ),
    (
        "dnsDomainLevels",
        r#"return "PROXY l" + dnsDomainLevels(host) + ":1";"#,
        "http://a.b.c/",
        "PROXY l2:1",
    ),
    (
        "shExpMatch",
        r#"return shExpMatch(url, "*/ari/*") ? "PROXY yes:1" : "DIRECT";"#,
        "http://home.netscape.com/people/ari/index.html",
        "PROXY yes:1",
    ),
    (
        "shExpMatch ?",
        r#"return shExpMatch(host, "w?w.*") ? "PROXY yes:1" : "DIRECT";"#,
        "http://wxw.corp/",
        "PROXY yes:1",
    ),
    (
        "shExpMatch no",
        r#"return shExpMatch(host, "*.org") ? "PROXY yes:1" : "DIRECT";"#,
        "http://www.corp/",
        "DIRECT",
    ),
    (
        "weekdayRange local",
        r#"return weekdayRange("MON") ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "weekdayRange GMT",
        r#"return weekdayRange("SUN", "GMT") ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "weekdayRange range",
        r#"return weekdayRange("TUE", "FRI") ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "DIRECT",
    ),
    (
        "dateRange day",
        r#"return dateRange(23) ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "dateRange day GMT",
        r#"return dateRange(22, "GMT") ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "dateRange months",
        r#"return dateRange("JAN", "MAR") ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "DIRECT",
    ),
    (
        "dateRange full",
        r#"return dateRange(1, "NOV", 2026, 30, "NOV", 2026) ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "timeRange hour",
        r#"return timeRange(0) ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "timeRange hour GMT",
        r#"return timeRange(23, "GMT") ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "timeRange minutes",
        r#"return timeRange(0, 0, 0, 29) ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "DIRECT",
    ),
    (
        "timeRange wraps",
        r#"return timeRange(22, 30, 0, 45) ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "alert",
        r#"alert("hello from PAC"); return "DIRECT";"#,
        "http://a/",
        "DIRECT",
    ),
    (
        "isResolvableEx",
        r#"return isResolvableEx(host) ? "PROXY yes:1" : "DIRECT";"#,
        "http://v6only.corp/",
        "PROXY yes:1",
    ),
    (
        "isInNetEx",
        r#"return isInNetEx(dnsResolveEx(host).split(";")[0], "2001:db8::/32") ? "PROXY yes:1" : "DIRECT";"#,
        "http://dual.corp/",
        "PROXY yes:1",
    ),
    (
        "dnsResolveEx",
        r#"return dnsResolveEx(host) == "2001:db8::5;10.9.9.9" ? "PROXY yes:1" : "DIRECT";"#,
        "http://dual.corp/",
        "PROXY yes:1",
    ),
    (
        "dnsResolveEx empty",
        r#"return dnsResolveEx(host) === "" ? "PROXY yes:1" : "DIRECT";"#,
        "http://nowhere.corp/",
        "PROXY yes:1",
    ),
    (
        "myIpAddressEx",
        r#"return myIpAddressEx() == "192.0.2.7;2001:db8::7" ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "sortIpAddressList",
        r#"return sortIpAddressList("10.0.0.2;::2;10.0.0.1;::1") == "::1;::2;10.0.0.1;10.0.0.2" ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "sortIpAddressList bad",
        r#"return sortIpAddressList("x;1.2.3.4") === false ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "getClientVersion",
        r#"return getClientVersion() == "1.0" ? "PROXY yes:1" : "DIRECT";"#,
        "http://a/",
        "PROXY yes:1",
    ),
    (
        "https stripped",
        r#"return url == "https://secure.corp:443/" && host == "secure.corp" ? "PROXY yes:1" : "PROXY no:1";"#,
        "https://user:pw@Secure.corp/private/path?token=abc",
        "PROXY yes:1",
    ),
    (
        "wss stripped",
        r#"return url == "wss://chat.corp:8443/" ? "PROXY yes:1" : "PROXY no:1";"#,
        "wss://chat.corp:8443/room?id=1",
        "PROXY yes:1",
    ),
    (
        "http keeps path",
        r#"return url == "http://a.corp/p?q=1" ? "PROXY yes:1" : "PROXY no:1";"#,
        "http://a.corp/p?q=1#frag",
        "PROXY yes:1",
    ),
    (
        "every kind",
        r#"return "PROXY p:1; HTTPS h:2; SOCKS s:3; SOCKS4 s4:4; SOCKS5 s5:5; DIRECT";"#,
        "http://a/",
        "PROXY p:1; HTTPS h:2; SOCKS s:3; SOCKS4 s4:4; SOCKS5 s5:5; DIRECT",
    ),
    (
        "local proxy dropped",
        r#"return "PROXY 127.0.0.1:8080; PROXY [fe80::1]:3128; PROXY localhost:1; PROXY corp:3128";"#,
        "http://a/",
        "PROXY corp:3128",
    ),
];

#[tokio::test]
async fn corpus_gives_expected_results() {
    let (evaluator, _) = common::evaluator();
    evaluator.set_my_addresses(vec![
        "192.0.2.7".parse().unwrap(),
        "2001:db8::7".parse().unwrap(),
    ]);
    let mut failures = Vec::new();
    for (name, body, url, expected) in CORPUS {
        let script = format!("function FindProxyForURL(url, host) {{ {body} }}");
        evaluator
            .load(&script)
            .await
            .unwrap_or_else(|e| panic!("{name}: load: {e}"));
        match evaluator.find_proxy(url).await {
            Ok(Some(result)) if result.to_string() == *expected => {}
            other => failures.push(format!("{name}: expected {expected:?}, got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn find_proxy_for_url_ex_wins_and_entries_are_typed() {
    let (evaluator, _) = common::evaluator();
    evaluator
        .load(
            r#"function FindProxyForURL(url, host) { return "DIRECT"; }
               function FindProxyForURLEx(url, host) { return "HTTPS [2001:db8::1]:443; SOCKS5 s.corp:1080"; }"#,
        )
        .await
        .unwrap();
    let result = evaluator.find_proxy("http://a/").await.unwrap().unwrap();
    assert_eq!(
        result.entries(),
        &[
            ProxyEntry::Https(ProxyAddress {
                host: "2001:db8::1".into(),
                port: 443
            }),
            ProxyEntry::Socks5(ProxyAddress {
                host: "s.corp".into(),
                port: 1080
            }),
        ]
    );
}

#[tokio::test]
async fn dns_lookups_go_through_the_resolver_and_are_capped() {
    let (evaluator, resolver) = common::evaluator();
    evaluator
        .load(
            r#"function FindProxyForURL(url, host) {
                 var n = 0;
                 for (var i = 0; i < 100; i++) { if (isResolvable("h" + i + ".corp")) n++; }
                 dnsResolve("intranet.corp"); dnsResolve("intranet.corp");
                 return "PROXY n" + n + ":1";
               }"#,
        )
        .await
        .unwrap();
    let result = evaluator.find_proxy("http://a/").await.unwrap().unwrap();
    assert_eq!(result.to_string(), "PROXY n0:1");
    // 32 lookups per call at most; the rest fail without asking the parent.
    assert_eq!(
        resolver.lookups.load(std::sync::atomic::Ordering::SeqCst),
        32
    );
}

#[tokio::test]
async fn no_script_gives_none_and_bad_urls_2100001() {
    let (evaluator, _) = common::evaluator();
    assert_eq!(evaluator.find_proxy("http://a/").await.unwrap(), None);
    evaluator
        .load(r#"function FindProxyForURL(u, h) { return "DIRECT"; }"#)
        .await
        .unwrap();
    assert_eq!(
        evaluator.find_proxy("not a url").await.unwrap_err().code(),
        2_100_001
    );
    assert_eq!(
        evaluator.find_proxy("http://:1/").await.unwrap_err().code(),
        2_100_001
    );
}

/// Never answers in time.
struct SlowResolver;

#[async_trait::async_trait]
impl netcore::Resolve for SlowResolver {
    async fn resolve(
        &self,
        _: netcore::NetHandle,
        _: &str,
        _: netcore::FamilyType,
    ) -> netcore::Result<Vec<std::net::IpAddr>> {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        Ok(vec![std::net::IpAddr::from([10, 0, 0, 1])])
    }
}

#[tokio::test]
async fn slow_dns_shares_one_budget_per_call() {
    let mut config = common::config();
    config.dns_timeout = std::time::Duration::from_millis(300);
    let evaluator = netcore_proxy::PacEvaluator::with_clock(
        config,
        std::sync::Arc::new(SlowResolver),
        common::clock(),
    );
    evaluator
        .load(
            r#"function FindProxyForURL(url, host) {
                 var n = 0;
                 for (var i = 0; i < 20; i++) { if (isResolvable("slow" + i + ".corp")) n++; }
                 return "PROXY n" + n + ":1";
               }"#,
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let result = evaluator.find_proxy("http://a/").await.unwrap().unwrap();
    assert_eq!(result.to_string(), "PROXY n0:1");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
