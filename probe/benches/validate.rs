//! One validation call, from a network whose link is up to `Validated`: the HTTPS and
//! HTTP probes (connect, TLS handshake, request, 204) against real servers. As root
//! the servers sit in a network namespace behind a veth the probes are bound to;
//! otherwise on loopback, bound to `lo`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use netcore::NetHandle;
use netcore::engine::ValidationResult;
use netcore_link::testing::{NetNs, is_root};
use netcore_probe::{NetworkTarget, Validator, ValidatorConfig};
use support::{Behaviour, TestCa, TestServer, serve_in};

fn config(ca: &TestCa, http: SocketAddr, https: SocketAddr) -> ValidatorConfig {
    let mut config = ValidatorConfig::default();
    config.http_url = format!("http://{http}/generate_204");
    config.https_url = format!("https://{https}/generate_204");
    config.extra_root_certs_pem = vec![ca.pem.clone()];
    config.use_webpki_roots = false;
    config
}

fn in_namespaces(c: &mut Criterion) {
    let client = NetNs::create().expect("client namespace");
    let server = NetNs::create().expect("server namespace");
    client
        .add_veth_to("nct-c0", "nct-s0", &server)
        .expect("veth");
    client
        .ip(&["addr", "add", "10.9.0.1/24", "dev", "nct-c0"])
        .expect("address");
    server
        .ip(&["addr", "add", "10.9.0.2/24", "dev", "nct-s0"])
        .expect("address");
    let ca = TestCa::new();
    let http = SocketAddr::from(([10, 9, 0, 2], 80));
    let https = SocketAddr::from(([10, 9, 0, 2], 443));
    let _servers = serve_in(
        &server,
        vec![
            (http, Behaviour::no_content(), None),
            (
                https,
                Behaviour::no_content(),
                Some(ca.server_config(&["10.9.0.2"])),
            ),
        ],
    );
    let validator = Validator::new(config(&ca, http, https)).expect("validator");
    let target = NetworkTarget::new(NetHandle::new(100).expect("handle"), "nct-c0");
    c.bench_function("validate over a veth (namespace)", |b| {
        b.iter_custom(|iters| {
            let (validator, target) = (validator.clone(), target.clone());
            client
                .run_async(|| async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let result = validator.validate(black_box(&target)).await;
                        assert_eq!(result, ValidationResult::Validated);
                    }
                    start.elapsed()
                })
                .expect("run in the client namespace")
        })
    });
}

fn on_loopback(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ca = TestCa::new();
    let (_http, _https, validator) = runtime.block_on(async {
        let http = TestServer::http(Behaviour::no_content()).await;
        let https =
            TestServer::https(Behaviour::no_content(), ca.server_config(&["127.0.0.1"])).await;
        let validator = Validator::new(config(&ca, http.addr, https.addr)).expect("validator");
        (http, https, validator)
    });
    let target = NetworkTarget::new(NetHandle::new(100).expect("handle"), "lo");
    c.bench_function("validate on loopback", |b| {
        b.iter(|| {
            let result = runtime.block_on(validator.validate(black_box(&target)));
            assert_eq!(result, ValidationResult::Validated);
        })
    });
}

fn validate(c: &mut Criterion) {
    if is_root() {
        in_namespaces(c);
    } else {
        println!("not root: benchmarking on loopback instead of a namespace");
        on_loopback(c);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).sample_size(50);
    targets = validate
}
criterion_main!(benches);
