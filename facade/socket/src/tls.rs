//! The TLS client socket (seed `TLSSocket`) on rustls with the ring provider.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use netcore::{Error, NetAddress};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, ProtocolVersion, SignatureScheme, SupportedCipherSuite};

use crate::connection::ClientCore;
use crate::error::{io_error, not_ready};
use crate::events::{EventHub, EventSource};
use crate::types::{Encoding, SocketEvent, SocketState, TcpExtraOptions};

/// A TLS version (seed `Protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `"TLSv1.2"`.
    TLSv12,
    /// `"TLSv1.3"`.
    TLSv13,
}

impl Protocol {
    /// The seed's name: `"TLSv1.2"` or `"TLSv1.3"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TLSv12 => "TLSv1.2",
            Self::TLSv13 => "TLSv1.3",
        }
    }

    fn version(self) -> &'static rustls::SupportedProtocolVersion {
        match self {
            Self::TLSv12 => &rustls::version::TLS12,
            Self::TLSv13 => &rustls::version::TLS13,
        }
    }
}

/// Certificates, key and algorithms of a TLS connection (seed `TLSSecureOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSecureOptions {
    /// PEM CA certificates that the server's certificate must chain to (required; each
    /// string may hold several certificates).
    pub ca: Vec<String>,
    /// The client's PEM certificate chain, for two-way authentication (with `key`).
    pub cert: Option<String>,
    /// The client's PEM private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), or an
    /// encrypted PKCS#8 key (`ENCRYPTED PRIVATE KEY`, PBES2) with `password`.
    pub key: Option<String>,
    /// The password of an encrypted `key`.
    pub password: Option<String>,
    /// The TLS versions to offer; empty offers both 1.2 and 1.3.
    pub protocols: Vec<Protocol>,
    /// The seed's `useRemoteCipherPrefer`. The server always picks the suite in TLS,
    /// so for this client socket it has no effect; it is accepted for compatibility.
    pub use_remote_cipher_prefer: bool,
    /// Signature algorithms the server may use, in OpenSSL's colon-separated form
    /// (`"rsa_pss_rsae_sha256:ECDSA+SHA256"`). Unknown names are 2100001.
    pub signature_algorithms: Option<String>,
    /// Cipher suites to offer, colon-separated, in OpenSSL (`ECDHE-RSA-AES128-GCM-SHA256`,
    /// `TLS_AES_128_GCM_SHA256`) or IANA naming. Only AEAD suites exist in rustls: a
    /// CBC suite such as the seed's example `AES256-SHA256` is refused (2100001).
    pub cipher_suite: Option<String>,
}

/// Where and how to connect over TLS (seed `TLSConnectOptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConnectOptions {
    /// The server's address; its certificate must name this IP address.
    pub address: NetAddress,
    /// Certificates, key and algorithms.
    pub secure_options: TlsSecureOptions,
    /// ALPN protocols to offer, e.g. `["h2", "http/1.1"]`.
    pub alpn_protocols: Vec<String>,
    /// How long the TCP connection and the handshake may take together; `None` leaves
    /// the TCP part to the system and does not limit the handshake.
    pub timeout: Option<Duration>,
}

impl TlsConnectOptions {
    /// Connect to `address` with `secure_options`, no ALPN, no time limit.
    pub fn new(address: NetAddress, secure_options: TlsSecureOptions) -> Self {
        Self {
            address,
            secure_options,
            alpn_protocols: Vec::new(),
            timeout: None,
        }
    }
}

/// A certificate in DER (seed `X509CertRawData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X509CertRawData {
    /// The DER bytes of the certificate.
    pub data: Vec<u8>,
}

/// What the handshake settled, kept for the getters.
#[derive(Debug, Clone)]
struct Session {
    protocol: Option<ProtocolVersion>,
    cipher_suite: Option<SupportedCipherSuite>,
    remote_certificate: Option<Vec<u8>>,
    local_certificate: Option<Vec<u8>>,
    signature_algorithms: Vec<SignatureScheme>,
}

/// A TLS client socket (seed `TLSSocket`; `constructTLSSocketInstance()` is
/// [`TlsSocket::new`]). One-way authentication with `ca`, two-way with `cert` and
/// `key` too. Events: `message`, `connect`, `close`, `error`.
pub struct TlsSocket {
    core: ClientCore,
    session: Mutex<Option<Session>>,
}

impl Default for TlsSocket {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsSocket {
    /// A socket that is neither bound nor connected. Needs a tokio runtime.
    pub fn new() -> Self {
        Self {
            core: ClientCore::new(),
            session: Mutex::new(None),
        }
    }

    /// Binds to a local address (port 0: the system picks one). Only before `connect`.
    pub async fn bind(&self, address: NetAddress) -> Result<(), Error> {
        self.core.bind(address)
    }

    /// Connects, authenticates the server against `ca` (and itself with `cert`/`key`),
    /// then emits `connect`. Bad options are 401/2100001 before anything is sent; a
    /// refused handshake (wrong CA, no common version or suite) is 2100003.
    pub async fn connect(&self, options: TlsConnectOptions) -> Result<(), Error> {
        let (config, session) = client_config(&options)?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let server_name = ServerName::IpAddress(options.address.ip().into());
        let handshake = async {
            let tcp = self.core.connect_tcp(options.address, None).await?;
            let tls = connector
                .connect(server_name, tcp.stream)
                .await
                .map_err(|e| io_error(&format!("TLS handshake with {}", tcp.peer), e))?;
            Ok::<_, Error>((tls, tcp.socket, tcp.peer))
        };
        let (tls, socket, peer) = match options.timeout {
            Some(t) if t.is_zero() => {
                return Err(Error::invalid("connect timeout must be above 0 ms"));
            }
            Some(limit) => tokio::time::timeout(limit, handshake)
                .await
                .map_err(|_| Error::Internal(format!("TLS connect: timed out after {limit:?}")))?,
            None => handshake.await,
        }?;
        let (_, connection) = tls.get_ref();
        let session = Session {
            protocol: connection.protocol_version(),
            cipher_suite: connection.negotiated_cipher_suite(),
            remote_certificate: connection
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|c| c.to_vec()),
            ..session
        };
        tracing::debug!(%peer, protocol = ?session.protocol, suite = ?session.cipher_suite, "TLS connected");
        *self.session.lock().unwrap_or_else(PoisonError::into_inner) = Some(session);
        self.core.attach(tokio::io::split(tls), socket, peer)
    }

    fn session<T>(&self, operation: &str, f: impl FnOnce(&Session) -> T) -> Result<T, Error> {
        self.core.shared.check_open(operation)?;
        self.session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(f)
            .ok_or_else(|| not_ready(operation, "connected"))
    }

    /// The client's own certificate (two-way authentication), `None` in one-way.
    pub async fn get_certificate(&self) -> Result<Option<X509CertRawData>, Error> {
        self.session("getCertificate", |s| {
            s.local_certificate
                .clone()
                .map(|data| X509CertRawData { data })
        })
    }

    /// The server's certificate.
    pub async fn get_remote_certificate(&self) -> Result<Option<X509CertRawData>, Error> {
        self.session("getRemoteCertificate", |s| {
            s.remote_certificate
                .clone()
                .map(|data| X509CertRawData { data })
        })
    }

    /// The negotiated cipher suite, in OpenSSL naming (as a one-element list, as in
    /// the seed).
    pub async fn get_cipher_suite(&self) -> Result<Vec<String>, Error> {
        self.session("getCipherSuite", |s| {
            s.cipher_suite
                .map(|suite| suite_names(suite).0.to_owned())
                .into_iter()
                .collect()
        })
    }

    /// The negotiated version: `"TLSv1.2"` or `"TLSv1.3"`.
    pub async fn get_protocol(&self) -> Result<String, Error> {
        self.session("getProtocol", |s| match s.protocol {
            Some(ProtocolVersion::TLSv1_3) => Protocol::TLSv13.name().to_owned(),
            Some(ProtocolVersion::TLSv1_2) => Protocol::TLSv12.name().to_owned(),
            other => format!("{other:?}"),
        })
    }

    /// The signature algorithms this client accepted from the server, most preferred
    /// first, in OpenSSL naming (rustls does not report the server's list).
    pub async fn get_signature_algorithms(&self) -> Result<Vec<String>, Error> {
        self.session("getSignatureAlgorithms", |s| {
            s.signature_algorithms
                .iter()
                .map(|scheme| scheme_name(*scheme))
                .collect()
        })
    }

    /// Sends bytes. Only when connected.
    pub async fn send(&self, data: impl AsRef<[u8]>) -> Result<(), Error> {
        self.core.send(data.as_ref()).await
    }

    /// Sends `text` in `encoding`.
    pub async fn send_text(&self, text: &str, encoding: Encoding) -> Result<(), Error> {
        self.core.send(&encoding.encode(text)?).await
    }

    /// Sends `close_notify`, closes the socket and emits `close`. Closing twice fails.
    pub async fn close(&self) -> Result<(), Error> {
        self.core.close().await
    }

    /// The peer's address. Only when connected.
    pub async fn get_remote_address(&self) -> Result<NetAddress, Error> {
        self.core.remote_address()
    }

    /// Whether the socket is bound, connected, closed.
    pub async fn get_state(&self) -> Result<SocketState, Error> {
        Ok(self.core.state())
    }

    /// Sets TCP options; all are checked before any is set. Only when bound or
    /// connected.
    pub async fn set_extra_options(&self, options: TcpExtraOptions) -> Result<(), Error> {
        self.core.set_extra_options(&options)
    }

    /// Binds the socket to network interface `name` (`SO_BINDTODEVICE`); see
    /// [`TcpSocket::bind_to_interface`](crate::TcpSocket::bind_to_interface).
    pub fn bind_to_interface(&self, name: &str) -> Result<(), Error> {
        self.core.bind_to_interface(name)
    }

    /// The interface the socket is bound to, if any.
    pub fn bound_interface(&self) -> Result<Option<String>, Error> {
        self.core.bound_interface()
    }

    /// Runs `f` with the OS socket, e.g. to read options back. Only when bound or
    /// connected.
    pub fn with_socket<T>(&self, f: impl FnOnce(socket2::SockRef<'_>) -> T) -> Result<T, Error> {
        self.core.with_socket("with_socket", |s| Ok(f(s)))
    }
}

impl EventSource for TlsSocket {
    type Event = SocketEvent;

    fn event_hub(&self) -> &EventHub<SocketEvent> {
        &self.core.shared.hub
    }
}

/// The rustls configuration for `options`, and the parts of the session known before
/// the handshake.
fn client_config(options: &TlsConnectOptions) -> Result<(rustls::ClientConfig, Session), Error> {
    let secure = &options.secure_options;
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(list) = &secure.cipher_suite {
        provider.cipher_suites = cipher_suites(list, &provider.cipher_suites)?;
    }
    let provider = Arc::new(provider);

    let mut roots = rustls::RootCertStore::empty();
    if secure.ca.is_empty() {
        return Err(Error::Parameter("secureOptions.ca is required".into()));
    }
    for pem in &secure.ca {
        for cert in parse_certificates(pem, "secureOptions.ca")? {
            roots
                .add(cert)
                .map_err(|e| Error::invalid(format!("secureOptions.ca: {e}")))?;
        }
    }
    let webpki =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| Error::invalid(format!("secureOptions.ca: {e}")))?;
    let schemes = match &secure.signature_algorithms {
        Some(list) => signature_schemes(list, &webpki.supported_verify_schemes())?,
        None => webpki.supported_verify_schemes(),
    };
    let verifier = Arc::new(RestrictedVerifier {
        inner: webpki,
        schemes: schemes.clone(),
    });

    let versions: Vec<_> = if secure.protocols.is_empty() {
        vec![&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        secure.protocols.iter().map(|p| p.version()).collect()
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| Error::invalid(format!("protocols and cipherSuite do not fit: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);

    let (mut config, local_certificate) = match (&secure.cert, &secure.key) {
        (None, None) => (builder.with_no_client_auth(), None),
        (Some(cert), Some(key)) => {
            let chain = parse_certificates(cert, "secureOptions.cert")?;
            let leaf = chain.first().map(|c| c.to_vec());
            let key = parse_key(key, secure.password.as_deref())?;
            let config = builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::invalid(format!("secureOptions.cert/key: {e}")))?;
            (config, leaf)
        }
        _ => {
            return Err(Error::Parameter(
                "secureOptions.cert and secureOptions.key go together".into(),
            ));
        }
    };
    config.alpn_protocols = options
        .alpn_protocols
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    let session = Session {
        protocol: None,
        cipher_suite: None,
        remote_certificate: None,
        local_certificate,
        signature_algorithms: schemes,
    };
    Ok((config, session))
}

fn parse_certificates(pem: &str, field: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid(format!("{field}: not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(Error::invalid(format!(
            "{field}: no certificate in the PEM text"
        )));
    }
    Ok(certs)
}

const ENCRYPTED_KEY_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// A private key from PEM, decrypting an encrypted PKCS#8 key with `password`.
fn parse_key(pem: &str, password: Option<&str>) -> Result<PrivateKeyDer<'static>, Error> {
    if pem.contains(ENCRYPTED_KEY_LABEL) {
        let password = password.ok_or_else(|| {
            Error::Parameter("secureOptions.password is required for an encrypted key".into())
        })?;
        let (label, document) = pkcs8::der::Document::from_pem(pem)
            .map_err(|e| Error::invalid(format!("secureOptions.key: {e}")))?;
        if label != ENCRYPTED_KEY_LABEL {
            return Err(Error::invalid(format!(
                "secureOptions.key: unexpected PEM label {label:?}"
            )));
        }
        let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(document.as_bytes())
            .map_err(|e| Error::invalid(format!("secureOptions.key: {e}")))?;
        let decrypted = encrypted.decrypt(password).map_err(|e| {
            Error::invalid(format!(
                "secureOptions.key: cannot decrypt (wrong password?): {e}"
            ))
        })?;
        return Ok(PrivatePkcs8KeyDer::from(decrypted.as_bytes().to_vec()).into());
    }
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| Error::invalid(format!("secureOptions.key: not a PEM private key: {e}")))
}

/// OpenSSL's name and rustls's (IANA) name of a suite.
fn suite_names(suite: SupportedCipherSuite) -> (&'static str, &'static str) {
    use rustls::CipherSuite as S;
    let iana = suite.suite().as_str().unwrap_or("unknown");
    let openssl = match suite.suite() {
        S::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        S::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        S::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => iana,
    };
    (openssl, iana)
}

/// The suites named in a colon-separated list, in its order.
fn cipher_suites(
    list: &str,
    available: &[SupportedCipherSuite],
) -> Result<Vec<SupportedCipherSuite>, Error> {
    let mut chosen = Vec::new();
    for name in list.split(':').map(str::trim).filter(|n| !n.is_empty()) {
        let suite = available
            .iter()
            .find(|s| {
                let (openssl, iana) = suite_names(**s);
                openssl.eq_ignore_ascii_case(name)
                    || iana.eq_ignore_ascii_case(name)
                    || iana.replace("TLS13_", "TLS_").eq_ignore_ascii_case(name)
            })
            .ok_or_else(|| {
                let known: Vec<_> = available.iter().map(|s| suite_names(*s).0).collect();
                Error::invalid(format!(
                    "cipherSuite {name:?} is not supported (supported: {})",
                    known.join(":")
                ))
            })?;
        if !chosen.contains(suite) {
            chosen.push(*suite);
        }
    }
    if chosen.is_empty() {
        return Err(Error::invalid("cipherSuite names no suite"));
    }
    Ok(chosen)
}

/// OpenSSL's name of a signature scheme.
fn scheme_name(scheme: SignatureScheme) -> String {
    SIGNATURE_NAMES
        .iter()
        .find(|(_, _, s)| *s == scheme)
        .map_or_else(|| format!("{scheme:?}"), |(name, _, _)| (*name).to_owned())
}

/// (TLS name, OpenSSL `SIG+HASH` name, scheme).
const SIGNATURE_NAMES: &[(&str, &str, SignatureScheme)] = &[
    (
        "rsa_pkcs1_sha256",
        "RSA+SHA256",
        SignatureScheme::RSA_PKCS1_SHA256,
    ),
    (
        "rsa_pkcs1_sha384",
        "RSA+SHA384",
        SignatureScheme::RSA_PKCS1_SHA384,
    ),
    (
        "rsa_pkcs1_sha512",
        "RSA+SHA512",
        SignatureScheme::RSA_PKCS1_SHA512,
    ),
    (
        "rsa_pss_rsae_sha256",
        "RSA-PSS+SHA256",
        SignatureScheme::RSA_PSS_SHA256,
    ),
    (
        "rsa_pss_rsae_sha384",
        "RSA-PSS+SHA384",
        SignatureScheme::RSA_PSS_SHA384,
    ),
    (
        "rsa_pss_rsae_sha512",
        "RSA-PSS+SHA512",
        SignatureScheme::RSA_PSS_SHA512,
    ),
    (
        "ecdsa_secp256r1_sha256",
        "ECDSA+SHA256",
        SignatureScheme::ECDSA_NISTP256_SHA256,
    ),
    (
        "ecdsa_secp384r1_sha384",
        "ECDSA+SHA384",
        SignatureScheme::ECDSA_NISTP384_SHA384,
    ),
    (
        "ecdsa_secp521r1_sha512",
        "ECDSA+SHA512",
        SignatureScheme::ECDSA_NISTP521_SHA512,
    ),
    ("ed25519", "ED25519", SignatureScheme::ED25519),
];

/// The schemes named in a colon-separated list, in its order; each must be one the
/// crypto provider can verify.
fn signature_schemes(
    list: &str,
    supported: &[SignatureScheme],
) -> Result<Vec<SignatureScheme>, Error> {
    let mut chosen = Vec::new();
    for name in list.split(':').map(str::trim).filter(|n| !n.is_empty()) {
        let scheme = SIGNATURE_NAMES
            .iter()
            .find(|(tls, openssl, _)| {
                tls.eq_ignore_ascii_case(name) || openssl.eq_ignore_ascii_case(name)
            })
            .map(|(_, _, s)| *s)
            .filter(|s| supported.contains(s))
            .ok_or_else(|| {
                Error::invalid(format!("signatureAlgorithms: {name:?} is not supported"))
            })?;
        if !chosen.contains(&scheme) {
            chosen.push(scheme);
        }
    }
    if chosen.is_empty() {
        return Err(Error::invalid("signatureAlgorithms names no algorithm"));
    }
    Ok(chosen)
}

/// webpki's verification, offering and accepting only the chosen signature schemes.
#[derive(Debug)]
struct RestrictedVerifier {
    inner: Arc<WebPkiServerVerifier>,
    schemes: Vec<SignatureScheme>,
}

impl RestrictedVerifier {
    fn check(&self, dss: &DigitallySignedStruct) -> Result<(), rustls::Error> {
        if self.schemes.contains(&dss.scheme) {
            Ok(())
        } else {
            Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ))
        }
    }
}

impl ServerCertVerifier for RestrictedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check(dss)?;
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check(dss)?;
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}
