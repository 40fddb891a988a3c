//! `NetHandle.bindSocket` for another process's socket: what netcored does with the
//! descriptor an app hands it.

use std::os::fd::BorrowedFd;

use netcore::{AppId, Error, Result};
use socket2::{Domain, SockRef};

/// `ENOTSOCK`: the descriptor is not a socket.
const ENOTSOCK: i32 = 88;

/// Checks that `socket` is an IPv4 or IPv6 socket that `app` created (root's apps
/// may hand over any): 2100001 for a descriptor that is no such socket, 201 for
/// another app's socket.
pub(crate) fn check_socket(socket: BorrowedFd<'_>, app: AppId) -> Result<()> {
    let sock = SockRef::from(&socket);
    let domain = sock.domain().map_err(|e| {
        if e.raw_os_error() == Some(ENOTSOCK) {
            Error::invalid("bindSocket: the descriptor is not a socket")
        } else {
            Error::Internal(format!("bindSocket: reading the socket's family: {e}"))
        }
    })?;
    if domain != Domain::IPV4 && domain != Domain::IPV6 {
        return Err(Error::invalid(format!(
            "bindSocket: the socket is not an IPv4 or IPv6 socket ({domain:?})"
        )));
    }
    // A socket's inode belongs to the uid that created it.
    let owner = rustix::fs::fstat(socket)
        .map_err(|e| Error::Internal(format!("bindSocket: fstat: {e}")))?
        .st_uid;
    if app.uid() != 0 && owner != app.uid() {
        return Err(Error::PermissionDenied(format!(
            "bindSocket: the socket belongs to uid {owner}, not to app {app}"
        )));
    }
    Ok(())
}

/// Binds `socket` to `interface` and, when given, sets the netcore bits of its mark
/// (`SO_MARK`, which needs `CAP_NET_ADMIN`) to `mark`, keeping the others.
pub(crate) fn bind(
    socket: BorrowedFd<'_>,
    interface: &str,
    mark: Option<(u32, u32)>,
) -> Result<()> {
    netcore_socket::bind_to_device(socket, interface)?;
    if let Some((mark, mask)) = mark {
        let sock = SockRef::from(&socket);
        let old = sock
            .mark()
            .map_err(|e| Error::Internal(format!("bindSocket: reading the mark: {e}")))?;
        sock.set_mark((old & !mask) | mark).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                Error::PermissionDenied(format!("bindSocket: setting the mark: {e}"))
            } else {
                Error::Internal(format!("bindSocket: setting the mark: {e}"))
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn only_ip_sockets_of_the_app() {
        let me = AppId::current();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        check_socket(udp.as_fd(), me).unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(
            check_socket(file.as_fd(), me).unwrap_err().code(),
            2_100_001
        );
        let (unix, _) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(
            check_socket(unix.as_fd(), me).unwrap_err().code(),
            2_100_001
        );
        if me.uid() != 0 {
            return;
        }
        // Root's socket is not another app's to bind.
        let other = AppId::from_uid(4242);
        assert_eq!(check_socket(udp.as_fd(), other).unwrap_err().code(), 201);
    }
}
