//! An async client of wpa_supplicant's control interface: a Unix datagram socket
//! bound to a path of its own and connected to wpa_supplicant's socket for one
//! interface (`CONTROL_DIR/IFNAME`).
//!
//! [`CtrlSocket`] sends commands and reads their replies; [`CtrlSocket::attach`]
//! turns a socket into a [`Monitor`] that receives unsolicited events.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use netcore::Error;
use tokio::net::UnixDatagram;

use crate::protocol::{
    self, Event, MAX_REPLY_LEN, NetworkEntry, ScanResult, Signal, Status, clip, expect_ok,
};

/// How long a command waits for its reply.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a command waiting for its reply checks that the peer's socket is
/// still there.
pub const PEER_CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// The longest command accepted, in bytes.
pub const MAX_COMMAND_LEN: usize = 1024;

/// A connection to wpa_supplicant's control socket for one interface.
#[derive(Debug)]
pub struct CtrlSocket {
    socket: UnixDatagram,
    local: PathBuf,
    peer: PathBuf,
    /// One request at a time, so that replies are not mixed up.
    busy: tokio::sync::Mutex<()>,
    /// The device and inode of the peer's socket file when connected.
    peer_file: Option<(u64, u64)>,
}

fn peer_error(peer: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Service(format!("wpa_supplicant at {}: {what}: {e}", peer.display()))
}

impl CtrlSocket {
    /// Binds a socket of its own (in the temporary directory, removed on drop) and
    /// connects it to wpa_supplicant's socket at `peer`. A missing or refusing peer
    /// is [`Error::Service`].
    pub async fn connect(peer: impl AsRef<Path>) -> Result<Self, Error> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let peer = peer.as_ref().to_owned();
        let local = std::env::temp_dir().join(format!(
            "netcore-wpa-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        // A stale socket of an earlier process with the same pid.
        let _ = std::fs::remove_file(&local);
        let socket = UnixDatagram::bind(&local)
            .map_err(|e| peer_error(&peer, &format!("binding {}", local.display()), e))?;
        let peer_file = std::fs::metadata(&peer).ok().map(|m| (m.dev(), m.ino()));
        let this = Self {
            socket,
            local,
            peer,
            busy: tokio::sync::Mutex::new(()),
            peer_file,
        };
        this.socket
            .connect(&this.peer)
            .map_err(|e| peer_error(&this.peer, "connecting", e))?;
        Ok(this)
    }

    /// The path of wpa_supplicant's socket.
    pub fn peer(&self) -> &Path {
        &self.peer
    }

    /// Sends `command` and returns its reply (without the trailing newline).
    /// Unsolicited events (`<N>...`) that arrive meanwhile are skipped, and so are
    /// late replies to earlier commands that timed out. Concurrent calls wait for
    /// each other. No reply
    /// within [`REQUEST_TIMEOUT`] (or the peer's socket closing meanwhile, checked
    /// every [`PEER_CHECK_INTERVAL`]), a send or receive failure, or an oversized reply is
    /// [`Error::Service`]; a command with control characters or over
    /// [`MAX_COMMAND_LEN`] bytes is [`Error::InvalidValue`].
    pub async fn request(&self, command: &str) -> Result<String, Error> {
        if command.len() > MAX_COMMAND_LEN || command.chars().any(char::is_control) {
            return Err(Error::invalid(format!(
                "wpa_supplicant command {:?}: over {MAX_COMMAND_LEN} bytes or has control characters",
                clip(command)
            )));
        }
        let name = command.split(' ').next().unwrap_or_default();
        let _busy = self.busy.lock().await;
        // A reply that came after its command timed out is not this command's.
        let mut stale = [0u8; 64];
        while self.socket.try_recv(&mut stale).is_ok() {}
        self.socket
            .send(command.as_bytes())
            .await
            .map_err(|e| peer_error(&self.peer, &format!("sending {name}"), e))?;
        let receive = async {
            let mut buffer = vec![0u8; MAX_REPLY_LEN + 1];
            loop {
                let n = self
                    .socket
                    .recv(&mut buffer)
                    .await
                    .map_err(|e| peer_error(&self.peer, &format!("reply to {name}"), e))?;
                let Some(bytes) = buffer.get(..n) else {
                    continue;
                };
                if bytes.first() == Some(&b'<') {
                    continue;
                }
                return protocol::reply_text(name, bytes).map(str::to_owned);
            }
        };
        tokio::pin!(receive);
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        loop {
            if let Ok(reply) = tokio::time::timeout(PEER_CHECK_INTERVAL, &mut receive).await {
                return reply;
            }
            // A datagram peer that dies says nothing: look for it instead of waiting
            // out the whole timeout.
            if !self.peer_is_alive() {
                return Err(peer_error(
                    &self.peer,
                    &format!("reply to {name}"),
                    "the peer's socket closed",
                ));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(peer_error(
                    &self.peer,
                    &format!("reply to {name}"),
                    format!("none within {REQUEST_TIMEOUT:?}"),
                ));
            }
        }
    }

    /// Whether the socket this one is connected to still exists: its file is the
    /// same one and accepts connections (a killed process leaves its file behind, a
    /// restarted one replaces it).
    fn peer_is_alive(&self) -> bool {
        let same_file =
            std::fs::metadata(&self.peer).is_ok_and(|m| Some((m.dev(), m.ino())) == self.peer_file);
        same_file
            && std::os::unix::net::UnixDatagram::unbound()
                .and_then(|probe| probe.connect(&self.peer))
                .is_ok()
    }

    async fn request_ok(&self, command: &str) -> Result<(), Error> {
        expect_ok(command, &self.request(command).await?)
    }

    /// `PING`: checks that wpa_supplicant answers `PONG`.
    pub async fn ping(&self) -> Result<(), Error> {
        match self.request("PING").await?.as_str() {
            "PONG" => Ok(()),
            other => Err(peer_error(
                &self.peer,
                "PING",
                format!("answered {:?}", clip(other)),
            )),
        }
    }

    /// `STATUS`.
    pub async fn status(&self) -> Result<Status, Error> {
        Status::parse(&self.request("STATUS").await?)
    }

    /// `SIGNAL_POLL`: `Ok(None)` when wpa_supplicant has no signal to report (`FAIL`:
    /// not connected, or a driver without signal such as `wired`).
    pub async fn signal_poll(&self) -> Result<Option<Signal>, Error> {
        let reply = self.request("SIGNAL_POLL").await?;
        if reply.trim_end() == "FAIL" {
            return Ok(None);
        }
        Signal::parse(&reply).map(Some)
    }

    /// `LIST_NETWORKS`: the configured networks.
    pub async fn list_networks(&self) -> Result<Vec<NetworkEntry>, Error> {
        NetworkEntry::parse_list(&self.request("LIST_NETWORKS").await?)
    }

    /// `SCAN`: starts a scan; results come with `CTRL-EVENT-SCAN-RESULTS`.
    pub async fn scan(&self) -> Result<(), Error> {
        self.request_ok("SCAN").await
    }

    /// `SCAN_RESULTS`: the access points of the last scan.
    pub async fn scan_results(&self) -> Result<Vec<ScanResult>, Error> {
        ScanResult::parse_list(&self.request("SCAN_RESULTS").await?)
    }

    /// `ADD_NETWORK`: a new, disabled network; returns its id.
    pub async fn add_network(&self) -> Result<u32, Error> {
        let reply = self.request("ADD_NETWORK").await?;
        reply.trim_end().parse().map_err(|_| {
            peer_error(
                &self.peer,
                "ADD_NETWORK",
                format!("answered {:?}", clip(&reply)),
            )
        })
    }

    /// `SET_NETWORK id name value`: `value` as wpa_supplicant expects it (strings in
    /// double quotes: `"\"my ssid\""`). A `name` that is not a plain word is
    /// [`Error::InvalidValue`].
    pub async fn set_network(&self, id: u32, name: &str, value: &str) -> Result<(), Error> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(Error::invalid(format!(
                "wpa_supplicant network variable {:?}: letters, digits and '_' only",
                clip(name)
            )));
        }
        self.request_ok(&format!("SET_NETWORK {id} {name} {value}"))
            .await
    }

    /// `SELECT_NETWORK id`: enables network `id`, disables the others, and connects.
    pub async fn select_network(&self, id: u32) -> Result<(), Error> {
        self.request_ok(&format!("SELECT_NETWORK {id}")).await
    }

    /// `ENABLE_NETWORK id`.
    pub async fn enable_network(&self, id: u32) -> Result<(), Error> {
        self.request_ok(&format!("ENABLE_NETWORK {id}")).await
    }

    /// `DISABLE_NETWORK id`.
    pub async fn disable_network(&self, id: u32) -> Result<(), Error> {
        self.request_ok(&format!("DISABLE_NETWORK {id}")).await
    }

    /// `RECONNECT`: connects again after `DISCONNECT`.
    pub async fn reconnect(&self) -> Result<(), Error> {
        self.request_ok("RECONNECT").await
    }

    /// `DISCONNECT`: disconnects and stays disconnected until `RECONNECT` or
    /// `SELECT_NETWORK`.
    pub async fn disconnect(&self) -> Result<(), Error> {
        self.request_ok("DISCONNECT").await
    }

    /// `ATTACH`: this socket receives unsolicited events from now on.
    pub async fn attach(self) -> Result<Monitor, Error> {
        self.request_ok("ATTACH").await?;
        Ok(Monitor { socket: self })
    }
}

impl Drop for CtrlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.local);
    }
}

/// An attached control socket: receives wpa_supplicant's unsolicited events. It
/// detaches (best effort) when dropped.
#[derive(Debug)]
pub struct Monitor {
    socket: CtrlSocket,
}

impl Monitor {
    /// Connects to `peer` and attaches.
    pub async fn connect(peer: impl AsRef<Path>) -> Result<Self, Error> {
        CtrlSocket::connect(peer).await?.attach().await
    }

    /// The next event. Messages that are not events or do not parse are logged and
    /// skipped; a receive failure is [`Error::Service`]. Cancel-safe.
    pub async fn next_event(&mut self) -> Result<Event, Error> {
        let mut buffer = vec![0u8; MAX_REPLY_LEN + 1];
        loop {
            let n = self
                .socket
                .socket
                .recv(&mut buffer)
                .await
                .map_err(|e| peer_error(&self.socket.peer, "receiving events", e))?;
            let parsed = buffer
                .get(..n)
                .ok_or_else(|| Error::Internal("receive length out of range".into()))
                .and_then(|bytes| protocol::reply_text("event", bytes))
                .and_then(Event::parse);
            match parsed {
                Ok(event) => return Ok(event),
                Err(e) => {
                    tracing::warn!(peer = %self.socket.peer.display(), error = %e, "ignoring a message")
                }
            }
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.socket.socket.try_send(b"DETACH");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that answers every command with `reply` (after an event), or never
    /// when `reply` is `None`.
    async fn peer(dir: &Path, reply: Option<Vec<u8>>) -> PathBuf {
        let path = dir.join("wlan0");
        let server = UnixDatagram::bind(&path).unwrap();
        tokio::spawn(async move {
            let mut buffer = [0u8; 2048];
            while let Ok((_, from)) = server.recv_from(&mut buffer).await {
                let Some(from) = from.as_pathname() else {
                    continue;
                };
                if let Some(reply) = &reply {
                    let _ = server.send_to(b"<3>CTRL-EVENT-SCAN-STARTED ", from).await;
                    let _ = server.send_to(reply, from).await;
                }
            }
        });
        path
    }

    fn temp_dir() -> PathBuf {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "netcore-wpa-ctrl-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn replies_skip_events_and_are_bounded() {
        let dir = temp_dir();
        let socket = CtrlSocket::connect(peer(&dir, Some(b"PONG\n".to_vec())).await)
            .await
            .unwrap();
        assert_eq!(socket.request("PING").await.unwrap(), "PONG");
        socket.ping().await.unwrap();
        // Not OK: an error naming the command.
        let e = socket.select_network(3).await.unwrap_err();
        assert_eq!(e.code(), 2_100_002);
        assert!(e.to_string().contains("SELECT_NETWORK 3"), "{e}");
        for bad in ["PING\nSTATUS", &"X".repeat(MAX_COMMAND_LEN + 1)] {
            assert_eq!(socket.request(bad).await.unwrap_err().code(), 2_100_001);
        }
        let e = socket.set_network(0, "ssid x", "\"a\"").await.unwrap_err();
        assert_eq!(e.code(), 2_100_001);

        let huge_dir = temp_dir();
        let huge = CtrlSocket::connect(peer(&huge_dir, Some(vec![b'a'; 20_000])).await)
            .await
            .unwrap();
        let e = huge.request("STATUS").await.unwrap_err();
        assert_eq!(e.code(), 2_100_002);
        assert!(e.to_string().contains("at most 8192"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(huge_dir);
    }

    #[tokio::test]
    async fn silent_or_missing_peers_are_service_errors() {
        let dir = temp_dir();
        let e = CtrlSocket::connect(dir.join("nothing")).await.unwrap_err();
        assert_eq!(e.code(), 2_100_002);
        assert!(e.to_string().contains("nothing"), "{e}");
        let silent = CtrlSocket::connect(peer(&dir, None).await).await.unwrap();
        let e = silent.request("PING").await.unwrap_err();
        assert_eq!(e.code(), 2_100_002);
        assert!(e.to_string().contains("reply to PING"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_peer_dying_during_a_request_is_noticed_before_the_timeout() {
        let dir = temp_dir();
        let path = dir.join("wlan0");
        let server = UnixDatagram::bind(&path).unwrap();
        let socket = CtrlSocket::connect(&path).await.unwrap();
        let (e, ()) = tokio::join!(
            async { socket.request("STATUS").await.unwrap_err() },
            async {
                // The command arrives; the peer dies without answering (its file stays).
                let mut buffer = [0u8; 64];
                server.recv(&mut buffer).await.unwrap();
                drop(server);
            }
        );
        assert_eq!(e.code(), 2_100_002);
        assert!(e.to_string().contains("the peer's socket closed"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
