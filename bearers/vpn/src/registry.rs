//! The VPNs established, shared by the bearer (which reports them) and their tunnels
//! (which forget theirs when closed).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use netcore::AppId;
use tokio::sync::watch;

use crate::spec::CoveredApps;

/// What netcore keeps of an established VPN, for the facade.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VpnInfo {
    /// The network's key in the bearer's reports: the TUN interface's name.
    pub key: String,
    /// The kernel's index of the TUN interface.
    pub index: u32,
    /// The app that established it.
    pub owner: AppId,
    /// The apps whose traffic it carries.
    pub covered_apps: CoveredApps,
    /// Its DNS servers.
    pub dns: Vec<IpAddr>,
    /// Its routes (destination, prefix length).
    pub routes: Vec<(IpAddr, u8)>,
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) info: VpnInfo,
    /// Whether `run` has seen the interface in the kernel: once seen, its absence
    /// means the device went (its last file descriptor closed).
    pub(crate) seen: bool,
}

/// The established VPNs by key, and a counter of their changes for whoever reports
/// them.
#[derive(Debug)]
pub(crate) struct Registry {
    vpns: Mutex<BTreeMap<String, Entry>>,
    changed: watch::Sender<u64>,
}

impl Registry {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            vpns: Mutex::default(),
            changed: watch::Sender::new(0),
        })
    }

    pub(crate) fn vpns(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.vpns
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tells the reporter that the VPNs changed.
    pub(crate) fn notify(&self) {
        self.changed.send_modify(|generation| *generation += 1);
    }

    /// Follows [`Registry::notify`].
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Forgets the VPN `key` if it is still the one on interface `index`.
    pub(crate) fn remove(&self, key: &str, index: u32) {
        let removed = {
            let mut vpns = self.vpns();
            match vpns.get(key) {
                Some(entry) if entry.info.index == index => vpns.remove(key),
                _ => None,
            }
        };
        if let Some(entry) = removed {
            tracing::info!(interface = %key, owner = %entry.info.owner, "VPN closed");
            self.notify();
        }
    }
}

/// Forgets its VPN in the registry when dropped, unless detached.
#[derive(Debug)]
pub(crate) struct Registration {
    registry: Weak<Registry>,
    key: String,
    index: u32,
    pub(crate) detached: bool,
}

impl Registration {
    pub(crate) fn new(registry: &Arc<Registry>, key: String, index: u32) -> Self {
        Self {
            registry: Arc::downgrade(registry),
            key,
            index,
            detached: false,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if !self.detached
            && let Some(registry) = self.registry.upgrade()
        {
            registry.remove(&self.key, self.index);
        }
    }
}
