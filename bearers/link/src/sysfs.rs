//! Facts about a link that only sysfs has: whether it is wireless, its speed.
//!
//! sysfs shows the interfaces of the network namespace it was mounted in, which may
//! not be the namespace of the netlink socket (a thread that entered another
//! namespace still sees the old `/sys`). So every read first checks that the sysfs
//! entry is the same device: same `ifindex`, and same hardware address when there is
//! one. When it is not, nothing is read and the facts stay unknown.

use std::fs;
use std::path::{Path, PathBuf};

use crate::types::HardwareAddress;

/// Where the `class/net` directory of sysfs is (normally `/sys/class/net`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysfsNet {
    root: PathBuf,
}

impl Default for SysfsNet {
    fn default() -> Self {
        Self::new("/sys/class/net")
    }
}

/// What sysfs says about one link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SysfsFacts {
    /// The device is wireless.
    pub wireless: bool,
    /// The link speed in Mb/s, when the driver reports a positive one.
    pub speed_mbps: Option<u32>,
}

impl SysfsNet {
    /// sysfs's `class/net` directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The facts about the link `name` with index `index` and hardware address
    /// `mac`; unknown (default) when sysfs has no such device or a different one.
    pub fn facts(&self, name: &str, index: u32, mac: Option<&HardwareAddress>) -> SysfsFacts {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return SysfsFacts::default();
        }
        let dir = self.root.join(name);
        if !same_device(&dir, index, mac) {
            tracing::trace!(name, index, "sysfs entry is absent or another device");
            return SysfsFacts::default();
        }
        SysfsFacts {
            wireless: dir.join("wireless").exists() || dir.join("phy80211").exists(),
            speed_mbps: read_trimmed(&dir.join("speed")).and_then(|s| parse_speed(&s)),
        }
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

fn same_device(dir: &Path, index: u32, mac: Option<&HardwareAddress>) -> bool {
    let index_matches = read_trimmed(&dir.join("ifindex"))
        .and_then(|s| s.parse::<u32>().ok())
        .is_some_and(|i| i == index);
    if !index_matches {
        return false;
    }
    match mac {
        Some(mac) if !mac.is_zero() => {
            read_trimmed(&dir.join("address")).is_some_and(|a| a == mac.to_string())
        }
        _ => true,
    }
}

/// The speed from sysfs's `speed` file: a positive number of Mb/s; `-1` (unknown),
/// 0 and garbage give `None`.
pub fn parse_speed(text: &str) -> Option<u32> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|s| *s > 0)
        .and_then(|s| u32::try_from(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_parsing_refuses_unknown_and_garbage() {
        assert_eq!(parse_speed("1000\n"), Some(1000));
        assert_eq!(parse_speed("10000"), Some(10000));
        assert_eq!(parse_speed("-1"), None);
        assert_eq!(parse_speed("0"), None);
        assert_eq!(parse_speed("fast"), None);
        assert_eq!(parse_speed(""), None);
    }

    #[test]
    fn facts_check_index_and_mac_before_reading() {
        let dir = std::env::temp_dir().join(format!("netcore-sysfs-{}", std::process::id()));
        let eth = dir.join("eth7");
        fs::create_dir_all(eth.join("wireless")).unwrap();
        fs::write(eth.join("ifindex"), "7\n").unwrap();
        fs::write(eth.join("address"), "02:00:00:00:00:07\n").unwrap();
        fs::write(eth.join("speed"), "2500\n").unwrap();
        let sysfs = SysfsNet::new(&dir);
        let mac = HardwareAddress(vec![2, 0, 0, 0, 0, 7]);
        let facts = sysfs.facts("eth7", 7, Some(&mac));
        assert_eq!(
            facts,
            SysfsFacts {
                wireless: true,
                speed_mbps: Some(2500)
            }
        );
        // Another namespace's device of the same name: different index or MAC.
        assert_eq!(sysfs.facts("eth7", 8, Some(&mac)), SysfsFacts::default());
        let other = HardwareAddress(vec![2, 0, 0, 0, 0, 8]);
        assert_eq!(sysfs.facts("eth7", 7, Some(&other)), SysfsFacts::default());
        assert_eq!(sysfs.facts("../eth7", 7, None), SysfsFacts::default());
        assert_eq!(sysfs.facts("nope", 7, None), SysfsFacts::default());
        fs::remove_dir_all(&dir).unwrap();
    }
}
