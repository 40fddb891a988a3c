//! The TCP server (seed `TCPSocketServer`) and its connections
//! (seed `TCPSocketConnection`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use netcore::{Error, NetAddress};
use socket2::{SockRef, Type};
use tokio::task::JoinHandle;

use crate::connection::{Connected, STREAM_EVENTS, Shared};
use crate::error::{closed, io_error, not_ready};
use crate::events::{Event, EventHub, EventKind, EventSource};
use crate::sys;
use crate::types::{Encoding, SocketEvent, SocketState, TcpExtraOptions};

/// How many connections may wait to be accepted.
const BACKLOG: i32 = 1024;

const SERVER_EVENTS: &[EventKind] = &[EventKind::Connect, EventKind::Error, EventKind::Close];

/// An event of a [`TcpSocketServer`].
#[derive(Clone)]
#[non_exhaustive]
pub enum ServerEvent {
    /// `'connect'`: a client connected; here is its connection.
    Connect(TcpSocketConnection),
    /// `'error'`: accepting a connection failed (the server keeps listening).
    Error(Error),
    /// `'close'`: the server closed; this is the last event.
    Close,
}

impl std::fmt::Debug for ServerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(c) => f.debug_tuple("Connect").field(&c.client_id()).finish(),
            Self::Error(e) => f.debug_tuple("Error").field(e).finish(),
            Self::Close => f.write_str("Close"),
        }
    }
}

impl Event for ServerEvent {
    fn kind(&self) -> EventKind {
        match self {
            Self::Connect(_) => EventKind::Connect,
            Self::Error(_) => EventKind::Error,
            Self::Close => EventKind::Close,
        }
    }
}

struct Listening {
    listener: Arc<tokio::net::TcpListener>,
    acceptor: JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

struct ServerShared {
    hub: EventHub<ServerEvent>,
    next_client_id: AtomicU64,
    /// Options given to `set_extra_options`, applied to every accepted connection.
    options: Mutex<Option<TcpExtraOptions>>,
}

/// A TCP server (seed `TCPSocketServer`; `constructTCPSocketServerInstance()` is
/// [`TcpSocketServer::new`]). Events: `connect` (with a [`TcpSocketConnection`]),
/// `error`, `close`.
pub struct TcpSocketServer {
    shared: Arc<ServerShared>,
    listening: Mutex<Option<Listening>>,
    device: Mutex<Option<String>>,
    closed: std::sync::atomic::AtomicBool,
}

impl Default for TcpSocketServer {
    fn default() -> Self {
        Self::new()
    }
}

impl TcpSocketServer {
    /// A server that is not listening yet. Needs a tokio runtime.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(ServerShared {
                hub: EventHub::new(SERVER_EVENTS),
                next_client_id: AtomicU64::new(1),
                options: Mutex::new(None),
            }),
            listening: Mutex::new(None),
            device: Mutex::new(None),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn listening(&self) -> MutexGuard<'_, Option<Listening>> {
        self.listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn check_open(&self, operation: &str) -> Result<(), Error> {
        if self.closed.load(Ordering::SeqCst) {
            Err(closed(operation))
        } else {
            Ok(())
        }
    }

    /// Binds to `address` (port 0: the system picks one; `SO_REUSEADDR` is set) and
    /// accepts connections, emitting `connect` for each.
    pub async fn listen(&self, address: NetAddress) -> Result<(), Error> {
        self.check_open("listen")?;
        let mut listening = self.listening();
        if listening.is_some() {
            return Err(Error::Internal(
                "listen: the server is already listening".into(),
            ));
        }
        let local = SocketAddr::new(address.ip(), address.port());
        let device = self
            .device
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let socket = sys::new_socket(local, Type::STREAM, device.as_deref())?;
        socket
            .set_reuse_address(true)
            .map_err(|e| io_error("setting SO_REUSEADDR", e))?;
        socket
            .bind(&local.into())
            .map_err(|e| io_error(&format!("binding to {local}"), e))?;
        socket
            .listen(BACKLOG)
            .map_err(|e| io_error(&format!("listening on {local}"), e))?;
        let listener = tokio::net::TcpListener::from_std(socket.into())
            .map_err(|e| io_error("registering the listener", e))?;
        let listener = Arc::new(listener);
        let acceptor = tokio::spawn(accept_loop(Arc::clone(&listener), Arc::clone(&self.shared)));
        *listening = Some(Listening { listener, acceptor });
        tracing::debug!(%local, "TCP server listening");
        Ok(())
    }

    /// The address the server listens on. Only when listening.
    pub fn local_address(&self) -> Result<NetAddress, Error> {
        self.check_open("local_address")?;
        let listening = self.listening();
        let listener = listening
            .as_ref()
            .ok_or_else(|| not_ready("local_address", "listening"))?;
        let local = listener
            .listener
            .local_addr()
            .map_err(|e| io_error("reading the listening address", e))?;
        Ok(NetAddress::new(local.ip(), local.port()))
    }

    /// Whether the server is listening (bound) and closed.
    pub async fn get_state(&self) -> Result<SocketState, Error> {
        let is_close = self.closed.load(Ordering::SeqCst);
        Ok(SocketState {
            is_bound: !is_close && self.listening().is_some(),
            is_close,
            is_connected: false,
        })
    }

    /// Sets options on the listening socket and on every connection accepted from now
    /// on. All are checked before any is set. Only when listening.
    pub async fn set_extra_options(&self, options: TcpExtraOptions) -> Result<(), Error> {
        self.check_open("setExtraOptions")?;
        let listening = self.listening();
        let listener = listening
            .as_ref()
            .ok_or_else(|| not_ready("setExtraOptions", "listening"))?;
        options.apply(SockRef::from(&*listener.listener))?;
        *self
            .shared
            .options
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(options);
        Ok(())
    }

    /// Runs `f` with the listening OS socket (2100003 before `listen`).
    pub fn with_socket<T>(&self, f: impl FnOnce(SockRef<'_>) -> T) -> Result<T, Error> {
        self.check_open("with_socket")?;
        match self.listening().as_ref() {
            Some(l) => Ok(f(SockRef::from(&*l.listener))),
            None => Err(Error::Internal(
                "with_socket: the server is not listening".into(),
            )),
        }
    }

    /// Binds the server to network interface `name` (`SO_BINDTODEVICE`), now if
    /// listening, else when `listen` creates the socket. A missing interface is 2100001.
    pub fn bind_to_interface(&self, name: &str) -> Result<(), Error> {
        self.check_open("bindSocket")?;
        match self.listening().as_ref() {
            Some(l) => sys::bind_device(SockRef::from(&*l.listener), name)?,
            None => sys::check_interface(name)?,
        }
        *self.device.lock().unwrap_or_else(PoisonError::into_inner) = Some(name.to_owned());
        Ok(())
    }

    /// Stops listening and emits `close`. Accepted connections stay open. Closing
    /// twice fails.
    pub async fn close(&self) -> Result<(), Error> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Err(closed("close"));
        }
        self.listening().take();
        self.shared.hub.emit(ServerEvent::Close);
        Ok(())
    }
}

impl EventSource for TcpSocketServer {
    type Event = ServerEvent;

    fn event_hub(&self) -> &EventHub<ServerEvent> {
        &self.shared.hub
    }
}

async fn accept_loop(listener: Arc<tokio::net::TcpListener>, shared: Arc<ServerShared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => match accept(stream, peer, &shared) {
                Ok(connection) => shared.hub.emit(ServerEvent::Connect(connection)),
                Err(e) => shared.hub.emit(ServerEvent::Error(e)),
            },
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                shared
                    .hub
                    .emit(ServerEvent::Error(io_error("accepting a connection", e)));
                // Out of descriptors and the like: give the system a moment.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

fn accept(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    shared: &ServerShared,
) -> Result<TcpSocketConnection, Error> {
    let socket = SockRef::from(&stream)
        .try_clone()
        .map_err(|e| io_error("duplicating the socket", e))?;
    let options = *shared
        .options
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(options) = options {
        options.apply(SockRef::from(&socket))?;
    }
    let connection = Shared::new(STREAM_EVENTS);
    connection.set_send_timeout(options.and_then(|o| o.common.socket_timeout));
    let (connected, source) = Connected::new(stream.into_split(), socket, peer, &connection);
    connection.hub.attach(source);
    let connection = TcpSocketConnection {
        client_id: shared.next_client_id.fetch_add(1, Ordering::Relaxed),
        shared: connection,
        connected: Arc::new(connected),
    };
    // As in the seed, a connection lives until either side closes it, whether or not
    // the application keeps a handle.
    let keep = connection.clone();
    tokio::spawn(async move {
        let TcpSocketConnection {
            shared, connected, ..
        } = keep;
        shared.wait_closed().await;
        drop(connected);
    });
    Ok(connection)
}

/// A connection accepted by a [`TcpSocketServer`] (seed `TCPSocketConnection`).
/// Events: `message`, `close`, `error`. Cheap to clone; clones are the same
/// connection.
///
/// Reading starts once anything listens (a callback or a stream), so a listener
/// registered in the server's `connect` callback, or a stream taken later, misses
/// nothing. The connection stays open until either side closes it, even when the
/// application keeps no handle to it.
#[derive(Clone)]
pub struct TcpSocketConnection {
    client_id: u64,
    shared: Arc<Shared>,
    connected: Arc<Connected>,
}

impl TcpSocketConnection {
    /// The seed's `clientId`: unique among the server's connections, from 1.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// Sends bytes.
    pub async fn send(&self, data: impl AsRef<[u8]>) -> Result<(), Error> {
        self.shared.check_open("send")?;
        self.connected.send(&self.shared, data.as_ref()).await
    }

    /// Sends `text` in `encoding`.
    pub async fn send_text(&self, text: &str, encoding: Encoding) -> Result<(), Error> {
        self.send(encoding.encode(text)?).await
    }

    /// Closes the connection and emits `close`. Closing twice fails.
    pub async fn close(&self) -> Result<(), Error> {
        if !self.shared.mark_closed() {
            return Err(closed("close"));
        }
        self.connected.shut_down(&self.shared).await;
        self.shared.emit_close();
        Ok(())
    }

    /// The client's address.
    pub async fn get_remote_address(&self) -> Result<NetAddress, Error> {
        self.shared.check_open("getRemoteAddress")?;
        let peer = self.connected.peer();
        Ok(NetAddress::new(peer.ip(), peer.port()))
    }

    /// Whether the connection is open.
    pub async fn get_state(&self) -> Result<SocketState, Error> {
        let is_close = self.shared.is_closed();
        Ok(SocketState {
            is_bound: !is_close,
            is_close,
            is_connected: !is_close,
        })
    }

    /// Runs `f` with the OS socket, e.g. to read options back.
    pub fn with_socket<T>(&self, f: impl FnOnce(SockRef<'_>) -> T) -> Result<T, Error> {
        self.shared.check_open("with_socket")?;
        Ok(f(self.connected.sock_ref()))
    }

    /// Sets options; all are checked before any is set.
    pub async fn set_extra_options(&self, options: TcpExtraOptions) -> Result<(), Error> {
        self.shared.check_open("setExtraOptions")?;
        options.apply(self.connected.sock_ref())?;
        self.shared.set_send_timeout(options.common.socket_timeout);
        Ok(())
    }
}

impl EventSource for TcpSocketConnection {
    type Event = SocketEvent;

    fn event_hub(&self) -> &EventHub<SocketEvent> {
        &self.shared.hub
    }
}
