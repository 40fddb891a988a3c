//! TCP, UDP and TLS sockets and the TCP server of the socket API, bindable to a
//! network.
//!
//! Not implemented yet: this crate is a placeholder in the workspace layout and
//! offers nothing. It is filled by the sockets issue (issue 7).
