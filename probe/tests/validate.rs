//! The validator against real HTTP and HTTPS servers on loopback, bound to `lo`.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use netcore::engine::ValidationResult;
use netcore::{Error, FamilyType, NetHandle, Resolve, ResolveFailure};
use netcore_probe::{NetworkTarget, Validator, ValidatorConfig};
use support::{Behaviour, ServerEvent, TestCa, TestServer, closed_port};

/// A generous bound on a whole test check, only so that a hang fails the test.
const HANG_GUARD: Duration = Duration::from_secs(20);

fn config(ca: &TestCa, http: SocketAddr, https: SocketAddr) -> ValidatorConfig {
    let mut config = ValidatorConfig::default();
    config.http_url = format!("http://{http}/generate_204");
    config.https_url = format!("https://{https}/generate_204");
    config.first_result_timeout_ms = 300;
    config.overall_timeout_ms = 1_500;
    config.extra_root_certs_pem = vec![ca.pem.clone()];
    config.use_webpki_roots = false;
    config
}

fn lo() -> NetworkTarget {
    NetworkTarget::new(NetHandle::new(100).unwrap(), "lo")
}

async fn check(config: ValidatorConfig, target: &NetworkTarget) -> ValidationResult {
    let validator = Validator::new(config).unwrap();
    tokio::time::timeout(HANG_GUARD, validator.validate(target))
        .await
        .expect("the check outlived every configured bound")
}

/// Runs a check with `http` behind the HTTP URL and `https` (or nothing) behind the
/// HTTPS URL.
async fn check_servers(http: Option<Behaviour>, https: Option<Behaviour>) -> ValidationResult {
    let ca = TestCa::new();
    let http = match http {
        Some(b) => Some(TestServer::http(b).await),
        None => None,
    };
    let https = match https {
        Some(b) => Some(TestServer::https(b, ca.server_config(&["127.0.0.1"])).await),
        None => None,
    };
    let http_addr = match &http {
        Some(s) => s.addr,
        None => closed_port().await,
    };
    let https_addr = match &https {
        Some(s) => s.addr,
        None => closed_port().await,
    };
    check(config(&ca, http_addr, https_addr), &lo()).await
}

#[tokio::test]
async fn both_204_is_validated() {
    let result = check_servers(Some(Behaviour::no_content()), Some(Behaviour::no_content())).await;
    assert_eq!(result, ValidationResult::Validated);
}

#[tokio::test]
async fn https_204_alone_is_validated() {
    let result = check_servers(None, Some(Behaviour::no_content())).await;
    assert_eq!(result, ValidationResult::Validated);
}

#[tokio::test]
async fn http_204_with_https_down_is_partial() {
    let result = check_servers(Some(Behaviour::no_content()), None).await;
    assert_eq!(result, ValidationResult::Partial);
}

#[tokio::test]
async fn http_204_with_untrusted_https_certificate_is_partial() {
    let ca = TestCa::new();
    let stranger = TestCa::new();
    let http = TestServer::http(Behaviour::no_content()).await;
    let https = TestServer::https(
        Behaviour::no_content(),
        stranger.server_config(&["127.0.0.1"]),
    )
    .await;
    let result = check(config(&ca, http.addr, https.addr), &lo()).await;
    assert_eq!(result, ValidationResult::Partial);
}

#[tokio::test]
async fn http_204_with_https_hanging_is_partial_after_the_first_result_timeout() {
    let ca = TestCa::new();
    let http = TestServer::http(Behaviour::no_content()).await;
    let https = TestServer::https(Behaviour::Hang, ca.server_config(&["127.0.0.1"])).await;
    let mut config = config(&ca, http.addr, https.addr);
    // Far beyond the guard: only the first-result timeout can end this check.
    config.overall_timeout_ms = 600_000;
    let result = check(config, &lo()).await;
    assert_eq!(result, ValidationResult::Partial);
}

#[tokio::test]
async fn redirect_is_a_portal_with_its_location() {
    let result = check_servers(
        Some(Behaviour::redirect("http://portal.test/login?from=probe")),
        None,
    )
    .await;
    assert_eq!(
        result,
        ValidationResult::Portal {
            url: "http://portal.test/login?from=probe".into()
        }
    );
}

#[tokio::test]
async fn relative_redirect_resolves_against_the_probe_url() {
    let ca = TestCa::new();
    let http = TestServer::http(Behaviour::redirect("/portal")).await;
    let result = check(config(&ca, http.addr, closed_port().await), &lo()).await;
    assert_eq!(
        result,
        ValidationResult::Portal {
            url: format!("http://{}/portal", http.addr)
        }
    );
}

#[tokio::test]
async fn page_with_a_body_is_a_portal_at_the_probe_url() {
    let ca = TestCa::new();
    let http = TestServer::http(Behaviour::page("<html>Sign in</html>")).await;
    let https = TestServer::https(Behaviour::Hang, ca.server_config(&["127.0.0.1"])).await;
    let result = check(config(&ca, http.addr, https.addr), &lo()).await;
    assert_eq!(
        result,
        ValidationResult::Portal {
            url: format!("http://{}/generate_204", http.addr)
        }
    );
}

#[tokio::test]
async fn empty_200_is_not_a_portal() {
    let result = check_servers(Some(Behaviour::page("")), None).await;
    assert_eq!(result, ValidationResult::Failed);
}

#[tokio::test]
async fn nothing_listening_fails() {
    let result = check_servers(None, None).await;
    assert_eq!(result, ValidationResult::Failed);
}

#[tokio::test]
async fn server_errors_fail() {
    let error = Behaviour::Answer(b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy".to_vec());
    let result = check_servers(Some(error.clone()), Some(error)).await;
    assert_eq!(result, ValidationResult::Failed);
}

#[tokio::test]
async fn huge_header_fails() {
    let result = check_servers(Some(Behaviour::HugeHeader), Some(Behaviour::HugeHeader)).await;
    assert_eq!(result, ValidationResult::Failed);
}

#[tokio::test]
async fn huge_https_header_leaves_http_partial() {
    let result = check_servers(Some(Behaviour::no_content()), Some(Behaviour::HugeHeader)).await;
    assert_eq!(result, ValidationResult::Partial);
}

#[tokio::test]
async fn endless_body_is_read_no_further_than_needed() {
    let ca = TestCa::new();
    let http = TestServer::http(Behaviour::EndlessBody).await;
    let result = check(config(&ca, http.addr, closed_port().await), &lo()).await;
    assert_eq!(
        result,
        ValidationResult::Portal {
            url: format!("http://{}/generate_204", http.addr)
        }
    );
}

#[tokio::test]
async fn servers_that_never_answer_time_out() {
    let result = check_servers(Some(Behaviour::Hang), Some(Behaviour::Hang)).await;
    assert_eq!(result, ValidationResult::Failed);
}

#[tokio::test]
async fn slow_heads_time_out() {
    let result = check_servers(Some(Behaviour::SlowHead), Some(Behaviour::SlowHead)).await;
    assert_eq!(result, ValidationResult::Failed);
}

#[tokio::test]
async fn dropping_the_check_closes_its_connections() {
    let ca = TestCa::new();
    let mut http = TestServer::http(Behaviour::Hang).await;
    let mut https = TestServer::https(Behaviour::Hang, ca.server_config(&["127.0.0.1"])).await;
    let mut config = config(&ca, http.addr, https.addr);
    config.first_result_timeout_ms = 600_000;
    config.overall_timeout_ms = 600_000;
    let validator = Validator::new(config).unwrap();
    let target = lo();
    {
        let check = validator.validate(&target);
        tokio::pin!(check);
        // Run the check until both servers hold a request, then drop it.
        let requests = async {
            assert_eq!(http.next_event().await, Some(ServerEvent::Request));
            assert_eq!(https.next_event().await, Some(ServerEvent::Request));
        };
        tokio::select! {
            result = &mut check => panic!("the check ended on its own: {result:?}"),
            () = requests => {}
        }
    }
    assert_eq!(http.next_event().await, Some(ServerEvent::ClientClosed));
    assert_eq!(https.next_event().await, Some(ServerEvent::ClientClosed));
}

#[tokio::test]
async fn an_unknown_interface_fails() {
    let ca = TestCa::new();
    let http = TestServer::http(Behaviour::no_content()).await;
    let https = TestServer::https(Behaviour::no_content(), ca.server_config(&["127.0.0.1"])).await;
    let target = NetworkTarget::new(NetHandle::new(100).unwrap(), "nctest-none0");
    let result = check(config(&ca, http.addr, https.addr), &target).await;
    assert_eq!(result, ValidationResult::Failed);
}

/// A resolver that knows one name.
struct OneName {
    name: &'static str,
    addresses: Vec<IpAddr>,
}

#[async_trait]
impl Resolve for OneName {
    async fn resolve(
        &self,
        net: NetHandle,
        host: &str,
        _family: FamilyType,
    ) -> netcore::Result<Vec<IpAddr>> {
        assert_eq!(
            net.net_id(),
            100,
            "resolution must ask on the probed network"
        );
        if host == self.name {
            Ok(self.addresses.clone())
        } else {
            Err(Error::Resolve {
                host: host.into(),
                failure: ResolveFailure::NotFound,
            })
        }
    }
}

#[tokio::test]
async fn probe_hosts_resolve_through_the_given_resolver() {
    let ca = TestCa::new();
    let http = TestServer::http(Behaviour::no_content()).await;
    let https = TestServer::https(Behaviour::no_content(), ca.server_config(&["probe.test"])).await;
    let mut config = config(&ca, http.addr, https.addr);
    config.http_url = format!("http://probe.test:{}/generate_204", http.addr.port());
    config.https_url = format!("https://probe.test:{}/generate_204", https.addr.port());
    let resolver = Arc::new(OneName {
        name: "probe.test",
        addresses: vec!["127.0.0.1".parse().unwrap()],
    });
    let target = lo().with_resolver(resolver);
    assert_eq!(
        check(config.clone(), &target).await,
        ValidationResult::Validated
    );

    config.http_url = format!("http://other.test:{}/generate_204", http.addr.port());
    config.https_url = format!("https://other.test:{}/generate_204", https.addr.port());
    assert_eq!(check(config, &target).await, ValidationResult::Failed);
}

/// The DNS test server of netcore-dns's tests (hickory-server answering from a table).
#[path = "../../dns/tests/common/mod.rs"]
mod dns_server;

/// netcore-dns's service knowing network 100 with the test server's address.
fn network_dns(server: &dns_server::TestServer) -> Arc<netcore_dns::DnsService> {
    let dns = netcore_dns::DnsService::new(netcore_dns::DnsConfig::default());
    dns.set_network(NetHandle::new(100).unwrap(), &server.properties("lo"))
        .unwrap();
    Arc::new(dns)
}

#[tokio::test]
async fn probe_hosts_resolve_through_the_networks_dns_servers() {
    let ca = TestCa::new();
    let http = TestServer::http(Behaviour::no_content()).await;
    let https = TestServer::https(Behaviour::no_content(), ca.server_config(&["probe.test"])).await;
    let dns = dns_server::TestServer::start("127.0.0.1").await;
    dns.set(
        "probe.test",
        dns_server::Answer::Addresses(vec!["127.0.0.1".parse().unwrap()], 60),
    );
    let mut config = config(&ca, http.addr, https.addr);
    config.http_url = format!("http://probe.test:{}/generate_204", http.addr.port());
    config.https_url = format!("https://probe.test:{}/generate_204", https.addr.port());
    // Without a resolver a name cannot be probed.
    assert_eq!(check(config.clone(), &lo()).await, ValidationResult::Failed);

    let target = lo().with_resolver(network_dns(&dns));
    assert_eq!(
        check(config.clone(), &target).await,
        ValidationResult::Validated
    );
    assert!(dns.count("probe.test", hickory_proto::rr::RecordType::A) > 0);

    // The same name unknown to the network's server: no probe can be made.
    dns.set("probe.test", dns_server::Answer::NxDomain(60));
    let target = lo().with_resolver(network_dns(&dns));
    assert_eq!(check(config, &target).await, ValidationResult::Failed);
}

#[tokio::test]
async fn an_address_that_never_accepts_gives_way_to_the_next() {
    let ca = TestCa::new();
    let http = TestServer::http(Behaviour::no_content()).await;
    let https = TestServer::https(Behaviour::no_content(), ca.server_config(&["probe.test"])).await;
    let mut config = config(&ca, http.addr, https.addr);
    config.http_url = format!("http://probe.test:{}/generate_204", http.addr.port());
    config.https_url = format!("https://probe.test:{}/generate_204", https.addr.port());
    config.connect_timeout_ms = 100;
    config.first_result_timeout_ms = 1_000;
    // 240.0.0.1 (reserved) through lo: the SYN goes nowhere and nothing ever answers.
    let resolver = Arc::new(OneName {
        name: "probe.test",
        addresses: vec!["240.0.0.1".parse().unwrap(), "127.0.0.1".parse().unwrap()],
    });
    let target = lo().with_resolver(resolver);
    assert_eq!(check(config, &target).await, ValidationResult::Validated);
}
