//! Sets an app proxy and a global proxy, checks the exclusion list, then evaluates a
//! PAC script in the sandboxed worker.
//!
//! Run with `cargo run -p netcore-proxy --example pac_demo` (cargo builds the
//! `netcore-pac-worker` binary next to the example's directory; set
//! `NETCORE_PAC_WORKER` to point elsewhere).

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use netcore::{Error, FamilyType, HttpProxy, NetHandle, Resolve, ResolveFailure, Result};
use netcore_proxy::{AppId, PacConfig, PacEvaluator, ProxySettings};

/// A resolver that knows one name (a real daemon passes netcore-dns here).
struct DemoResolver;

#[async_trait]
impl Resolve for DemoResolver {
    async fn resolve(&self, _: NetHandle, host: &str, _: FamilyType) -> Result<Vec<IpAddr>> {
        match host {
            "intranet.example.com" => Ok(vec![IpAddr::from([10, 0, 0, 5])]),
            _ => Err(Error::Resolve {
                host: host.into(),
                failure: ResolveFailure::NotFound,
            }),
        }
    }
}

const SCRIPT: &str = r#"
function FindProxyForURL(url, host) {
  if (isPlainHostName(host) || isInNet(host, "10.0.0.0", "255.0.0.0")) return "DIRECT";
  return "PROXY proxy.example.com:3128; DIRECT";
}
"#;

#[tokio::main]
async fn main() -> Result<()> {
    let mut settings = ProxySettings::new();
    settings.set_global_http_proxy(Some(HttpProxy::new("proxy.example.com", 3128, vec![])?))?;
    let app = AppId::from_uid(10_042);
    settings.set_app_http_proxy(
        app,
        HttpProxy::new("app-proxy.example.com", 8080, vec!["ample.com".into()])?,
    )?;
    for url in ["http://www.ample.com/", "http://www.example.com/"] {
        match settings.proxy_for_url(app, url) {
            Some(proxy) => println!("{url} -> {}:{}", proxy.host, proxy.port),
            None => println!("{url} -> direct (excluded)"),
        }
    }

    let evaluator = PacEvaluator::new(PacConfig::default(), Arc::new(DemoResolver));
    evaluator.load(SCRIPT).await?;
    for url in [
        "http://intranet.example.com/",
        "https://www.example.org/private?x=1",
    ] {
        match evaluator.find_proxy(url).await? {
            Some(result) => println!("PAC {url} -> {result}"),
            None => println!("PAC {url} -> no script"),
        }
    }
    Ok(())
}
