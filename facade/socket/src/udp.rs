//! The UDP socket (seed `UDPSocket`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};

use netcore::{Error, NetAddress};
use socket2::{SockRef, Type};
use tokio::task::JoinHandle;

use crate::buffer::BufferPool;
use crate::connection::{Shared, within_timeout};
use crate::error::{closed, io_error, not_ready};
use crate::events::{EventHub, EventKind, EventSource, Source};
use crate::sys;
use crate::types::{SocketEvent, SocketMessage, SocketRemoteInfo, SocketState, UdpExtraOptions};

/// Room made for each datagram received: the largest UDP payload fits.
const DATAGRAM_BUFFER: usize = 64 * 1024;

const UDP_EVENTS: &[EventKind] = &[
    EventKind::Message,
    EventKind::Listening,
    EventKind::Close,
    EventKind::Error,
];

struct Bound {
    socket: Arc<tokio::net::UdpSocket>,
    local: SocketAddr,
    callbacks: JoinHandle<()>,
}

impl Drop for Bound {
    fn drop(&mut self) {
        self.callbacks.abort();
    }
}

/// A UDP socket (seed `UDPSocket`; `constructUDPSocketInstance()` is
/// [`UdpSocket::new`]). Events: `message`, `listening`, `close`, `error`.
///
/// Receiving starts once anything listens (a callback or a stream).
pub struct UdpSocket {
    shared: Arc<Shared>,
    bound: Mutex<Option<Bound>>,
    device: Mutex<Option<String>>,
}

impl Default for UdpSocket {
    fn default() -> Self {
        Self::new()
    }
}

impl UdpSocket {
    /// A socket that is not bound yet. Needs a tokio runtime.
    pub fn new() -> Self {
        Self {
            shared: Shared::new(UDP_EVENTS),
            bound: Mutex::new(None),
            device: Mutex::new(None),
        }
    }

    fn bound(&self) -> MutexGuard<'_, Option<Bound>> {
        self.bound.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn socket(&self, operation: &str) -> Result<Arc<tokio::net::UdpSocket>, Error> {
        self.bound_socket(operation).map(|(socket, _)| socket)
    }

    /// The OS socket and its local address.
    fn bound_socket(
        &self,
        operation: &str,
    ) -> Result<(Arc<tokio::net::UdpSocket>, SocketAddr), Error> {
        self.shared.check_open(operation)?;
        self.bound()
            .as_ref()
            .map(|b| (Arc::clone(&b.socket), b.local))
            .ok_or_else(|| not_ready(operation, "bound"))
    }

    /// Binds to a local address (port 0: the system picks one), starts receiving and
    /// emits `listening`.
    pub async fn bind(&self, address: NetAddress) -> Result<(), Error> {
        self.shared.check_open("bind")?;
        let local = SocketAddr::new(address.ip(), address.port());
        let socket = {
            let mut bound = self.bound();
            if bound.is_some() {
                return Err(Error::Internal("bind: the socket is already bound".into()));
            }
            let device = self
                .device
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let socket = sys::new_socket(local, Type::DGRAM, device.as_deref())?;
            socket
                .bind(&local.into())
                .map_err(|e| io_error(&format!("binding to {local}"), e))?;
            let socket = tokio::net::UdpSocket::from_std(socket.into())
                .map_err(|e| io_error("registering the socket", e))?;
            let local = socket
                .local_addr()
                .map_err(|e| io_error("reading the bound address", e))?;
            let socket = Arc::new(socket);
            *bound = Some(Bound {
                socket: Arc::clone(&socket),
                local,
                callbacks: tokio::spawn(self.shared.hub.run_callbacks()),
            });
            socket
        };
        tracing::debug!(%local, "UDP socket bound");
        // `listening` comes before anything received.
        self.shared.hub.emit(SocketEvent::Listening);
        self.shared.hub.attach(Box::new(DatagramReader {
            pool: BufferPool::new(DATAGRAM_BUFFER),
            socket,
            buffer: Vec::new(),
            stopped: false,
        }));
        Ok(())
    }

    /// Sends one datagram to `address` (seed `UDPSendOptions`; text is sent as UTF-8).
    /// Only when bound. A port of 0 or a family other than the socket's is 2100001.
    pub async fn send(&self, data: impl AsRef<[u8]>, address: NetAddress) -> Result<(), Error> {
        let (socket, local) = self.bound_socket("send")?;
        let peer = SocketAddr::new(address.ip(), address.port());
        if address.port() == 0 {
            return Err(Error::invalid(format!("cannot send to port 0 of {peer}")));
        }
        if local.is_ipv4() != peer.is_ipv4() {
            return Err(Error::invalid(format!(
                "cannot send from {local} to {peer}: families differ"
            )));
        }
        let data = data.as_ref();
        let sent = within_timeout(&self.shared, "sending", socket.send_to(data, peer)).await?;
        if sent != data.len() {
            return Err(Error::Internal(format!(
                "sending: only {sent} of {} bytes went out",
                data.len()
            )));
        }
        Ok(())
    }

    /// Closes the socket and emits `close`; every later call fails. Closing twice fails.
    pub async fn close(&self) -> Result<(), Error> {
        if !self.shared.mark_closed() {
            return Err(closed("close"));
        }
        self.bound().take();
        self.shared.hub.detach();
        self.shared.emit_close();
        Ok(())
    }

    /// Whether the socket is bound and closed (a UDP socket is never connected).
    pub async fn get_state(&self) -> Result<SocketState, Error> {
        let is_close = self.shared.is_closed();
        Ok(SocketState {
            is_bound: !is_close && self.bound().is_some(),
            is_close,
            is_connected: false,
        })
    }

    /// Sets options; all are checked before any is set. Only when bound.
    pub async fn set_extra_options(&self, options: UdpExtraOptions) -> Result<(), Error> {
        let socket = self.socket("setExtraOptions")?;
        options.apply(SockRef::from(&*socket))?;
        self.shared.set_send_timeout(options.common.socket_timeout);
        Ok(())
    }

    /// Binds the socket to network interface `name` (`SO_BINDTODEVICE`), now if bound,
    /// else when `bind` creates the OS socket. A missing interface is 2100001. This is
    /// what `NetHandle.bindSocket` uses.
    pub fn bind_to_interface(&self, name: &str) -> Result<(), Error> {
        self.shared.check_open("bindSocket")?;
        match self.bound().as_ref() {
            Some(b) => sys::bind_device(SockRef::from(&*b.socket), name)?,
            None => sys::check_interface(name)?,
        }
        *self.device.lock().unwrap_or_else(PoisonError::into_inner) = Some(name.to_owned());
        Ok(())
    }

    /// The interface the socket is bound to (read back with `getsockopt` once bound).
    pub fn bound_interface(&self) -> Result<Option<String>, Error> {
        match self.socket("bound_interface") {
            Ok(socket) => sys::bound_device(SockRef::from(&*socket)),
            Err(e) if self.shared.is_closed() => Err(e),
            Err(_) => Ok(self
                .device
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()),
        }
    }

    /// The local address. Only when bound.
    pub fn local_address(&self) -> Result<NetAddress, Error> {
        let (_, local) = self.bound_socket("local_address")?;
        Ok(NetAddress::new(local.ip(), local.port()))
    }

    /// Runs `f` with the OS socket, e.g. to read options back. Only when bound.
    pub fn with_socket<T>(&self, f: impl FnOnce(SockRef<'_>) -> T) -> Result<T, Error> {
        let socket = self.socket("with_socket")?;
        Ok(f(SockRef::from(&*socket)))
    }
}

impl EventSource for UdpSocket {
    type Event = SocketEvent;

    fn event_hub(&self) -> &EventHub<SocketEvent> {
        &self.shared.hub
    }
}

/// Receiving as a source of events: `message` for each datagram and `error` for a
/// failed receive; receiving goes on after a transient failure (an ICMP error
/// reported on the socket) and stops after any other.
struct DatagramReader {
    socket: Arc<tokio::net::UdpSocket>,
    pool: Arc<BufferPool>,
    buffer: Vec<u8>,
    stopped: bool,
}

impl Source<SocketEvent> for DatagramReader {
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<SocketEvent>> {
        if self.stopped {
            return Poll::Ready(None);
        }
        if self.buffer.capacity() == 0 {
            self.buffer = self.pool.take();
        }
        let received = loop {
            if let Err(e) = ready!(self.socket.poll_recv_ready(cx)) {
                break Err(e);
            }
            match self.socket.try_recv_buf_from(&mut self.buffer) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                other => break other,
            }
        };
        Poll::Ready(Some(match received {
            Ok((n, peer)) => SocketEvent::Message(SocketMessage {
                message: self.pool.message(&mut self.buffer),
                remote_info: SocketRemoteInfo::new(peer, n),
            }),
            Err(e) => {
                tracing::debug!(error = %e, "UDP receive failed");
                self.stopped = !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::Interrupted
                );
                SocketEvent::Error(io_error("receiving", e))
            }
        }))
    }
}
