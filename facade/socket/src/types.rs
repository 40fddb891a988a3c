//! The seed's data types: events, remote info, socket state, extra options, encodings.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use netcore::Error;
use socket2::SockRef;

use crate::error::io_error;
use crate::events::{Event, EventKind};

/// Where a message came from (seed `SocketRemoteInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketRemoteInfo {
    /// The peer's IP address.
    pub address: IpAddr,
    /// The peer's address family.
    pub family: Family,
    /// The peer's port.
    pub port: u16,
    /// The length of the message in bytes.
    pub size: usize,
}

impl SocketRemoteInfo {
    pub(crate) fn new(peer: SocketAddr, size: usize) -> Self {
        Self {
            address: peer.ip(),
            family: Family::of(peer.ip()),
            port: peer.port(),
            size,
        }
    }
}

/// An address family, shown as the seed's `"IPv4"` / `"IPv6"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 (seed family number 1).
    IPv4,
    /// IPv6 (seed family number 2).
    IPv6,
}

impl Family {
    /// The family of `ip`.
    pub fn of(ip: IpAddr) -> Self {
        if ip.is_ipv4() { Self::IPv4 } else { Self::IPv6 }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::IPv4 => "IPv4",
            Self::IPv6 => "IPv6",
        })
    }
}

/// Data received on a socket, with where it came from (the seed's
/// `{message, remoteInfo}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketMessage {
    /// The bytes received (for TCP and TLS: what one read returned).
    pub message: bytes::Bytes,
    /// The sender.
    pub remote_info: SocketRemoteInfo,
}

/// An event of a UDP, TCP or TLS socket or of a server's connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SocketEvent {
    /// `'message'`: data arrived.
    Message(SocketMessage),
    /// `'listening'` (UDP): the socket is bound and receiving.
    Listening,
    /// `'connect'` (TCP, TLS): the connection is set up.
    Connect,
    /// `'close'`: the socket closed; this is the last event.
    Close,
    /// `'error'`: something failed outside a call; a fatal one is followed by `Close`.
    Error(Error),
}

impl Event for SocketEvent {
    fn kind(&self) -> EventKind {
        match self {
            Self::Message(_) => EventKind::Message,
            Self::Listening => EventKind::Listening,
            Self::Connect => EventKind::Connect,
            Self::Close => EventKind::Close,
            Self::Error(_) => EventKind::Error,
        }
    }

    fn size(&self) -> usize {
        match self {
            Self::Message(m) => m.message.len(),
            _ => 0,
        }
    }
}

/// The state of a socket (seed `SocketStateBase`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketState {
    /// The socket is bound to a local address.
    pub is_bound: bool,
    /// The socket is closed.
    pub is_close: bool,
    /// The socket is connected to a peer.
    pub is_connected: bool,
}

/// The options UDP and TCP sockets share (part of seed `UDPExtraOptions` and
/// `TCPExtraOptions`). `None` leaves an option as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtraOptions {
    /// `SO_RCVBUF` in bytes, 1 to `i32::MAX / 2` (Linux doubles the value it stores,
    /// so reading it back gives twice this, or the system's minimum).
    pub receive_buffer_size: Option<u64>,
    /// `SO_SNDBUF` in bytes, 1 to `i32::MAX / 2` (Linux doubles it likewise).
    pub send_buffer_size: Option<u64>,
    /// `SO_REUSEADDR`.
    pub reuse_address: Option<bool>,
    /// Timeout in ms: `SO_RCVTIMEO` and `SO_SNDTIMEO`, and the time limit of each
    /// `send`. 0 means no timeout.
    pub socket_timeout: Option<u64>,
}

/// `SO_LINGER` (seed `socketLinger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLinger {
    /// Whether lingering is on.
    pub on: bool,
    /// Linger time in ms, 0 to 65535 (seed). `SO_LINGER` counts whole seconds, so it
    /// is rounded up (10 ms lingers 1 s; only 0 means "reset at once").
    pub linger: u32,
}

/// Options of a UDP socket (seed `UDPExtraOptions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpExtraOptions {
    /// `SO_BROADCAST`.
    pub broadcast: Option<bool>,
    /// Buffer sizes, address reuse, timeout.
    pub common: ExtraOptions,
}

/// Options of a TCP or TLS socket (seed `TCPExtraOptions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpExtraOptions {
    /// `SO_KEEPALIVE`.
    pub keep_alive: Option<bool>,
    /// `SO_OOBINLINE`.
    pub oob_inline: Option<bool>,
    /// `TCP_NODELAY`.
    pub tcp_no_delay: Option<bool>,
    /// `SO_LINGER`.
    pub socket_linger: Option<SocketLinger>,
    /// Buffer sizes, address reuse, timeout.
    pub common: ExtraOptions,
}

/// The largest linger value the seed allows.
pub const MAX_LINGER: u32 = 65_535;
const MAX_BUFFER_SIZE: u64 = (i32::MAX / 2) as u64;

fn check_buffer(name: &str, size: Option<u64>) -> Result<Option<usize>, Error> {
    match size {
        None => Ok(None),
        Some(s) if (1..=MAX_BUFFER_SIZE).contains(&s) => Ok(usize::try_from(s).ok()),
        Some(s) => Err(Error::invalid(format!(
            "{name} {s} is outside 1..={MAX_BUFFER_SIZE}"
        ))),
    }
}

impl ExtraOptions {
    /// Checks every value, then sets them; nothing is set if one is invalid (2100001).
    pub(crate) fn apply(&self, socket: SockRef<'_>) -> Result<(), Error> {
        let receive = check_buffer("receiveBufferSize", self.receive_buffer_size)?;
        let send = check_buffer("sendBufferSize", self.send_buffer_size)?;
        if let Some(size) = receive {
            socket
                .set_recv_buffer_size(size)
                .map_err(|e| io_error("setting SO_RCVBUF", e))?;
        }
        if let Some(size) = send {
            socket
                .set_send_buffer_size(size)
                .map_err(|e| io_error("setting SO_SNDBUF", e))?;
        }
        if let Some(on) = self.reuse_address {
            socket
                .set_reuse_address(on)
                .map_err(|e| io_error("setting SO_REUSEADDR", e))?;
        }
        if let Some(ms) = self.socket_timeout {
            let timeout = (ms > 0).then(|| Duration::from_millis(ms));
            socket
                .set_read_timeout(timeout)
                .map_err(|e| io_error("setting SO_RCVTIMEO", e))?;
            socket
                .set_write_timeout(timeout)
                .map_err(|e| io_error("setting SO_SNDTIMEO", e))?;
        }
        Ok(())
    }
}

impl UdpExtraOptions {
    pub(crate) fn apply(&self, socket: SockRef<'_>) -> Result<(), Error> {
        check_buffer("receiveBufferSize", self.common.receive_buffer_size)?;
        check_buffer("sendBufferSize", self.common.send_buffer_size)?;
        if let Some(on) = self.broadcast {
            socket
                .set_broadcast(on)
                .map_err(|e| io_error("setting SO_BROADCAST", e))?;
        }
        self.common.apply(socket)
    }
}

impl TcpExtraOptions {
    pub(crate) fn apply(&self, socket: SockRef<'_>) -> Result<(), Error> {
        check_buffer("receiveBufferSize", self.common.receive_buffer_size)?;
        check_buffer("sendBufferSize", self.common.send_buffer_size)?;
        if let Some(linger) = self.socket_linger
            && linger.linger > MAX_LINGER
        {
            return Err(Error::invalid(format!(
                "socketLinger.linger {} is outside 0..={MAX_LINGER}",
                linger.linger
            )));
        }
        if let Some(on) = self.keep_alive {
            socket
                .set_keepalive(on)
                .map_err(|e| io_error("setting SO_KEEPALIVE", e))?;
        }
        if let Some(on) = self.oob_inline {
            socket
                .set_out_of_band_inline(on)
                .map_err(|e| io_error("setting SO_OOBINLINE", e))?;
        }
        if let Some(on) = self.tcp_no_delay {
            socket
                .set_tcp_nodelay(on)
                .map_err(|e| io_error("setting TCP_NODELAY", e))?;
        }
        if let Some(linger) = self.socket_linger {
            let value = linger
                .on
                .then(|| Duration::from_secs(u64::from(linger.linger.div_ceil(1000))));
            socket
                .set_linger(value)
                .map_err(|e| io_error("setting SO_LINGER", e))?;
        }
        self.common.apply(socket)
    }
}

/// A character encoding of text sent with `send_text` (seed `TCPSendOptions.encoding`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (the default).
    #[default]
    Utf8,
    /// UTF-16, big-endian, no byte order mark.
    Utf16Be,
    /// UTF-16, little-endian, no byte order mark.
    Utf16Le,
    /// UTF-16 with a big-endian byte order mark.
    Utf16,
    /// US-ASCII: text with other characters is refused.
    UsAscii,
    /// ISO-8859-1: text with characters above U+00FF is refused.
    Iso8859_1,
}

impl Encoding {
    /// The encoding named by the seed's string (`"UTF-8"`, `"UTF-16BE"`, `"UTF-16LE"`,
    /// `"UTF-16"`, `"US-ASCII"` (also the seed's spelling `"US-AECII"`),
    /// `"ISO-8859-1"`; case-insensitive). Else 2100001.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        Ok(match name.to_ascii_uppercase().as_str() {
            "UTF-8" => Self::Utf8,
            "UTF-16BE" => Self::Utf16Be,
            "UTF-16LE" => Self::Utf16Le,
            "UTF-16" => Self::Utf16,
            "US-ASCII" | "US-AECII" => Self::UsAscii,
            "ISO-8859-1" => Self::Iso8859_1,
            _ => {
                return Err(Error::invalid(format!(
                    "encoding {name:?} is not one of UTF-8, UTF-16BE, UTF-16LE, UTF-16, \
                     US-ASCII, ISO-8859-1"
                )));
            }
        })
    }

    /// `text` in this encoding; a character the encoding cannot hold gives 2100001.
    pub fn encode(self, text: &str) -> Result<Vec<u8>, Error> {
        let narrow = |max: u32, name: &str| {
            text.chars()
                .map(|c| {
                    u8::try_from(u32::from(c))
                        .ok()
                        .filter(|b| u32::from(*b) <= max)
                        .ok_or_else(|| Error::invalid(format!("{c:?} is not in {name}")))
                })
                .collect::<Result<Vec<u8>, Error>>()
        };
        let utf16 = |bom: bool, big: bool| {
            let units = text.encode_utf16();
            let bom = bom.then_some(0xFEFF_u16);
            bom.into_iter()
                .chain(units)
                .flat_map(|u| {
                    if big {
                        u.to_be_bytes()
                    } else {
                        u.to_le_bytes()
                    }
                })
                .collect::<Vec<u8>>()
        };
        Ok(match self {
            Self::Utf8 => text.as_bytes().to_vec(),
            Self::Utf16Be => utf16(false, true),
            Self::Utf16Le => utf16(false, false),
            Self::Utf16 => utf16(true, true),
            Self::UsAscii => narrow(0x7F, "US-ASCII")?,
            Self::Iso8859_1 => narrow(0xFF, "ISO-8859-1")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_their_standards() {
        let enc = |name: &str, text: &str| Encoding::from_name(name).unwrap().encode(text);
        assert_eq!(enc("utf-8", "é").unwrap(), vec![0xC3, 0xA9]);
        assert_eq!(enc("UTF-16BE", "é").unwrap(), vec![0x00, 0xE9]);
        assert_eq!(enc("UTF-16LE", "é").unwrap(), vec![0xE9, 0x00]);
        assert_eq!(enc("UTF-16", "A").unwrap(), vec![0xFE, 0xFF, 0x00, 0x41]);
        assert_eq!(enc("ISO-8859-1", "é").unwrap(), vec![0xE9]);
        assert_eq!(enc("US-ASCII", "ok").unwrap(), b"ok".to_vec());
        assert_eq!(enc("US-ASCII", "é").unwrap_err().code(), 2_100_001);
        assert_eq!(enc("ISO-8859-1", "€").unwrap_err().code(), 2_100_001);
        assert_eq!(Encoding::from_name("EBCDIC").unwrap_err().code(), 2_100_001);
    }
}
