//! `setPacFileUrl` over https: a TLS server on loopback with a certificate from a
//! test CA made with rcgen, trusted through `FetchOptions::root_certificates_der`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use netcore_proxy::PacService;
use netcore_proxy::pac::fetch::FetchOptions;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const SCRIPT: &str = r#"function FindProxyForURL(url, host) { return "PROXY tls.corp:3128"; }"#;

/// Serves SCRIPT over TLS on 127.0.0.1; returns the base URL and the CA's DER.
async fn serve_tls() -> (String, Vec<u8>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    SCRIPT.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(SCRIPT.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (format!("https://{address}"), ca.der().to_vec())
}

#[tokio::test]
async fn script_fetched_over_https_with_a_trusted_ca() {
    let (base, ca_der) = serve_tls().await;
    let url = format!("{base}/proxy.pac");

    // Mozilla's roots do not include the test CA: refused.
    let (evaluator, _) = common::evaluator();
    let untrusting = PacService::new(
        evaluator,
        FetchOptions {
            timeout: Duration::from_secs(5),
            ..FetchOptions::default()
        },
    );
    assert_eq!(
        untrusting.set_pac_file_url(&url).await.unwrap_err().code(),
        2_100_002
    );
    assert_eq!(untrusting.pac_file_url(), "");

    let (evaluator, _) = common::evaluator();
    let trusting = PacService::new(
        evaluator,
        FetchOptions {
            timeout: Duration::from_secs(5),
            root_certificates_der: Some(vec![ca_der]),
            ..FetchOptions::default()
        },
    );
    trusting.set_pac_file_url(&url).await.unwrap();
    assert_eq!(trusting.pac_file_url(), url);
    assert_eq!(
        trusting
            .find_proxy_for_url("https://www.example.com/secret")
            .await
            .unwrap(),
        "PROXY tls.corp:3128"
    );
}
