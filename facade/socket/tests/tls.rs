//! TLS sockets against a tokio-rustls echo server on loopback, with a CA made at test
//! time: one-way and two-way authentication, a wrong CA, an encrypted key, versions,
//! suites and signature algorithms.

mod common;

use std::sync::Arc;

use common::{Identity, Pki, loopback, next};
use netcore::NetAddress;
use netcore_socket::{
    EventSource, Protocol, SocketEvent, SocketState, TlsConnectOptions, TlsSecureOptions, TlsSocket,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::sync::mpsc;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS echo server; with `client_ca`, it requires a client certificate from that
/// CA. Each client certificate it sees goes to the returned channel.
async fn echo_server(
    server: &Identity,
    client_ca: Option<&Pki>,
) -> (NetAddress, mpsc::UnboundedReceiver<Option<Vec<u8>>>) {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(pki) => {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
                .unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                roots.into(),
                provider(),
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server.key_der.clone()));
    let config = builder
        .with_single_cert(vec![CertificateDer::from(server.cert_der.clone())], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let peer = tls.get_ref().1.peer_certificates().map(|c| c[0].to_vec());
                let _ = seen.send(peer);
                let (mut r, mut w) = tokio::io::split(tls);
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    (loopback(port), seen_rx)
}

use rustls::pki_types::pem::PemObject;

fn one_way(pki: &Pki) -> TlsSecureOptions {
    TlsSecureOptions {
        ca: vec![pki.ca_pem.clone()],
        ..Default::default()
    }
}

/// Sends `text` and reads it back.
async fn round_trip(tls: &TlsSocket, events: &mut netcore_socket::EventStream<SocketEvent>) {
    tls.send("secret").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 6 {
        match next(events).await {
            SocketEvent::Message(m) => got.extend_from_slice(&m.message),
            other => panic!("expected a message, got {other:?}"),
        }
    }
    assert_eq!(got, b"secret");
}

#[tokio::test]
async fn one_way_authentication() {
    let pki = Pki::new("test CA");
    let server = pki.issue(false);
    let (address, mut seen) = echo_server(&server, None).await;
    let tls = TlsSocket::new();
    let mut events = tls.events();
    let mut options = TlsConnectOptions::new(address, one_way(&pki));
    options.alpn_protocols = vec!["http/1.1".into()];
    tls.connect(options).await.unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Connect));
    round_trip(&tls, &mut events).await;

    assert_eq!(seen.recv().await.unwrap(), None);
    assert_eq!(tls.get_protocol().await.unwrap(), "TLSv1.3");
    assert_eq!(tls.get_cipher_suite().await.unwrap().len(), 1);
    assert_eq!(
        tls.get_remote_certificate().await.unwrap().unwrap().data,
        server.cert_der
    );
    assert_eq!(tls.get_certificate().await.unwrap(), None);
    assert!(!tls.get_signature_algorithms().await.unwrap().is_empty());
    assert_eq!(tls.get_remote_address().await.unwrap(), address);
    assert_eq!(
        tls.get_state().await.unwrap(),
        SocketState {
            is_bound: true,
            is_close: false,
            is_connected: true
        }
    );
    tls.close().await.unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Close));
    assert_eq!(tls.get_protocol().await.unwrap_err().code(), 2_100_003);
}

#[tokio::test]
async fn two_way_authentication() {
    let pki = Pki::new("test CA");
    let server = pki.issue(false);
    let client = pki.issue(true);
    let (address, mut seen) = echo_server(&server, Some(&pki)).await;
    let tls = TlsSocket::new();
    let mut events = tls.events();
    let secure = TlsSecureOptions {
        cert: Some(client.cert_pem.clone()),
        key: Some(client.key_pem.clone()),
        ..one_way(&pki)
    };
    tls.connect(TlsConnectOptions::new(address, secure))
        .await
        .unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Connect));
    round_trip(&tls, &mut events).await;
    assert_eq!(seen.recv().await.unwrap(), Some(client.cert_der.clone()));
    assert_eq!(
        tls.get_certificate().await.unwrap().unwrap().data,
        client.cert_der
    );
}

#[tokio::test]
async fn two_way_without_a_client_certificate_fails() {
    let pki = Pki::new("test CA");
    let server = pki.issue(false);
    let (address, _seen) = echo_server(&server, Some(&pki)).await;
    let tls = TlsSocket::new();
    let mut events = tls.events();
    // TLS 1.3 reports the refusal after the client's handshake is done: as an error
    // event, then close.
    tls.connect(TlsConnectOptions::new(address, one_way(&pki)))
        .await
        .unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Connect));
    match next(&mut events).await {
        SocketEvent::Error(e) => {
            assert_eq!(e.code(), 2_100_003);
            assert!(e.to_string().contains("Certificate"), "{e}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(matches!(next(&mut events).await, SocketEvent::Close));
}

#[tokio::test]
async fn wrong_ca_is_refused() {
    let pki = Pki::new("test CA");
    let other = Pki::new("other CA");
    let server = pki.issue(false);
    let (address, _seen) = echo_server(&server, None).await;
    let tls = TlsSocket::new();
    let error = tls
        .connect(TlsConnectOptions::new(address, one_way(&other)))
        .await
        .unwrap_err();
    assert_eq!(error.code(), 2_100_003);
    assert!(error.to_string().contains("UnknownIssuer"), "{error}");
    assert!(!tls.get_state().await.unwrap().is_connected);
    assert_eq!(tls.send("x").await.unwrap_err().code(), 2_100_003);
}

fn encrypt(key_der: &[u8], password: &str) -> String {
    let info = pkcs8::PrivateKeyInfo::try_from(key_der).unwrap();
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(
        2048,
        b"saltsaltsaltsalt",
        &[7u8; 16],
    )
    .unwrap();
    let document = info.encrypt_with_params(params, password).unwrap();
    document
        .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn encrypted_key_with_password() {
    let pki = Pki::new("test CA");
    let server = pki.issue(false);
    let client = pki.issue(true);
    let (address, mut seen) = echo_server(&server, Some(&pki)).await;
    let encrypted = encrypt(&client.key_der, "s3cret");
    let secure = |password: Option<&str>| TlsSecureOptions {
        cert: Some(client.cert_pem.clone()),
        key: Some(encrypted.clone()),
        password: password.map(str::to_owned),
        ..one_way(&pki)
    };

    let tls = TlsSocket::new();
    let wrong = tls
        .connect(TlsConnectOptions::new(address, secure(Some("nope"))))
        .await;
    assert_eq!(wrong.unwrap_err().code(), 2_100_001);
    let missing = tls
        .connect(TlsConnectOptions::new(address, secure(None)))
        .await;
    assert_eq!(missing.unwrap_err().code(), 401);

    let mut events = tls.events();
    tls.connect(TlsConnectOptions::new(address, secure(Some("s3cret"))))
        .await
        .unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Connect));
    round_trip(&tls, &mut events).await;
    assert_eq!(seen.recv().await.unwrap(), Some(client.cert_der.clone()));
}

#[tokio::test]
async fn version_suite_and_signature_choices() {
    let pki = Pki::new("test CA");
    let server = pki.issue(false);
    let (address, _seen) = echo_server(&server, None).await;

    let tls = TlsSocket::new();
    let secure = TlsSecureOptions {
        protocols: vec![Protocol::TLSv12],
        cipher_suite: Some("ECDHE-ECDSA-AES128-GCM-SHA256".into()),
        signature_algorithms: Some("ECDSA+SHA256".into()),
        ..one_way(&pki)
    };
    tls.connect(TlsConnectOptions::new(address, secure))
        .await
        .unwrap();
    assert_eq!(tls.get_protocol().await.unwrap(), "TLSv1.2");
    assert_eq!(
        tls.get_cipher_suite().await.unwrap(),
        vec!["ECDHE-ECDSA-AES128-GCM-SHA256"]
    );
    assert_eq!(
        tls.get_signature_algorithms().await.unwrap(),
        vec!["ecdsa_secp256r1_sha256"]
    );

    // Refused before connecting: a CBC suite rustls does not have, unknown
    // algorithms, a suite of the wrong version, cert without key, no CA.
    let refused = [
        (
            TlsSecureOptions {
                cipher_suite: Some("AES256-SHA256".into()),
                ..one_way(&pki)
            },
            2_100_001,
        ),
        (
            TlsSecureOptions {
                signature_algorithms: Some("md5".into()),
                ..one_way(&pki)
            },
            2_100_001,
        ),
        (
            TlsSecureOptions {
                protocols: vec![Protocol::TLSv13],
                cipher_suite: Some("ECDHE-RSA-AES128-GCM-SHA256".into()),
                ..one_way(&pki)
            },
            2_100_001,
        ),
        (
            TlsSecureOptions {
                cert: Some(server.cert_pem.clone()),
                ..one_way(&pki)
            },
            401,
        ),
        (
            TlsSecureOptions {
                ca: vec!["not pem".into()],
                ..Default::default()
            },
            2_100_001,
        ),
        (TlsSecureOptions::default(), 401),
    ];
    for (secure, code) in refused {
        let tls = TlsSocket::new();
        let error = tls
            .connect(TlsConnectOptions::new(address, secure))
            .await
            .unwrap_err();
        assert_eq!(error.code(), code, "{error}");
    }

    // An algorithm the server's ECDSA key cannot make: the handshake fails.
    let tls = TlsSocket::new();
    let secure = TlsSecureOptions {
        signature_algorithms: Some("rsa_pss_rsae_sha256".into()),
        ..one_way(&pki)
    };
    let error = tls
        .connect(TlsConnectOptions::new(address, secure))
        .await
        .unwrap_err();
    assert_eq!(error.code(), 2_100_003, "{error}");
}

#[tokio::test]
async fn bound_to_lo() {
    let pki = Pki::new("test CA");
    let server = pki.issue(false);
    let (address, _seen) = echo_server(&server, None).await;
    let tls = TlsSocket::new();
    tls.bind_to_interface("lo").unwrap();
    let mut events = tls.events();
    tls.connect(TlsConnectOptions::new(address, one_way(&pki)))
        .await
        .unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Connect));
    round_trip(&tls, &mut events).await;
    assert_eq!(tls.bound_interface().unwrap().as_deref(), Some("lo"));
    assert_eq!(
        tls.bind_to_interface("nosuchif0").unwrap_err().code(),
        2_100_001
    );
}

#[tokio::test]
async fn options_state_and_calls_before_connect() {
    let tls = TlsSocket::new();
    assert_eq!(tls.get_state().await.unwrap(), SocketState::default());
    for error in [
        tls.get_protocol().await.unwrap_err(),
        tls.get_cipher_suite().await.unwrap_err(),
        tls.get_remote_certificate().await.unwrap_err(),
        tls.send("x").await.unwrap_err(),
        tls.set_extra_options(Default::default()).await.unwrap_err(),
    ] {
        assert_eq!(error.code(), 2_100_003, "{error}");
    }

    let pki = Pki::new("test CA");
    let server = pki.issue(false);
    let (address, _seen) = echo_server(&server, None).await;
    tls.bind(loopback(0)).await.unwrap();
    assert!(tls.get_state().await.unwrap().is_bound);
    tls.connect(TlsConnectOptions::new(address, one_way(&pki)))
        .await
        .unwrap();
    tls.set_extra_options(netcore_socket::TcpExtraOptions {
        tcp_no_delay: Some(true),
        keep_alive: Some(true),
        ..Default::default()
    })
    .await
    .unwrap();
    let read = tls
        .with_socket(|s| (s.tcp_nodelay().unwrap(), s.keepalive().unwrap()))
        .unwrap();
    assert_eq!(read, (true, true));
    tls.close().await.unwrap();
    assert_eq!(tls.close().await.unwrap_err().code(), 2_100_003);
}
