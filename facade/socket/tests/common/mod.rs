//! Helpers shared by the integration tests: waiting for events without hanging, and a
//! test-time PKI made with rcgen.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use futures::{Stream, StreamExt};
use netcore::NetAddress;

/// A guard against hangs only (never an assertion on speed).
const HANG_GUARD: Duration = Duration::from_secs(20);

/// Runs `future`, failing the test if it never finishes.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish"))
}

/// The next event of `stream`.
pub async fn next<E>(stream: &mut (impl Stream<Item = E> + Unpin)) -> E {
    within("waiting for an event", stream.next())
        .await
        .expect("the event stream ended")
}

/// 127.0.0.1 with `port`.
pub fn loopback(port: u16) -> NetAddress {
    NetAddress::parse("127.0.0.1", Some(1), Some(i64::from(port))).unwrap()
}

/// A CA and certificates it signed, all made at test time.
pub struct Pki {
    pub ca_pem: String,
    ca_params: rcgen::CertificateParams,
    ca_key: rcgen::KeyPair,
}

/// A certificate with its PEM key.
pub struct Identity {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_pem: String,
    pub key_der: Vec<u8>,
}

impl Pki {
    pub fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        Self {
            ca_pem: ca.pem(),
            ca_params: params,
            ca_key,
        }
    }

    /// A certificate for `127.0.0.1` (server) or a client, signed by this CA.
    pub fn issue(&self, client: bool) -> Identity {
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params.extended_key_usages = vec![if client {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Identity {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        }
    }
}
