//! The parts TCP, TLS and server-side connections share: the close-once state, the
//! task that reads and emits `message`/`error`/`close`, sending, and the client-side
//! life cycle (bind, connect, options, interface binding).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use netcore::{Error, NetAddress};
use socket2::{SockRef, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::io::poll_read_buf;

use crate::buffer::BufferPool;
use crate::error::{closed, io_error, not_ready};
use crate::events::{EventHub, EventKind, Source};
use crate::sys;
use crate::types::{SocketEvent, SocketMessage, SocketRemoteInfo, SocketState, TcpExtraOptions};

/// Room for each read of a stream; one `message` event carries at most this.
const STREAM_READ_BUFFER: usize = 64 * 1024;

/// The events of a TCP or TLS socket.
pub(crate) const STREAM_EVENTS: &[EventKind] = &[
    EventKind::Message,
    EventKind::Connect,
    EventKind::Close,
    EventKind::Error,
];

/// Whether a socket is closed: set once, by whoever closes it (a call or its reading).
pub(crate) type Closed = Arc<tokio::sync::watch::Sender<bool>>;

/// What a socket and its reading share: the events and whether it is closed.
pub(crate) struct Shared {
    pub(crate) hub: EventHub<SocketEvent>,
    pub(crate) closed: Closed,
    /// `socketTimeout`: the time limit of each `send`.
    send_timeout: Mutex<Option<Duration>>,
}

impl Shared {
    pub(crate) fn new(kinds: &'static [EventKind]) -> Arc<Self> {
        Arc::new(Self {
            hub: EventHub::new(kinds),
            closed: Arc::new(tokio::sync::watch::Sender::new(false)),
            send_timeout: Mutex::new(None),
        })
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Marks the socket closed; true for the one caller that closed it, who then calls
    /// [`Shared::emit_close`].
    pub(crate) fn mark_closed(&self) -> bool {
        mark_closed(&self.closed)
    }

    /// Waits until the socket is closed.
    pub(crate) async fn wait_closed(&self) {
        // The sender lives as long as `self`, so this cannot fail while we borrow it.
        let _ = self.closed.subscribe().wait_for(|closed| *closed).await;
    }

    /// Emits the last event, `close` (which drops every callback and stream).
    pub(crate) fn emit_close(&self) {
        self.hub.emit(SocketEvent::Close);
    }

    /// Fails with a clear error if the socket is closed.
    pub(crate) fn check_open(&self, operation: &str) -> Result<(), Error> {
        if self.is_closed() {
            Err(closed(operation))
        } else {
            Ok(())
        }
    }

    pub(crate) fn set_send_timeout(&self, ms: Option<u64>) {
        if let Some(ms) = ms {
            *self
                .send_timeout
                .lock()
                .unwrap_or_else(PoisonError::into_inner) =
                (ms > 0).then(|| Duration::from_millis(ms));
        }
    }

    pub(crate) fn send_timeout(&self) -> Option<Duration> {
        *self
            .send_timeout
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Marks `closed`; true for the one caller that closed it.
fn mark_closed(closed: &Closed) -> bool {
    !closed.send_replace(true)
}

/// Runs `operation` within the socket's `socketTimeout`, if one is set.
pub(crate) async fn within_timeout<T>(
    shared: &Shared,
    what: &str,
    operation: impl Future<Output = std::io::Result<T>>,
) -> Result<T, Error> {
    let result = match shared.send_timeout() {
        Some(limit) => tokio::time::timeout(limit, operation)
            .await
            .map_err(|_| Error::Internal(format!("{what}: timed out after {limit:?}")))?,
        None => operation.await,
    };
    result.map_err(|e| io_error(what, e))
}

type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// A connected byte stream (TCP or TLS over TCP) whose reads become events.
pub(crate) struct Connected {
    writer: tokio::sync::Mutex<Writer>,
    /// A duplicate of the stream's descriptor, for socket options and shutdown.
    socket: Socket,
    peer: SocketAddr,
    callbacks: JoinHandle<()>,
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.callbacks.abort();
    }
}

impl Connected {
    /// Keeps `writer`, and returns with it the source of `shared`'s events that reads
    /// `reader`, for [`EventHub::attach`]: streams read it as they are polled and,
    /// once a callback is registered, a task for the callbacks.
    pub(crate) fn new<R, W>(
        (reader, writer): (R, W),
        socket: Socket,
        peer: SocketAddr,
        shared: &Shared,
    ) -> (Self, Box<dyn Source<SocketEvent>>)
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let source = Box::new(StreamReader {
            reader,
            peer,
            pool: BufferPool::new(STREAM_READ_BUFFER),
            buffer: Vec::new(),
            closed: Arc::clone(&shared.closed),
            ending: Vec::new(),
            ended: false,
        });
        let connected = Self {
            writer: tokio::sync::Mutex::new(Box::new(writer)),
            socket,
            peer,
            callbacks: tokio::spawn(shared.hub.run_callbacks()),
        };
        (connected, source)
    }

    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub(crate) fn sock_ref(&self) -> SockRef<'_> {
        SockRef::from(&self.socket)
    }

    /// Writes all of `data` (and flushes it through TLS).
    pub(crate) async fn send(&self, shared: &Shared, data: &[u8]) -> Result<(), Error> {
        let mut writer = self.writer.lock().await;
        within_timeout(shared, "sending", async {
            writer.write_all(data).await?;
            writer.flush().await
        })
        .await
    }

    /// Ends the stream: a graceful shutdown of the write side (TLS `close_notify`),
    /// bounded in time, then both directions of the socket.
    pub(crate) async fn shut_down(&self, shared: &Shared) {
        const GRACE: Duration = Duration::from_secs(1);
        if let Ok(mut writer) = tokio::time::timeout(GRACE, self.writer.lock()).await {
            let _ = tokio::time::timeout(GRACE, writer.shutdown()).await;
        }
        if let Err(e) = self.socket.shutdown(std::net::Shutdown::Both) {
            tracing::debug!(error = %e, "shutting down a closed socket");
        }
        self.callbacks.abort();
        shared.hub.detach();
    }
}

/// A stream's reading as a source of events: `message` for each read; at the end
/// `close`, after `error` if it failed (unless the socket was closed meanwhile).
struct StreamReader<R> {
    reader: R,
    peer: SocketAddr,
    pool: Arc<BufferPool>,
    buffer: Vec<u8>,
    closed: Closed,
    /// The last events, in reverse order, once the stream ended.
    ending: Vec<SocketEvent>,
    ended: bool,
}

impl<R: AsyncRead + Send + Unpin> Source<SocketEvent> for StreamReader<R> {
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<SocketEvent>> {
        if self.ended {
            return Poll::Ready(self.ending.pop());
        }
        if self.buffer.capacity() == 0 {
            self.buffer = self.pool.take();
        }
        let failure = match ready!(poll_read_buf(
            Pin::new(&mut self.reader),
            cx,
            &mut self.buffer
        )) {
            Ok(0) => None,
            Ok(n) => {
                return Poll::Ready(Some(SocketEvent::Message(SocketMessage {
                    message: self.pool.message(&mut self.buffer),
                    remote_info: SocketRemoteInfo::new(self.peer, n),
                })));
            }
            Err(e) => Some(e),
        };
        self.ended = true;
        if mark_closed(&self.closed) {
            self.ending.push(SocketEvent::Close);
            if let Some(e) = failure {
                tracing::debug!(peer = %self.peer, error = %e, "connection failed");
                self.ending
                    .push(SocketEvent::Error(io_error("receiving", e)));
            }
        }
        Poll::Ready(self.ending.pop())
    }
}

/// The life cycle of a client socket (TCP or TLS).
enum Phase {
    Fresh,
    Bound(Socket),
    Connecting,
    Connected(Arc<Connected>),
}

/// A TCP connection set up by [`ClientCore::connect_tcp`], not yet attached.
pub(crate) struct TcpConnection {
    pub(crate) stream: tokio::net::TcpStream,
    pub(crate) socket: Socket,
    pub(crate) peer: SocketAddr,
}

/// What [`TcpSocket`](crate::TcpSocket) and [`TlsSocket`](crate::TlsSocket) share.
pub(crate) struct ClientCore {
    pub(crate) shared: Arc<Shared>,
    phase: Mutex<Phase>,
    /// The interface given to `bind_to_interface`, for sockets created later.
    device: Mutex<Option<String>>,
}

impl ClientCore {
    pub(crate) fn new() -> Self {
        Self {
            shared: Shared::new(STREAM_EVENTS),
            phase: Mutex::new(Phase::Fresh),
            device: Mutex::new(None),
        }
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn device(&self) -> Option<String> {
        self.device
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Binds to a local address (before `connect`).
    pub(crate) fn bind(&self, address: NetAddress) -> Result<(), Error> {
        self.shared.check_open("bind")?;
        let mut phase = self.phase();
        if !matches!(*phase, Phase::Fresh) {
            return Err(Error::Internal(
                "bind: the socket is already bound or connected".into(),
            ));
        }
        let local = SocketAddr::new(address.ip(), address.port());
        let socket = sys::new_socket(local, Type::STREAM, self.device().as_deref())?;
        socket
            .bind(&local.into())
            .map_err(|e| io_error(&format!("binding to {local}"), e))?;
        *phase = Phase::Bound(socket);
        Ok(())
    }

    /// Connects over TCP, within `timeout`. The caller then attaches the stream (as is
    /// or after a TLS handshake) with [`ClientCore::attach`].
    pub(crate) async fn connect_tcp(
        &self,
        address: NetAddress,
        timeout: Option<Duration>,
    ) -> Result<TcpConnection, Error> {
        self.shared.check_open("connect")?;
        if timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid("connect timeout must be above 0 ms"));
        }
        let peer = SocketAddr::new(address.ip(), address.port());
        if address.port() == 0 {
            return Err(Error::invalid(format!(
                "cannot connect to port 0 of {peer}"
            )));
        }
        let previous = std::mem::replace(&mut *self.phase(), Phase::Connecting);
        let bound = match previous {
            Phase::Fresh => None,
            Phase::Bound(socket) => Some(socket),
            other @ (Phase::Connecting | Phase::Connected(_)) => {
                *self.phase() = other;
                return Err(Error::Internal(
                    "connect: the socket is already connecting or connected".into(),
                ));
            }
        };
        let result = self.connect_socket(bound, peer, timeout).await;
        if result.is_err() {
            // A failed connect leaves the OS socket unusable: start afresh.
            *self.phase() = Phase::Fresh;
        }
        result
    }

    async fn connect_socket(
        &self,
        bound: Option<Socket>,
        peer: SocketAddr,
        timeout: Option<Duration>,
    ) -> Result<TcpConnection, Error> {
        let socket = match bound {
            Some(socket) => {
                let local = socket
                    .local_addr()
                    .map_err(|e| io_error("reading the bound address", e))?;
                if local.is_ipv4() != peer.is_ipv4() {
                    return Err(Error::invalid(format!(
                        "cannot connect a socket bound to {:?} to {peer}: families differ",
                        local.as_socket()
                    )));
                }
                socket
            }
            None => sys::new_socket(peer, Type::STREAM, self.device().as_deref())?,
        };
        let options = socket
            .try_clone()
            .map_err(|e| io_error("duplicating the socket", e))?;
        let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
        let connect = socket.connect(peer);
        let stream = match timeout {
            Some(limit) => tokio::time::timeout(limit, connect).await.map_err(|_| {
                Error::Internal(format!("connecting to {peer}: timed out after {limit:?}"))
            })?,
            None => connect.await,
        }
        .map_err(|e| io_error(&format!("connecting to {peer}"), e))?;
        Ok(TcpConnection {
            stream,
            socket: options,
            peer,
        })
    }

    /// Makes the `halves` of a stream the socket's connection and emits `connect`.
    /// Refused if the socket was closed meanwhile.
    pub(crate) fn attach<R, W>(
        &self,
        halves: (R, W),
        socket: Socket,
        peer: SocketAddr,
    ) -> Result<(), Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let source = {
            let mut phase = self.phase();
            self.shared.check_open("connect")?;
            let (connected, source) = Connected::new(halves, socket, peer, &self.shared);
            *phase = Phase::Connected(Arc::new(connected));
            source
        };
        tracing::debug!(%peer, "connected");
        // `connect` comes before anything read.
        self.shared.hub.emit(SocketEvent::Connect);
        self.shared.hub.attach(source);
        Ok(())
    }

    fn connected(&self, operation: &str) -> Result<Arc<Connected>, Error> {
        self.shared.check_open(operation)?;
        match &*self.phase() {
            Phase::Connected(c) => Ok(Arc::clone(c)),
            _ => Err(not_ready(operation, "connected")),
        }
    }

    pub(crate) async fn send(&self, data: &[u8]) -> Result<(), Error> {
        self.connected("send")?.send(&self.shared, data).await
    }

    pub(crate) async fn close(&self) -> Result<(), Error> {
        if !self.shared.mark_closed() {
            return Err(closed("close"));
        }
        let phase = std::mem::replace(&mut *self.phase(), Phase::Fresh);
        if let Phase::Connected(connected) = phase {
            connected.shut_down(&self.shared).await;
        }
        self.shared.emit_close();
        Ok(())
    }

    pub(crate) fn remote_address(&self) -> Result<NetAddress, Error> {
        let peer = self.connected("getRemoteAddress")?.peer();
        Ok(NetAddress::new(peer.ip(), peer.port()))
    }

    pub(crate) fn state(&self) -> SocketState {
        let is_close = self.shared.is_closed();
        match &*self.phase() {
            _ if is_close => SocketState {
                is_close,
                ..SocketState::default()
            },
            Phase::Fresh | Phase::Connecting => SocketState::default(),
            Phase::Bound(_) => SocketState {
                is_bound: true,
                ..SocketState::default()
            },
            Phase::Connected(_) => SocketState {
                is_bound: true,
                is_connected: true,
                is_close: false,
            },
        }
    }

    /// Runs `f` on the OS socket (bound or connected), or fails with `needs`.
    pub(crate) fn with_socket<T>(
        &self,
        operation: &str,
        f: impl FnOnce(SockRef<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.shared.check_open(operation)?;
        match &*self.phase() {
            Phase::Bound(socket) => f(SockRef::from(socket)),
            Phase::Connected(c) => f(c.sock_ref()),
            Phase::Fresh | Phase::Connecting => Err(not_ready(operation, "bound or connected")),
        }
    }

    pub(crate) fn set_extra_options(&self, options: &TcpExtraOptions) -> Result<(), Error> {
        self.with_socket("setExtraOptions", |socket| options.apply(socket))?;
        self.shared.set_send_timeout(options.common.socket_timeout);
        Ok(())
    }

    pub(crate) fn bind_to_interface(&self, name: &str) -> Result<(), Error> {
        self.shared.check_open("bindSocket")?;
        let phase = self.phase();
        match &*phase {
            Phase::Bound(socket) => sys::bind_device(SockRef::from(socket), name)?,
            Phase::Connected(c) => sys::bind_device(c.sock_ref(), name)?,
            Phase::Fresh => sys::check_interface(name)?,
            Phase::Connecting => {
                return Err(Error::Internal(
                    "bindSocket: the socket is connecting".into(),
                ));
            }
        }
        *self.device.lock().unwrap_or_else(PoisonError::into_inner) = Some(name.to_owned());
        Ok(())
    }

    pub(crate) fn bound_interface(&self) -> Result<Option<String>, Error> {
        match self.with_socket("bound_interface", sys::bound_device) {
            Err(_) if !self.shared.is_closed() => Ok(self.device()),
            other => other,
        }
    }
}
