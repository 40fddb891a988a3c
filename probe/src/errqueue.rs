//! ICMP errors of datagram sockets through the socket error queue (`IP_RECVERR` /
//! `IPV6_RECVERR`, read with `MSG_ERRQUEUE`): the way to learn who sent a time
//! exceeded or an unreachable without a raw socket.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};

use crate::icmp::{Family, IcmpKind};

/// `SO_EE_ORIGIN_ICMP`: the error came from an ICMP message.
const ORIGIN_ICMP: u8 = 2;
/// `SO_EE_ORIGIN_ICMP6`: the error came from an ICMPv6 message.
const ORIGIN_ICMP6: u8 = 3;

/// An ICMP error queued on a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueuedIcmpError {
    /// What it says.
    pub kind: IcmpKind,
    /// Who sent it.
    pub offender: Option<IpAddr>,
}

/// Turns the error queue of a datagram socket of `family` on.
pub(crate) fn enable(socket: &impl AsFd, family: Family) -> io::Result<()> {
    match family {
        Family::V4 => setsockopt(socket, sockopt::Ipv4RecvErr, &true),
        Family::V6 => setsockopt(socket, sockopt::Ipv6RecvErr, &true),
    }
    .map_err(io::Error::from)
}

/// Takes the next ICMP error from the socket's error queue; `None` when the queue is
/// empty. Errors of other origins, and ICMP messages a probe does not care about,
/// are dropped.
pub(crate) fn take(socket: &impl AsRawFd, family: Family) -> io::Result<Option<QueuedIcmpError>> {
    loop {
        let mut data = [0u8; 256];
        let mut iov = [IoSliceMut::new(&mut data)];
        let mut control = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
        let message = match recvmsg::<SockaddrStorage>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(message) => message,
            Err(Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        for cmsg in message.cmsgs().map_err(io::Error::from)? {
            let (err, offender) = match cmsg {
                ControlMessageOwned::Ipv4RecvErr(err, offender) => (
                    err,
                    offender.map(|a| IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)))),
                ),
                ControlMessageOwned::Ipv6RecvErr(err, offender) => (
                    err,
                    offender.map(|a| IpAddr::V6(Ipv6Addr::from(a.sin6_addr.s6_addr))),
                ),
                _ => continue,
            };
            if err.ee_origin != ORIGIN_ICMP && err.ee_origin != ORIGIN_ICMP6 {
                continue;
            }
            if let Some(kind) = family.classify(err.ee_type, err.ee_code) {
                return Ok(Some(QueuedIcmpError { kind, offender }));
            }
        }
    }
}
