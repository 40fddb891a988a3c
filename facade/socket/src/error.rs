//! Mapping of OS and state failures onto netcore's [`Error`] and its seed codes.
//!
//! The socket seeds define no error codes of their own, so failures use the
//! connection API's: bad input is 401 or 2100001, a missing permission 201, and
//! everything the system refuses (connection refused, reset, timeout, a call on a
//! closed socket) is 2100003 with a message saying what happened.

use std::io;

use netcore::Error;

/// An OS error during `operation`: `EPERM`/`EACCES` become 201, everything else
/// 2100003 with the OS's message.
pub(crate) fn io_error(operation: &str, error: io::Error) -> Error {
    match error.kind() {
        io::ErrorKind::PermissionDenied => Error::PermissionDenied(format!("{operation}: {error}")),
        _ => Error::Internal(format!("{operation}: {error}")),
    }
}

/// A call on a socket that is closed.
pub(crate) fn closed(operation: &str) -> Error {
    Error::Internal(format!("{operation}: the socket is closed"))
}

/// A call that needs a state the socket is not in (e.g. `send` before `connect`).
pub(crate) fn not_ready(operation: &str, needs: &str) -> Error {
    Error::Internal(format!("{operation}: the socket is not {needs} yet"))
}
