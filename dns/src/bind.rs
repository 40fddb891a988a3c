//! Sockets bound to a network's interface (`SO_BINDTODEVICE`), so that a network's DNS
//! queries never leave through another interface.
//!
//! A hickory [`RuntimeProvider`] that creates its UDP and TCP sockets with socket2,
//! binds them to the interface with socket2's safe `bind_device`, and hands them to
//! tokio. No `unsafe` code. On Linux before 5.7 binding needs `CAP_NET_RAW` (or root;
//! later kernels let any process bind an unbound socket); [`probe_binding`]
//! tells beforehand whether it works, so that lookups can fail with a clear message.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hickory_net::runtime::iocompat::AsyncIoTokioAsStd;
use hickory_net::runtime::{RuntimeProvider, TokioHandle, TokioRuntimeProvider, TokioTime};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

/// How long a TCP connection to a DNS server may take when hickory gives no limit.
const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A hickory runtime whose sockets are bound to one interface (or to none when the
/// interface name is empty).
#[derive(Clone, Default)]
pub(crate) struct BoundRuntime {
    tokio: TokioRuntimeProvider,
    interface: Option<Arc<str>>,
}

impl BoundRuntime {
    /// A runtime binding its sockets to `interface` (none when empty).
    pub(crate) fn new(interface: &str) -> Self {
        Self {
            tokio: TokioRuntimeProvider::new(),
            interface: (!interface.is_empty()).then(|| Arc::from(interface)),
        }
    }
}

/// A socket of `addr`'s family bound to `interface` when one is given.
fn new_socket(
    addr: &SocketAddr,
    kind: Type,
    proto: Protocol,
    interface: Option<&str>,
) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(*addr), kind, Some(proto))?;
    if let Some(interface) = interface {
        socket.bind_device(Some(interface.as_bytes()))?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Whether a socket can be bound to `interface`: `Ok` or a message saying why not
/// (no permission, no such interface).
pub(crate) fn probe_binding(interface: &str) -> Result<(), String> {
    let any: SocketAddr = SocketAddr::from(([0, 0, 0, 0], 0));
    match new_socket(&any, Type::DGRAM, Protocol::UDP, Some(interface)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(format!(
            "binding DNS sockets to interface {interface:?} is not permitted: \
             it needs CAP_NET_RAW or root on this kernel ({e})"
        )),
        Err(e) => Err(format!(
            "cannot bind DNS sockets to interface {interface:?}: {e}"
        )),
    }
}

impl RuntimeProvider for BoundRuntime {
    type Handle = TokioHandle;
    type Timer = TokioTime;
    type Udp = UdpSocket;
    type Tcp = AsyncIoTokioAsStd<TcpStream>;

    fn create_handle(&self) -> Self::Handle {
        self.tokio.create_handle()
    }

    fn connect_tcp(
        &self,
        server_addr: SocketAddr,
        bind_addr: Option<SocketAddr>,
        timeout: Option<Duration>,
    ) -> Pin<Box<dyn Send + Future<Output = io::Result<Self::Tcp>>>> {
        let interface = self.interface.clone();
        Box::pin(async move {
            let socket = new_socket(
                &server_addr,
                Type::STREAM,
                Protocol::TCP,
                interface.as_deref(),
            )?;
            if let Some(bind_addr) = bind_addr {
                socket.bind(&bind_addr.into())?;
            }
            let socket = TcpSocket::from_std_stream(socket.into());
            socket.set_nodelay(true)?;
            let wait = timeout.unwrap_or(TCP_CONNECT_TIMEOUT);
            match tokio::time::timeout(wait, socket.connect(server_addr)).await {
                Ok(stream) => Ok(AsyncIoTokioAsStd(stream?)),
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("TCP connection to DNS server {server_addr} timed out"),
                )),
            }
        })
    }

    fn bind_udp(
        &self,
        local_addr: SocketAddr,
        server_addr: SocketAddr,
    ) -> Pin<Box<dyn Send + Future<Output = io::Result<Self::Udp>>>> {
        let interface = self.interface.clone();
        Box::pin(async move {
            let socket = new_socket(
                &server_addr,
                Type::DGRAM,
                Protocol::UDP,
                interface.as_deref(),
            )?;
            socket.bind(&local_addr.into())?;
            UdpSocket::from_std(socket.into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device_of(socket: &UdpSocket) -> Option<Vec<u8>> {
        socket2::SockRef::from(socket).device().ok().flatten()
    }

    #[tokio::test]
    async fn udp_sockets_are_bound_to_the_interface() {
        if let Err(why) = probe_binding("lo") {
            eprintln!("skipped: {why}");
            return;
        }
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let bound = BoundRuntime::new("lo")
            .bind_udp(local, server)
            .await
            .unwrap();
        assert_eq!(device_of(&bound).as_deref(), Some(&b"lo"[..]));
        let unbound = BoundRuntime::new("").bind_udp(local, server).await.unwrap();
        assert_eq!(device_of(&unbound), None);
    }

    #[tokio::test]
    async fn tcp_connections_are_bound_to_the_interface() {
        if let Err(why) = probe_binding("lo") {
            eprintln!("skipped: {why}");
            return;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = listener.local_addr().unwrap();
        let stream = BoundRuntime::new("lo")
            .connect_tcp(server, None, None)
            .await
            .unwrap();
        let device = socket2::SockRef::from(&stream.0).device().unwrap();
        assert_eq!(device.as_deref(), Some(&b"lo"[..]));
    }

    #[test]
    fn a_missing_interface_is_named_in_the_error() {
        let why = probe_binding("nc-missing0").unwrap_err();
        assert!(why.contains("nc-missing0"), "{why}");
    }
}
