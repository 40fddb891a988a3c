//! The identity of an application.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An application, as netcore keys app-scoped state: its requests and their quota,
/// the network it is bound to, its custom DNS rules, its HTTP proxy and the VPNs it
/// runs. On Linux an app is its uid, as on Android: every process of one uid is one
/// app. Where one process of an app must be told apart (in logs, or when the kernel
/// names one), its pid travels beside the `AppId`; app state is never split by it.
///
/// APIs that take an `AppId` from their caller (`NetManager::for_app`, the runtime's
/// app-scoped calls) trust it: the daemon passes the identity the bus gives it for
/// the caller, never one a message names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppId(u32);

impl AppId {
    /// The app of the user `uid`.
    pub const fn from_uid(uid: u32) -> Self {
        Self(uid)
    }

    /// The app's uid.
    pub const fn uid(self) -> u32 {
        self.0
    }

    /// The app of the current process: its real uid (`getuid`).
    pub fn current() -> Self {
        Self(rustix::process::getuid().as_raw())
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uid {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_is_the_real_uid() {
        let uid = std::process::Command::new("id")
            .arg("-ru")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>());
        if let Ok(Ok(uid)) = uid {
            assert_eq!(AppId::current().uid(), uid);
        }
        assert_eq!(AppId::from_uid(10_001).to_string(), "uid 10001");
    }
}
