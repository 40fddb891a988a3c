//! The error type of the link layer.

/// What went wrong talking to the kernel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The netlink socket could not be opened or bound.
    #[error("cannot open the rtnetlink socket: {0}")]
    Socket(String),
    /// The netlink socket stopped delivering messages (closed or failed).
    #[error("the rtnetlink socket closed")]
    SocketClosed,
    /// The kernel refused a request.
    #[error("{operation} failed: {message}")]
    Kernel {
        /// What was asked ("add address 10.0.0.1/24 on veth0").
        operation: String,
        /// The kernel's errno, when it sent one (positive, e.g. 17 for EEXIST).
        errno: Option<i32>,
        /// The kernel's or the library's description.
        message: String,
    },
    /// No interface has that name or index.
    #[error("no such interface: {0}")]
    NoSuchLink(String),
    /// An argument was out of range or inconsistent (a prefix of 33 bits, an IPv6
    /// gateway for an IPv4 route).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Setting up a network namespace failed (testing helpers).
    #[error("network namespace: {0}")]
    Namespace(String),
}

impl LinkError {
    /// Wraps an rtnetlink error for `operation`, keeping the errno.
    pub(crate) fn kernel(operation: impl Into<String>, error: rtnetlink::Error) -> Self {
        let errno = match &error {
            rtnetlink::Error::NetlinkError(message) => Some(message.raw_code().abs()),
            _ => None,
        };
        let message = match &error {
            rtnetlink::Error::NetlinkError(message) => message.to_io().to_string(),
            other => other.to_string(),
        };
        Self::Kernel {
            operation: operation.into(),
            errno,
            message,
        }
    }

    /// The kernel's errno, when the kernel refused the request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Kernel { errno, .. } => *errno,
            _ => None,
        }
    }
}

impl From<LinkError> for netcore::Error {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::NoSuchLink(_) | LinkError::InvalidArgument(_) => {
                netcore::Error::InvalidValue(error.to_string())
            }
            LinkError::Socket(_) | LinkError::SocketClosed => {
                netcore::Error::Service(error.to_string())
            }
            _ => netcore::Error::Internal(error.to_string()),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = LinkError> = std::result::Result<T, E>;
