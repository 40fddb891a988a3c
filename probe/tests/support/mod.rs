//! Test servers: HTTP and HTTPS probe servers (well-behaved and hostile) on real
//! sockets, and a test CA made with rcgen.
#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority for tests.
pub struct TestCa {
    /// The CA certificate in PEM, for `ValidatorConfig::extra_root_certs_pem`.
    pub pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(params, key).unwrap();
        Self {
            pem: issuer.pem(),
            issuer,
        }
    }

    /// A TLS server configuration with a certificate for `names` (addresses or DNS
    /// names) signed by this CA.
    pub fn server_config(&self, names: &[&str]) -> Arc<ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
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
        Arc::new(config)
    }
}

/// What a test server does once it has read a request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Writes these bytes and closes.
    Answer(Vec<u8>),
    /// Never answers and keeps the connection open.
    Hang,
    /// Starts a 204 and then sends header bytes forever.
    HugeHeader,
    /// Answers 200 and sends body bytes forever.
    EndlessBody,
    /// Sends the status line one byte every 50 ms, forever.
    SlowHead,
}

impl Behaviour {
    pub fn no_content() -> Self {
        Self::Answer(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n".to_vec())
    }

    pub fn redirect(location: &str) -> Self {
        Self::Answer(
            format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
                .into_bytes(),
        )
    }

    pub fn page(body: &str) -> Self {
        Self::Answer(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }
}

/// Events a server reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerEvent {
    /// A request was read.
    Request,
    /// The client closed the connection.
    ClientClosed,
}

/// A server on a real socket; it stops (with all its connections) when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    events: mpsc::UnboundedReceiver<ServerEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Starts a server on `bind` (port 0 for any), over TLS when `tls` is given.
    pub async fn start(
        bind: SocketAddr,
        behaviour: Behaviour,
        tls: Option<Arc<ServerConfig>>,
    ) -> Self {
        let listener = TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sender, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let behaviour = behaviour.clone();
                let sender = sender.clone();
                let tls = tls.clone();
                connections.spawn(async move {
                    match tls {
                        Some(config) => {
                            if let Ok(stream) = TlsAcceptor::from(config).accept(stream).await {
                                serve(stream, behaviour, sender).await;
                            }
                        }
                        None => serve(stream, behaviour, sender).await,
                    }
                });
            }
        });
        Self { addr, events, task }
    }

    /// Starts a plain HTTP server on loopback.
    pub async fn http(behaviour: Behaviour) -> Self {
        Self::start(loopback(), behaviour, None).await
    }

    /// Starts an HTTPS server on loopback.
    pub async fn https(behaviour: Behaviour, tls: Arc<ServerConfig>) -> Self {
        Self::start(loopback(), behaviour, Some(tls)).await
    }

    /// The next event, or `None` after 10 s (a hang guard, not a timing check).
    pub async fn next_event(&mut self) -> Option<ServerEvent> {
        tokio::time::timeout(Duration::from_secs(10), self.events.recv())
            .await
            .ok()
            .flatten()
    }
}

pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A loopback port nobody listens on.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    listener.local_addr().unwrap()
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    behaviour: Behaviour,
    events: mpsc::UnboundedSender<ServerEvent>,
) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if request.len() > 16 * 1024 {
            return;
        }
    }
    let _ = events.send(ServerEvent::Request);
    let chunk = vec![b'a'; 16 * 1024];
    match behaviour {
        Behaviour::Answer(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Behaviour::Hang => {
            // Read until the client goes away, answering nothing.
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            let _ = events.send(ServerEvent::ClientClosed);
        }
        Behaviour::HugeHeader => {
            let _ = stream
                .write_all(b"HTTP/1.1 204 No Content\r\nX-Huge: ")
                .await;
            while stream.write_all(&chunk).await.is_ok() {}
        }
        Behaviour::EndlessBody => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n")
                .await;
            while stream.write_all(&chunk).await.is_ok() {}
        }
        Behaviour::SlowHead => {
            for byte in b"HTTP/1.1 204 No Content".iter().cycle() {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Servers running on a thread inside a namespace until this is dropped.
pub struct Servers {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<netcore_link::Result<()>>>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts servers in `ns`: (address, behaviour, TLS) each.
pub fn serve_in(
    ns: &netcore_link::testing::NetNs,
    servers: Vec<(SocketAddr, Behaviour, Option<Arc<ServerConfig>>)>,
) -> Servers {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready, started) = std::sync::mpsc::channel();
    let thread = ns.spawn(move || async move {
        let mut running = Vec::new();
        for (addr, behaviour, tls) in servers {
            running.push(TestServer::start(addr, behaviour, tls).await);
        }
        let _ = ready.send(());
        let _ = stopped.await;
    });
    started
        .recv_timeout(Duration::from_secs(20))
        .expect("servers did not start");
    Servers {
        stop: Some(stop),
        thread: Some(thread),
    }
}
