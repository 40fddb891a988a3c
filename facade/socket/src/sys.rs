//! Creating sockets with socket2 and binding them to a network interface.

use std::net::SocketAddr;

use netcore::Error;
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::error::io_error;

/// The longest interface name Linux accepts (`IFNAMSIZ` - 1).
const MAX_INTERFACE_NAME: usize = 15;

/// A non-blocking socket of `ty` for addresses like `address`, bound to `device` if
/// given.
pub(crate) fn new_socket(
    address: SocketAddr,
    ty: Type,
    device: Option<&str>,
) -> Result<Socket, Error> {
    let protocol = if ty == Type::DGRAM {
        Protocol::UDP
    } else {
        Protocol::TCP
    };
    let socket = Socket::new(Domain::for_address(address), ty, Some(protocol))
        .map_err(|e| io_error("creating the socket", e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| io_error("making the socket non-blocking", e))?;
    if let Some(name) = device {
        bind_device(SockRef::from(&socket), name)?;
    }
    Ok(socket)
}

/// Checks the form of an interface name (2100001 if empty, too long or with NUL).
pub(crate) fn check_interface_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAX_INTERFACE_NAME || name.contains('\0') {
        return Err(Error::invalid(format!(
            "{name:?} is not an interface name (1 to {MAX_INTERFACE_NAME} bytes, no NUL)"
        )));
    }
    Ok(())
}

/// `SO_BINDTODEVICE`: a missing interface is 2100001, a missing permission
/// (`CAP_NET_RAW`, needed only before Linux 5.7) 201.
pub(crate) fn bind_device(socket: SockRef<'_>, name: &str) -> Result<(), Error> {
    check_interface_name(name)?;
    socket.bind_device(Some(name.as_bytes())).map_err(|e| {
        if e.raw_os_error() == Some(ENODEV) {
            Error::invalid(format!("there is no network interface named {name:?}"))
        } else {
            io_error(&format!("binding the socket to interface {name:?}"), e)
        }
    })
}

/// Checks that interface `name` exists, by binding a throwaway socket to it; used when
/// a socket is bound to an interface before its own OS socket exists.
pub(crate) fn check_interface(name: &str) -> Result<(), Error> {
    let probe = Socket::new(Domain::IPV4, Type::DGRAM, None)
        .map_err(|e| io_error("creating a socket to check the interface", e))?;
    bind_device(SockRef::from(&probe), name)
}

/// The interface a socket is bound to, if any.
pub(crate) fn bound_device(socket: SockRef<'_>) -> Result<Option<String>, Error> {
    let name = socket
        .device()
        .map_err(|e| io_error("reading SO_BINDTODEVICE", e))?;
    Ok(name.map(|n| String::from_utf8_lossy(&n).into_owned()))
}

/// `ENODEV` ("no such device") on Linux, the error of `SO_BINDTODEVICE` for a missing interface.
const ENODEV: i32 = 19;
