//! `findProxyForUrl` calls per second for a typical corporate PAC script (about 50
//! lines with shExpMatch, isInNet, dnsDomainIs, isPlainHostName), compiled once,
//! including the round trip to the worker process. Target: at most 50 µs per call.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use netcore::{Error, FamilyType, NetHandle, Resolve, ResolveFailure, Result};
use netcore_proxy::{PacConfig, PacEvaluator};

const CORPORATE_PAC: &str = r#"
function FindProxyForURL(url, host) {
  host = host.toLowerCase();

  // Plain host names and the local domain go direct.
  if (isPlainHostName(host) || dnsDomainIs(host, ".corp.example.com")) {
    return "DIRECT";
  }

  // Private and lab networks go direct (literal addresses only: no DNS).
  if (shExpMatch(host, "10.*") && isInNet(host, "10.0.0.0", "255.0.0.0")) {
    return "DIRECT";
  }
  if (shExpMatch(host, "192.168.*") && isInNet(host, "192.168.0.0", "255.255.0.0")) {
    return "DIRECT";
  }
  if (shExpMatch(host, "172.*") && isInNet(host, "172.16.0.0", "255.240.0.0")) {
    return "DIRECT";
  }

  // Partner sites through the partner proxy.
  if (dnsDomainIs(host, ".partner-one.com") ||
      dnsDomainIs(host, ".partner-two.net") ||
      dnsDomainIs(host, ".partner-three.org")) {
    return "PROXY partner-proxy.example.com:8080; DIRECT";
  }

  // Update and streaming services bypass the filtering proxy.
  if (shExpMatch(host, "*.windowsupdate.com") ||
      shExpMatch(host, "*.update.microsoft.com") ||
      shExpMatch(host, "*.apple.com") ||
      shExpMatch(url, "*://*.zoom.us/*") ||
      shExpMatch(url, "*://*.teams.microsoft.com/*")) {
    return "DIRECT";
  }

  // Internal applications by URL pattern.
  if (shExpMatch(url, "http://intranet.*/*") ||
      shExpMatch(url, "*/internal/*") ||
      shExpMatch(host, "wiki.*") ||
      shExpMatch(host, "jira.*")) {
    return "PROXY internal-proxy.example.com:3128";
  }

  // FTP through the SOCKS gateway.
  if (url.substring(0, 4) == "ftp:") {
    return "SOCKS5 socks.example.com:1080";
  }

  // Everything else through the main proxies, then direct.
  return "PROXY proxy1.example.com:3128; PROXY proxy2.example.com:3128; DIRECT";
}
"#;

struct NoDns;

#[async_trait]
impl Resolve for NoDns {
    async fn resolve(&self, _: NetHandle, host: &str, _: FamilyType) -> Result<Vec<IpAddr>> {
        Err(Error::Resolve {
            host: host.into(),
            failure: ResolveFailure::NotFound,
        })
    }
}

fn find_proxy(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut config = PacConfig::default();
    config.worker_path = Some(PathBuf::from(env!("CARGO_BIN_EXE_netcore-pac-worker")));
    let evaluator = PacEvaluator::new(config, Arc::new(NoDns));
    runtime.block_on(evaluator.load(CORPORATE_PAC)).unwrap();
    let urls = [
        "https://www.example.org/search?q=pac",
        "http://wiki.example.net/page",
        "http://10.1.2.3/status",
        "https://download.windowsupdate.com/file",
    ];
    let expected: HashMap<&str, &str> = HashMap::from([
        (
            urls[0],
            "PROXY proxy1.example.com:3128; PROXY proxy2.example.com:3128; DIRECT",
        ),
        (urls[1], "PROXY internal-proxy.example.com:3128"),
        (urls[2], "DIRECT"),
        (urls[3], "DIRECT"),
    ]);
    for url in urls {
        let result = runtime
            .block_on(evaluator.find_proxy(url))
            .unwrap()
            .unwrap();
        assert_eq!(result.to_string(), expected[url], "{url}");
    }
    let mut index = 0;
    c.bench_function("find_proxy_for_url_corporate_pac", |b| {
        b.iter(|| {
            index = (index + 1) % urls.len();
            runtime.block_on(evaluator.find_proxy(urls[index])).unwrap()
        })
    });
}

/// The round trip alone: a script that returns at once.
fn round_trip(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut config = PacConfig::default();
    config.worker_path = Some(PathBuf::from(env!("CARGO_BIN_EXE_netcore-pac-worker")));
    let evaluator = PacEvaluator::new(config, Arc::new(NoDns));
    runtime
        .block_on(evaluator.load(r#"function FindProxyForURL(u, h) { return "DIRECT"; }"#))
        .unwrap();
    c.bench_function("find_proxy_for_url_trivial_script", |b| {
        b.iter(|| {
            runtime
                .block_on(evaluator.find_proxy("http://a.example/"))
                .unwrap()
        })
    });
}

criterion_group!(benches, find_proxy, round_trip);
criterion_main!(benches);
