//! ICMP errors of datagram sockets through the socket error queue (`IP_RECVERR`,
//! read with `MSG_ERRQUEUE`): the way to learn who sent a time exceeded or an
//! unreachable without a raw socket.

use std::io::{self, IoSliceMut};
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn, recvmsg, setsockopt, sockopt};

/// `SO_EE_ORIGIN_ICMP`: the error came from an ICMP message.
const ORIGIN_ICMP: u8 = 2;

/// An ICMP error queued on a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueuedIcmpError {
    /// The ICMP type (3 unreachable, 11 time exceeded).
    pub icmp_type: u8,
    /// The ICMP code.
    pub icmp_code: u8,
    /// Who sent it.
    pub offender: Option<Ipv4Addr>,
}

/// Turns the error queue of an IPv4 datagram socket on.
pub(crate) fn enable(socket: &impl AsFd) -> io::Result<()> {
    setsockopt(socket, sockopt::Ipv4RecvErr, &true).map_err(io::Error::from)
}

/// Takes the next ICMP error from the socket's error queue; `None` when the queue is
/// empty or holds only non-ICMP errors (which are dropped).
pub(crate) fn take(socket: &impl AsRawFd) -> io::Result<Option<QueuedIcmpError>> {
    loop {
        let mut data = [0u8; 256];
        let mut iov = [IoSliceMut::new(&mut data)];
        let mut control = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in);
        let message = match recvmsg::<SockaddrIn>(
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
            if let ControlMessageOwned::Ipv4RecvErr(err, offender) = cmsg
                && err.ee_origin == ORIGIN_ICMP
            {
                return Ok(Some(QueuedIcmpError {
                    icmp_type: err.ee_type,
                    icmp_code: err.ee_code,
                    offender: offender.map(|a| Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))),
                }));
            }
        }
    }
}
