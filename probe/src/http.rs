//! A deliberately small HTTP/1.1 client for probe servers, which are untrusted: the
//! response head is capped, the body is read only as far as needed to know whether it
//! is empty, and the socket is bound to the network's interface.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use url::Url;

use crate::target::NetworkTarget;

/// The largest number of headers a probe response may have.
const MAX_HEADERS: usize = 64;

/// What a probe server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The `Location` header, resolved against the probe URL.
    pub location: Option<String>,
    /// Whether the response has a non-empty body (only looked at when it matters:
    /// 2xx and 3xx other than 204).
    pub has_body: bool,
}

/// Why a probe got no answer.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// The URL cannot be probed (no host).
    Url(String),
    /// The host could not be resolved.
    Resolve(netcore::Error),
    /// Connecting, TLS or the exchange failed.
    Io(io::Error),
    /// The server's answer is not HTTP or breaks a bound.
    Protocol(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(e) => write!(f, "bad probe URL: {e}"),
            Self::Resolve(e) => write!(f, "{e}"),
            Self::Io(e) => write!(f, "{e}"),
            Self::Protocol(e) => write!(f, "bad answer: {e}"),
        }
    }
}

impl From<io::Error> for FetchError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// GETs `url` over a connection bound to the target's interface, TLS when `tls` is
/// given, and reads the answer within `max_header_bytes`. Each address of the host
/// gets `connect_timeout` to accept before the next is tried.
pub(crate) async fn fetch(
    url: &Url,
    target: &NetworkTarget,
    tls: Option<&TlsConnector>,
    max_header_bytes: usize,
    connect_timeout: Duration,
) -> Result<HttpAnswer, FetchError> {
    let host = url
        .host_str()
        .ok_or_else(|| FetchError::Url(format!("{url} has no host")))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| FetchError::Url(format!("{url} has no port")))?;
    let addresses = target.resolve(host).await.map_err(FetchError::Resolve)?;
    let stream = connect_any(&addresses, port, &target.interface, connect_timeout).await?;
    match tls {
        Some(connector) => {
            let name = server_name(host)?;
            let stream = connector.connect(name, stream).await?;
            exchange(stream, url, max_header_bytes).await
        }
        None => exchange(stream, url, max_header_bytes).await,
    }
}

fn server_name(host: &str) -> Result<ServerName<'static>, FetchError> {
    match crate::target::literal_address(host) {
        Some(ip) => Ok(ServerName::IpAddress(ip.into())),
        None => ServerName::try_from(host.to_owned())
            .map_err(|e| FetchError::Url(format!("{host:?} is not a TLS server name: {e}"))),
    }
}

/// Connects to the first of `addresses` that accepts within `timeout`, over a socket
/// bound to `interface`.
async fn connect_any(
    addresses: &[IpAddr],
    port: u16,
    interface: &str,
    timeout: Duration,
) -> Result<TcpStream, FetchError> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    for ip in addresses {
        let address = SocketAddr::new(*ip, port);
        let attempt = tokio::time::timeout(timeout, connect_bound(address, interface)).await;
        match attempt.unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())) {
            Ok(stream) => return Ok(stream),
            Err(e) => {
                tracing::debug!(%address, interface, error = %e, "probe connection failed");
                last = e;
            }
        }
    }
    Err(FetchError::Io(last))
}

/// A TCP connection to `address` from a socket bound to `interface`.
pub(crate) async fn connect_bound(address: SocketAddr, interface: &str) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.bind_device(Some(interface.as_bytes()))?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    let socket = TcpSocket::from_std_stream(socket.into());
    socket.connect(address).await
}

/// Sends the GET and reads the answer.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    url: &Url,
    max_header_bytes: usize,
) -> Result<HttpAnswer, FetchError> {
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return Err(FetchError::Url(format!("{url} has no host"))),
    };
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: netcore-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    read_answer(&mut stream, url, max_header_bytes).await
}

/// Reads a response head of at most `max_header_bytes` and, when it matters, just
/// enough of the body to know whether it is empty.
pub(crate) async fn read_answer<S: AsyncRead + Unpin>(
    stream: &mut S,
    url: &Url,
    max_header_bytes: usize,
) -> Result<HttpAnswer, FetchError> {
    let mut buf = Vec::with_capacity(max_header_bytes.min(4096));
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let status = response
                    .code
                    .ok_or_else(|| FetchError::Protocol("no status code".into()))?;
                let header = |name: &str| {
                    response
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
                };
                let location = header("location")
                    .and_then(|l| url.join(&l).ok())
                    .map(String::from);
                let content_length = header("content-length");
                let chunked = header("transfer-encoding")
                    .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
                let needs_body = (200..400).contains(&status) && status != 204 && status != 304;
                let rest = buf[head_len..].to_vec();
                let has_body = if !needs_body {
                    false
                } else if chunked {
                    first_chunk_nonempty(stream, rest, max_header_bytes).await?
                } else if let Some(length) = content_length {
                    length
                        .parse::<u64>()
                        .map_err(|_| FetchError::Protocol(format!("Content-Length {length:?}")))?
                        > 0
                } else if !rest.is_empty() {
                    true
                } else {
                    let mut byte = [0u8; 1];
                    stream.read(&mut byte).await? > 0
                };
                return Ok(HttpAnswer {
                    status,
                    location,
                    has_body,
                });
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => return Err(FetchError::Protocol(e.to_string())),
        }
        if buf.len() >= max_header_bytes {
            return Err(FetchError::Protocol(format!(
                "response head larger than {max_header_bytes} bytes"
            )));
        }
        read_some(stream, &mut buf, max_header_bytes).await?;
    }
}

/// Appends what the stream gives to `buf`, never beyond `cap` bytes in all; the end of
/// the stream is an error (the caller needs more).
async fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    cap: usize,
) -> Result<(), FetchError> {
    let mut chunk = [0u8; 4096];
    let room = cap.saturating_sub(buf.len()).min(chunk.len());
    let n = stream.read(&mut chunk[..room]).await?;
    if n == 0 {
        return Err(FetchError::Protocol("connection closed early".into()));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// Whether a chunked body's first chunk is non-empty (a size of 0 ends the body).
async fn first_chunk_nonempty<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
    cap: usize,
) -> Result<bool, FetchError> {
    loop {
        match httparse::parse_chunk_size(&buf) {
            Ok(httparse::Status::Complete((_, size))) => return Ok(size > 0),
            Ok(httparse::Status::Partial) => {}
            Err(_) => return Err(FetchError::Protocol("bad chunk size".into())),
        }
        if buf.len() >= cap {
            return Err(FetchError::Protocol("chunk size line too long".into()));
        }
        read_some(stream, &mut buf, cap).await?;
    }
}

/// A TLS connector trusting `roots`, on the ring provider.
pub(crate) fn tls_connector(
    roots: tokio_rustls::rustls::RootCertStore,
) -> Result<TlsConnector, netcore::Error> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| netcore::Error::Internal(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(raw: &[u8]) -> Result<HttpAnswer, FetchError> {
        let url = Url::parse("http://probe.test/generate_204")
            .map_err(|e| FetchError::Url(e.to_string()))?;
        let mut reader = raw;
        read_answer(&mut reader, &url, 256).await
    }

    #[tokio::test]
    async fn parses_status_location_and_body() {
        let a = answer(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
        assert_eq!((a.status, a.location, a.has_body), (204, None, false));
        let a = answer(b"HTTP/1.1 302 Found\r\nLocation: /login?x=1\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(a.location.as_deref(), Some("http://probe.test/login?x=1"));
        assert!(!a.has_body);
        let a = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            .await
            .unwrap();
        assert!(a.has_body);
        let a = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        assert!(!a.has_body);
        let a = answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            .await
            .unwrap();
        assert!(!a.has_body);
        let a = answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n")
            .await
            .unwrap();
        assert!(a.has_body);
        let a = answer(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        assert!(!a.has_body);
        let a = answer(b"HTTP/1.0 200 OK\r\n\r\nx").await.unwrap();
        assert!(a.has_body);
    }

    #[tokio::test]
    async fn refuses_oversized_or_broken_heads() {
        let mut big = b"HTTP/1.1 204 No Content\r\nX-Pad: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 1000));
        big.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(answer(&big).await, Err(FetchError::Protocol(_))));
        assert!(matches!(
            answer(b"garbage\r\n\r\n").await,
            Err(FetchError::Protocol(_))
        ));
        assert!(matches!(
            answer(b"HTTP/1.1 204").await,
            Err(FetchError::Protocol(_))
        ));
        assert!(matches!(
            answer(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").await,
            Err(FetchError::Protocol(_))
        ));
    }
}
