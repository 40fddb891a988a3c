//! The one error type of netcore's public API, carrying the seed's error codes.

use serde::{Deserialize, Serialize};

/// Result alias used across netcore.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a name could not be resolved. Every kind maps to code 2100003 (the seed has no
/// finer code), but each keeps its own variant and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ResolveFailure {
    /// The name does not exist (NXDOMAIN) or has no address of the asked family.
    NotFound,
    /// No server answered in time.
    Timeout,
    /// A server answered with a failure (SERVFAIL, REFUSED, a malformed reply).
    ServerFailure,
    /// There is no network to resolve on (no default network, no DNS servers).
    NoNetwork,
}

impl std::fmt::Display for ResolveFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotFound => "no such name",
            Self::Timeout => "timed out",
            Self::ServerFailure => "server failure",
            Self::NoNetwork => "no network to resolve on",
        })
    }
}

/// An error of the connection API. [`Error::code`] gives the seed's numeric code and
/// `Display` the seed's message followed by what was wrong. It serializes (netcored
/// sends it to its clients whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Error {
    /// 201: the caller lacks the permission the function needs.
    #[error("Permission denied: {0}")]
    PermissionDenied(String),
    /// 401: a mandatory parameter is missing or has the wrong type.
    #[error("Parameter error: {0}")]
    Parameter(String),
    /// 2100001: a parameter has a value outside its range, or names nothing known.
    #[error("Invalid parameter value: {0}")]
    InvalidValue(String),
    /// 2100002: the service (or a part of it, such as a bearer or PAC worker) could
    /// not be reached.
    #[error("Failed to connect to the service: {0}")]
    Service(String),
    /// 2100003: the system failed internally, or the part that serves the call is
    /// not available.
    #[error("System internal error: {0}")]
    Internal(String),
    /// 2100003: a name could not be resolved.
    #[error("System internal error: resolving {host:?}: {failure}")]
    Resolve {
        /// The host name that was looked up.
        host: String,
        /// Why it failed.
        failure: ResolveFailure,
    },
    /// 2100301: a VPN-only function was called by an application that runs no VPN.
    #[error("Incorrect usage in non-VPN application: {0}")]
    NotVpnApp(String),
    /// 2101007: unregistering a connection that is not registered.
    #[error("The callback does not exist: {0}")]
    CallbackNotFound(String),
    /// 2101008: registering a connection that is already registered.
    #[error("The callback already exists: {0}")]
    CallbackExists(String),
    /// 2101022: an application has too many live requests.
    #[error("The number of requests exceeded the maximum allowed: {0}")]
    TooManyRequests(String),
}

impl Error {
    /// The seed's numeric error code.
    pub fn code(&self) -> u32 {
        match self {
            Self::PermissionDenied(_) => 201,
            Self::Parameter(_) => 401,
            Self::InvalidValue(_) => 2_100_001,
            Self::Service(_) => 2_100_002,
            Self::Internal(_) | Self::Resolve { .. } => 2_100_003,
            Self::NotVpnApp(_) => 2_100_301,
            Self::CallbackNotFound(_) => 2_101_007,
            Self::CallbackExists(_) => 2_101_008,
            Self::TooManyRequests(_) => 2_101_022,
        }
    }

    /// Shorthand for [`Error::InvalidValue`].
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::InvalidValue(detail.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_seed() {
        let s = String::new;
        let cases = [
            (Error::PermissionDenied(s()), 201),
            (Error::Parameter(s()), 401),
            (Error::InvalidValue(s()), 2100001),
            (Error::Service(s()), 2100002),
            (Error::Internal(s()), 2100003),
            (
                Error::Resolve {
                    host: s(),
                    failure: ResolveFailure::Timeout,
                },
                2100003,
            ),
            (Error::NotVpnApp(s()), 2100301),
            (Error::CallbackNotFound(s()), 2101007),
            (Error::CallbackExists(s()), 2101008),
            (Error::TooManyRequests(s()), 2101022),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error}");
        }
    }

    #[test]
    fn display_has_seed_message_and_detail() {
        let e = Error::invalid("netId 7 is not a network");
        assert_eq!(
            e.to_string(),
            "Invalid parameter value: netId 7 is not a network"
        );
    }
}
