//! The TCP client socket (seed `TCPSocket`).

use std::time::Duration;

use netcore::{Error, NetAddress};

use crate::connection::ClientCore;
use crate::events::{EventHub, EventSource};
use crate::types::{Encoding, SocketEvent, SocketState, TcpExtraOptions};

/// Where and how long to connect (seed `TCPConnectOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConnectOptions {
    /// The peer's address and port.
    pub address: NetAddress,
    /// How long to wait for the connection; `None` leaves it to the system. Zero is
    /// refused (2100001).
    pub timeout: Option<Duration>,
}

impl TcpConnectOptions {
    /// Connect to `address` with no time limit of our own.
    pub fn new(address: NetAddress) -> Self {
        Self {
            address,
            timeout: None,
        }
    }
}

/// A TCP client socket (seed `TCPSocket`, `constructTCPSocketInstance()` is
/// [`TcpSocket::new`]). Events: `message`, `connect`, `close`, `error`.
///
/// Reading starts once anything listens (a callback or a stream), so no data is lost
/// before that; the peer closing is seen by the read, and so also only then.
pub struct TcpSocket {
    core: ClientCore,
}

impl Default for TcpSocket {
    fn default() -> Self {
        Self::new()
    }
}

impl TcpSocket {
    /// A socket that is neither bound nor connected. Needs a tokio runtime.
    pub fn new() -> Self {
        Self {
            core: ClientCore::new(),
        }
    }

    /// Binds to a local address (port 0: the system picks one). Only before `connect`.
    pub async fn bind(&self, address: NetAddress) -> Result<(), Error> {
        self.core.bind(address)
    }

    /// Connects to `options.address` (from the bound address if `bind` was called),
    /// then emits `connect`.
    pub async fn connect(&self, options: TcpConnectOptions) -> Result<(), Error> {
        let tcp = self
            .core
            .connect_tcp(options.address, options.timeout)
            .await?;
        self.core
            .attach(tcp.stream.into_split(), tcp.socket, tcp.peer)
    }

    /// Sends bytes. Only when connected.
    pub async fn send(&self, data: impl AsRef<[u8]>) -> Result<(), Error> {
        self.core.send(data.as_ref()).await
    }

    /// Sends `text` in `encoding` (seed `TCPSendOptions` with `encoding`).
    pub async fn send_text(&self, text: &str, encoding: Encoding) -> Result<(), Error> {
        self.core.send(&encoding.encode(text)?).await
    }

    /// Closes the socket and emits `close`; every later call fails. Closing twice fails.
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

    /// Sets options; all are checked before any is set. Only when bound or connected.
    pub async fn set_extra_options(&self, options: TcpExtraOptions) -> Result<(), Error> {
        self.core.set_extra_options(&options)
    }

    /// Binds the socket to network interface `name` (`SO_BINDTODEVICE`), now if the
    /// OS socket exists (after `bind`/`connect`), else when `bind` or `connect` creates
    /// it. A missing interface is 2100001. This is what `NetHandle.bindSocket` uses.
    pub fn bind_to_interface(&self, name: &str) -> Result<(), Error> {
        self.core.bind_to_interface(name)
    }

    /// The interface the socket is bound to (read back with `getsockopt`), if any.
    pub fn bound_interface(&self) -> Result<Option<String>, Error> {
        self.core.bound_interface()
    }

    /// Runs `f` with the OS socket, e.g. to read options back. Only when bound or
    /// connected.
    pub fn with_socket<T>(&self, f: impl FnOnce(socket2::SockRef<'_>) -> T) -> Result<T, Error> {
        self.core.with_socket("with_socket", |s| Ok(f(s)))
    }
}

impl EventSource for TcpSocket {
    type Event = SocketEvent;

    fn event_hub(&self) -> &EventHub<SocketEvent> {
        &self.core.shared.hub
    }
}
