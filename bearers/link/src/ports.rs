//! The kernel's sockets through sock_diag: `getSystemNetPortStates` and the lookup
//! behind `getConnectOwnerUid`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use netcore::{
    Error, NetAddress, NetPortStatesInfo, ProtocolType, Result, TcpNetPortStatesInfo, TcpState,
    UdpNetPortStatesInfo,
};
use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;

/// The most sockets one dump returns; a kernel with more is cut off, with a warning.
const MAX_SOCKETS: usize = 1 << 20;

/// One socket of the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSocket {
    /// TCP or UDP.
    pub protocol: ProtocolType,
    /// The local address and port.
    pub local: SocketAddr,
    /// The remote address and port (unspecified when not connected).
    pub remote: SocketAddr,
    /// The kernel's state number (for TCP, the seed's `TcpState` numbers).
    pub state: u8,
    /// The owner's uid.
    pub uid: u32,
    /// The socket's inode, to find the owning process.
    pub inode: u32,
}

fn io(what: &str, e: std::io::Error) -> Error {
    Error::Internal(format!("sock_diag {what}: {e}"))
}

/// Every TCP and UDP socket, IPv4 and IPv6.
pub fn dump_sockets() -> Result<Vec<KernelSocket>> {
    let mut sockets = Vec::new();
    for (protocol, proto) in [
        (ProtocolType::Tcp, IPPROTO_TCP),
        (ProtocolType::Udp, IPPROTO_UDP),
    ] {
        for family in [AF_INET, AF_INET6] {
            dump(protocol, proto, family, &mut sockets)?;
        }
    }
    Ok(sockets)
}

/// A sock_diag socket connected to the kernel.
fn sock_diag_socket() -> Result<netlink_sys::Socket> {
    let mut socket = netlink_sys::Socket::new(NETLINK_SOCK_DIAG).map_err(|e| io("socket", e))?;
    socket.bind_auto().map_err(|e| io("bind", e))?;
    socket
        .connect(&netlink_sys::SocketAddr::new(0, 0))
        .map_err(|e| io("connect", e))?;
    Ok(socket)
}

/// Sends an inet_diag request for `proto` sockets of `family` matching `socket_id`.
fn send_request(
    socket: &netlink_sys::Socket,
    flags: u16,
    proto: u8,
    family: u8,
    socket_id: SocketId,
) -> Result<()> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    let mut request = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: proto,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id,
        })
        .into(),
    );
    request.finalize();
    let mut buf = vec![0; request.buffer_len()];
    request.serialize(&mut buf);
    socket.send(&buf, 0).map_err(|e| io("send", e))?;
    Ok(())
}

fn dump(protocol: ProtocolType, proto: u8, family: u8, out: &mut Vec<KernelSocket>) -> Result<()> {
    let socket = sock_diag_socket()?;
    let socket_id = if family == AF_INET {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    send_request(
        &socket,
        NLM_F_REQUEST | NLM_F_DUMP,
        proto,
        family,
        socket_id,
    )?;

    let mut receive = vec![0u8; 64 * 1024];
    loop {
        let size = socket
            .recv(&mut &mut receive[..], 0)
            .map_err(|e| io("receive", e))?;
        let mut offset = 0;
        while offset < size {
            let message = NetlinkMessage::<SockDiagMessage>::deserialize(&receive[offset..size])
                .map_err(|e| Error::Internal(format!("sock_diag reply: {e}")))?;
            let length = message.header.length as usize;
            match message.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                    if out.len() >= MAX_SOCKETS {
                        tracing::warn!("more than {MAX_SOCKETS} sockets: the list is cut");
                        return Ok(());
                    }
                    let h = &response.header;
                    out.push(KernelSocket {
                        protocol,
                        local: SocketAddr::new(h.socket_id.source_address, h.socket_id.source_port),
                        remote: SocketAddr::new(
                            h.socket_id.destination_address,
                            h.socket_id.destination_port,
                        ),
                        state: h.state,
                        uid: h.uid,
                        inode: h.inode,
                    });
                }
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::Error(e) => {
                    return Err(Error::Internal(format!("sock_diag: {e:?}")));
                }
                _ => {}
            }
            if length == 0 {
                break;
            }
            offset += length;
        }
    }
}

/// Finds the owner of one socket at a time (the kernel's exact lookup, no dump),
/// over one sock_diag socket kept open: what tells netcored's DNS stub which app
/// sent a query.
pub struct SocketOwners {
    socket: std::sync::Mutex<netlink_sys::Socket>,
}

impl SocketOwners {
    /// Opens the sock_diag socket.
    pub fn new() -> Result<Self> {
        Ok(Self {
            socket: std::sync::Mutex::new(sock_diag_socket()?),
        })
    }

    /// The uid owning the `protocol` socket whose own address is `local` and whose
    /// peer is `remote` (for an unconnected UDP socket, the one that receives what
    /// `remote` sends to `local`); `None` when there is no such socket.
    pub fn uid(
        &self,
        protocol: ProtocolType,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Option<u32>> {
        let (family, local, remote) = match (local, remote) {
            (SocketAddr::V4(_), SocketAddr::V4(_)) => (AF_INET, local, remote),
            (SocketAddr::V6(_), SocketAddr::V6(_)) => (AF_INET6, local, remote),
            _ => {
                return Err(Error::invalid(format!(
                    "sock_diag: {local} and {remote} are of different families"
                )));
            }
        };
        // TCP looks the socket up by its own side first; UDP, for historical
        // reasons, by its peer's (net/ipv4/udp_diag.c).
        let (source, destination, proto) = match protocol {
            ProtocolType::Tcp => (local, remote, IPPROTO_TCP),
            ProtocolType::Udp => (remote, local, IPPROTO_UDP),
        };
        let socket_id = SocketId {
            source_port: source.port(),
            destination_port: destination.port(),
            source_address: source.ip(),
            destination_address: destination.ip(),
            interface_id: 0,
            // No cookie: the addresses decide.
            cookie: [0xff; 8],
        };
        let socket = self.socket.lock().unwrap_or_else(|e| e.into_inner());
        send_request(&socket, NLM_F_REQUEST, proto, family, socket_id)?;
        let mut receive = [0u8; 1024];
        let size = socket
            .recv(&mut &mut receive[..], 0)
            .map_err(|e| io("receive", e))?;
        let message = NetlinkMessage::<SockDiagMessage>::deserialize(&receive[..size])
            .map_err(|e| Error::Internal(format!("sock_diag reply: {e}")))?;
        match message.payload {
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                Ok(Some(response.header.uid))
            }
            NetlinkPayload::Error(e) if e.code.is_some_and(|c| c.get() == -ENOENT) => Ok(None),
            NetlinkPayload::Error(e) => Err(Error::Internal(format!("sock_diag: {e:?}"))),
            other => Err(Error::Internal(format!(
                "sock_diag: an unexpected reply {other:?}"
            ))),
        }
    }
}

/// "No such file or directory": the kernel has no such socket.
const ENOENT: i32 = 2;

/// The pid owning each socket inode, from `/proc/*/fd` (only processes this one may
/// inspect; others' sockets get pid 0).
pub fn pids_by_inode() -> HashMap<u32, u32> {
    let mut pids = HashMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u32>().ok())
            {
                pids.entry(inode).or_insert(pid);
            }
        }
    }
    pids
}

/// The seed's `TcpState` of a kernel TCP state (the numbers agree; the kernel's
/// NEW_SYN_RECV counts as SYN_RECV).
fn tcp_state(state: u8) -> TcpState {
    match state {
        12 => TcpState::SynRecv,
        s => TcpState::try_from(i64::from(s)).unwrap_or(TcpState::Close),
    }
}

/// `getSystemNetPortStates`: every TCP socket (with its remote side and state) and
/// every UDP socket, with the owner's uid and pid.
pub fn system_net_port_states() -> Result<NetPortStatesInfo> {
    let sockets = dump_sockets()?;
    let pids = pids_by_inode();
    let pid = |inode: u32| pids.get(&inode).copied().unwrap_or(0);
    let mut info = NetPortStatesInfo::default();
    for s in sockets {
        match s.protocol {
            ProtocolType::Tcp => info.tcp_port_states_info.push(TcpNetPortStatesInfo {
                tcp_local_ip: s.local.ip().to_string(),
                tcp_local_port: s.local.port(),
                tcp_remote_ip: s.remote.ip().to_string(),
                tcp_remote_port: s.remote.port(),
                tcp_uid: s.uid,
                tcp_pid: pid(s.inode),
                tcp_state: tcp_state(s.state),
            }),
            ProtocolType::Udp => info.udp_port_states_info.push(UdpNetPortStatesInfo {
                udp_local_ip: s.local.ip().to_string(),
                udp_local_port: s.local.port(),
                udp_uid: s.uid,
                udp_pid: pid(s.inode),
            }),
        }
    }
    Ok(info)
}

/// Whether a socket's address matches a wanted one: the IP must match (a socket
/// bound to the unspecified address matches any), the port too unless 0.
fn matches(socket: SocketAddr, wanted: &NetAddress) -> bool {
    let ip_ok = socket.ip() == wanted.ip()
        || socket.ip().is_unspecified()
        || same_ip_mapped(socket.ip(), wanted.ip());
    ip_ok && (wanted.port() == 0 || socket.port() == wanted.port())
}

/// IPv4 addresses seen through IPv6 sockets (`::ffff:a.b.c.d`).
fn same_ip_mapped(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V6(v6), IpAddr::V4(v4)) | (IpAddr::V4(v4), IpAddr::V6(v6)) => {
            v6.to_ipv4_mapped() == Some(v4)
        }
        _ => false,
    }
}

/// The uid owning the connection `protocol` `local` → `remote`, or -1. Ports of 0
/// match any port; for UDP, when nothing matches both sides, the local side alone
/// decides (seed note).
pub fn connect_owner_uid(
    sockets: &[KernelSocket],
    protocol: ProtocolType,
    local: &NetAddress,
    remote: &NetAddress,
) -> i64 {
    let of_protocol = || sockets.iter().filter(|s| s.protocol == protocol);
    let both = of_protocol().find(|s| matches(s.local, local) && matches(s.remote, remote));
    let found = match (both, protocol) {
        (Some(s), _) => Some(s),
        (None, ProtocolType::Udp) => of_protocol().find(|s| matches(s.local, local)),
        (None, ProtocolType::Tcp) => None,
    };
    found.map_or(-1, |s| i64::from(s.uid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> NetAddress {
        let s: SocketAddr = text.parse().unwrap();
        NetAddress::new(s.ip(), s.port())
    }

    #[test]
    fn finds_one_sockets_owner_without_a_dump() {
        let my_uid = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self").unwrap().uid()
        };
        let owners = SocketOwners::new().unwrap();
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // A connected and an unconnected client, as resolvers have.
        let connected = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        connected.connect(server.local_addr().unwrap()).unwrap();
        let unconnected = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        let stub = server.local_addr().unwrap();
        for client in [&connected, &unconnected] {
            let port = client.local_addr().unwrap().port();
            let seen_from = SocketAddr::from(([127, 0, 0, 1], port));
            assert_eq!(
                owners.uid(ProtocolType::Udp, seen_from, stub).unwrap(),
                Some(my_uid)
            );
        }
        let gone = SocketAddr::from(([127, 0, 0, 1], 1));
        assert_eq!(owners.uid(ProtocolType::Udp, gone, stub).unwrap(), None);

        let listener = std::net::TcpListener::bind("[::1]:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, peer) = listener.accept().unwrap();
        let local = accepted.local_addr().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(
            owners.uid(ProtocolType::Tcp, peer, local).unwrap(),
            Some(my_uid)
        );
        let nobody: SocketAddr = "[::1]:1".parse().unwrap();
        assert_eq!(owners.uid(ProtocolType::Tcp, peer, nobody).unwrap(), None);
        assert_eq!(
            owners
                .uid(ProtocolType::Tcp, local, gone)
                .unwrap_err()
                .code(),
            2_100_001
        );
    }

    #[test]
    fn finds_this_process_tcp_connection_and_udp_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(server).unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let my_uid = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self").unwrap().uid()
        };
        let sockets = dump_sockets().unwrap();
        let local = client.local_addr().unwrap();
        let uid = connect_owner_uid(
            &sockets,
            ProtocolType::Tcp,
            &addr(&local.to_string()),
            &addr(&server.to_string()),
        );
        assert_eq!(uid, i64::from(my_uid));
        // Port 0 matches any port.
        let any_port = addr(&format!("{}:0", local.ip()));
        assert_eq!(
            connect_owner_uid(
                &sockets,
                ProtocolType::Tcp,
                &any_port,
                &addr(&server.to_string())
            ),
            i64::from(my_uid)
        );
        // UDP falls back to the local side.
        let udp_local = addr(&udp.local_addr().unwrap().to_string());
        assert_eq!(
            connect_owner_uid(
                &sockets,
                ProtocolType::Udp,
                &udp_local,
                &addr("192.0.2.9:53")
            ),
            i64::from(my_uid)
        );
        // Nothing there: -1.
        assert_eq!(
            connect_owner_uid(
                &sockets,
                ProtocolType::Tcp,
                &addr("127.0.0.1:1"),
                &addr("127.0.0.1:2")
            ),
            -1
        );

        let states = system_net_port_states().unwrap();
        let listening = states
            .tcp_port_states_info
            .iter()
            .find(|t| t.tcp_local_port == server.port() && t.tcp_state == TcpState::Listen)
            .expect("the listener is listed");
        assert_eq!(listening.tcp_pid, std::process::id());
        assert_eq!(listening.tcp_uid, my_uid);
        let established = states
            .tcp_port_states_info
            .iter()
            .find(|t| t.tcp_local_port == local.port())
            .expect("the client is listed");
        assert_eq!(established.tcp_state, TcpState::Established);
        assert_eq!(established.tcp_remote_port, server.port());
        assert!(
            states
                .udp_port_states_info
                .iter()
                .any(|u| u.udp_local_port == udp_local.port() && u.udp_pid == std::process::id())
        );
    }
}
