//! TCP, UDP and TLS sockets and the TCP server of the socket API (seeds 002 and 003),
//! on tokio, each bindable to a network interface.
//!
//! | seed | here |
//! |---|---|
//! | `constructUDPSocketInstance()` / `UDPSocket` | [`UdpSocket::new`] / [`UdpSocket`] |
//! | `constructTCPSocketInstance()` / `TCPSocket` | [`TcpSocket::new`] / [`TcpSocket`] |
//! | `constructTCPSocketServerInstance()` / `TCPSocketServer` | [`TcpSocketServer`] |
//! | `TCPSocketConnection` | [`TcpSocketConnection`] |
//! | `constructTLSSocketInstance()` / `TLSSocket` | [`TlsSocket::new`] / [`TlsSocket`] |
//! | `on(type, callback)` / `off(type, callback?)` | [`EventSource::on`] / [`EventSource::off`] |
//! | (none) | [`EventSource::events`]: the same events as a stream |
//! | `NetHandle.bindSocket` | [`BindToInterface`], on every socket type |
//!
//! Methods are `async` where the seed returns a promise. Addresses are netcore's
//! [`NetAddress`](netcore::NetAddress): [`NetAddress::parse`](netcore::NetAddress::parse)
//! refuses a bad address, port or family with 2100001.
//!
//! Errors are netcore's [`Error`](netcore::Error) (the socket seeds define no codes
//! of their own): bad input is 401 (an event type the socket does not have) or
//! 2100001 (a value out of range, an unknown interface or encoding, a TLS option
//! that cannot be used); a missing permission 201; what the system refuses
//! (connection refused or reset, a timeout, a call on a closed socket, a failed TLS
//! handshake) 2100003, with a message saying what happened.
//!
//! Events: a socket reads only once anything listens, so no data is dropped before
//! that. A stream reads the socket itself as it is polled, in the consumer's task
//! (no hand-off between tasks); callbacks are run by a task of their own once the
//! first is registered. A stream holding a few unread messages holds back reading
//! (the peer is slowed by TCP flow control), so memory stays bounded. A connection
//! that fails (e.g. reset by the peer) emits `error` then `close`; `close` is always
//! the last event.
//!
//! ```no_run
//! use futures::StreamExt;
//! use netcore::NetAddress;
//! use netcore_socket::{EventSource, SocketEvent, TcpConnectOptions, TcpSocket};
//!
//! # async fn demo() -> Result<(), netcore::Error> {
//! let tcp = TcpSocket::new();
//! let mut events = tcp.events();
//! tcp.connect(TcpConnectOptions::new(NetAddress::parse("127.0.0.1", Some(1), Some(7))?))
//!     .await?;
//! tcp.send("hello").await?;
//! while let Some(event) = events.next().await {
//!     if let SocketEvent::Message(m) = event {
//!         println!("{} bytes from {}", m.remote_info.size, m.remote_info.address);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

/// A socket that can be bound to a network interface: what `NetHandle.bindSocket`
/// needs. Every socket type implements it.
///
/// The facade implements `bindSocket(socket)` as: look up the handle's network (2100001
/// if there is none), take its `ConnectionProperties::interface_name`, and call
/// `socket.bind_to_interface(&name)`. The socket may be bound before or after its
/// own `bind`/`connect`/`listen` (before is better: then even the connection's first
/// packet goes through that interface). Errors: 2100001 for an interface that does
/// not exist, 201 without the permission (`CAP_NET_RAW`, only before Linux 5.7),
/// 2100003 for a closed socket.
///
/// Through netcored the facade hands the socket's descriptor to the daemon instead
/// ([`BindToInterface::with_fd`]), which checks that the app may use the network and
/// marks the socket for it.
pub trait BindToInterface {
    /// Binds the socket to interface `name` (`SO_BINDTODEVICE`).
    fn bind_to_interface(&self, name: &str) -> Result<(), netcore::Error>;

    /// Calls `f` with the socket's file descriptor. netcore's own sockets have one
    /// once bound or connected (else 2100003).
    fn with_fd(
        &self,
        f: &mut dyn FnMut(BorrowedFd<'_>) -> Result<(), netcore::Error>,
    ) -> Result<(), netcore::Error>;
}

macro_rules! impl_bind_to_interface {
    ($($socket:ty),+) => {$(
        impl BindToInterface for $socket {
            fn bind_to_interface(&self, name: &str) -> Result<(), netcore::Error> {
                <$socket>::bind_to_interface(self, name)
            }

            fn with_fd(
                &self,
                f: &mut dyn FnMut(BorrowedFd<'_>) -> Result<(), netcore::Error>,
            ) -> Result<(), netcore::Error> {
                self.with_socket(|socket| f(socket.as_fd()))?
            }
        }
    )+};
}

impl_bind_to_interface!(UdpSocket, TcpSocket, TlsSocket, TcpSocketServer);

/// Plain std and tokio sockets bind through their file descriptor.
macro_rules! impl_bind_to_interface_for_fd {
    ($($socket:ty),+) => {$(
        impl BindToInterface for $socket {
            fn bind_to_interface(&self, name: &str) -> Result<(), netcore::Error> {
                bind_to_device(self.as_fd(), name)
            }

            fn with_fd(
                &self,
                f: &mut dyn FnMut(BorrowedFd<'_>) -> Result<(), netcore::Error>,
            ) -> Result<(), netcore::Error> {
                f(self.as_fd())
            }
        }
    )+};
}

impl_bind_to_interface_for_fd!(
    std::net::TcpStream,
    std::net::TcpListener,
    std::net::UdpSocket,
    tokio::net::TcpSocket,
    tokio::net::TcpStream,
    tokio::net::TcpListener,
    tokio::net::UdpSocket
);

/// Binds the socket `socket` to interface `name` (`SO_BINDTODEVICE`): a missing
/// interface is 2100001, a missing permission (`CAP_NET_RAW`, needed only before
/// Linux 5.7) 201.
pub fn bind_to_device(socket: BorrowedFd<'_>, name: &str) -> Result<(), netcore::Error> {
    sys::bind_device(socket2::SockRef::from(&socket), name)
}

mod buffer;
mod connection;
mod error;
mod events;
mod server;
mod sys;
mod tcp;
mod tls;
mod types;
mod udp;

use std::os::fd::{AsFd, BorrowedFd};

pub use bytes::Bytes;
pub use events::{Event, EventHub, EventKind, EventSource, EventStream, ListenerId};
pub use server::{ServerEvent, TcpSocketConnection, TcpSocketServer};
pub use tcp::{TcpConnectOptions, TcpSocket};
pub use tls::{Protocol, TlsConnectOptions, TlsSecureOptions, TlsSocket, X509CertRawData};
pub use types::{
    Encoding, ExtraOptions, Family, MAX_LINGER, SocketEvent, SocketLinger, SocketMessage,
    SocketRemoteInfo, SocketState, TcpExtraOptions, UdpExtraOptions,
};
pub use udp::UdpSocket;
