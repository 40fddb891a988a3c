//! Permissions: which apps may call what, from a policy file.
//!
//! ```toml
//! # What every app has (the default is what an ordinary app has on the seed's
//! # platform).
//! default = ["GET_NETWORK_INFO", "INTERNET"]
//!
//! [uid]
//! 1000 = ["SET_PAC_URL"]
//!
//! [group]
//! netdev = ["SET_PAC_URL", "SET_NET_EXT_ATTRIBUTE", "GET_IP_MAC_INFO", "ACCESS_NET_TRACE_INFO", "MANAGE_SETTINGS"]
//! ```
//!
//! An app has the default permissions, those of its uid and those of every group its
//! process is in; root has all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use netcore::{AppId, Error, Result};
use serde::Deserialize;

/// A permission of the seed (`ohos.permission.*`), and netcore's own for global
/// settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    /// Read networks and their state.
    GetNetworkInfo,
    /// Use the network: bind to it, resolve names, probe.
    Internet,
    /// Set the system's PAC URL.
    SetPacUrl,
    /// Set a network's extended attribute.
    SetNetExtAttribute,
    /// Read the neighbour table and the system's sockets.
    GetIpMacInfo,
    /// Trace routes.
    AccessNetTraceInfo,
    /// Change settings that apply to every app (the global HTTP proxy).
    ManageSettings,
    /// Establish a VPN (a TUN device whose traffic the app handles).
    ManageVpn,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 8] = [
        Permission::GetNetworkInfo,
        Permission::Internet,
        Permission::SetPacUrl,
        Permission::SetNetExtAttribute,
        Permission::GetIpMacInfo,
        Permission::AccessNetTraceInfo,
        Permission::ManageSettings,
        Permission::ManageVpn,
    ];

    /// The name in the seed's style (`ohos.permission.GET_NETWORK_INFO`).
    pub fn seed_name(self) -> &'static str {
        match self {
            Permission::GetNetworkInfo => "ohos.permission.GET_NETWORK_INFO",
            Permission::Internet => "ohos.permission.INTERNET",
            Permission::SetPacUrl => "ohos.permission.SET_PAC_URL",
            Permission::SetNetExtAttribute => "ohos.permission.SET_NET_EXT_ATTRIBUTE",
            Permission::GetIpMacInfo => "ohos.permission.GET_IP_MAC_INFO",
            Permission::AccessNetTraceInfo => "ohos.permission.ACCESS_NET_TRACE_INFO",
            Permission::ManageSettings => "netcore.permission.MANAGE_SETTINGS",
            Permission::ManageVpn => "ohos.permission.MANAGE_VPN",
        }
    }
}

/// The policy file's form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default = "ordinary_app")]
    default: BTreeSet<Permission>,
    #[serde(default)]
    uid: BTreeMap<String, BTreeSet<Permission>>,
    #[serde(default)]
    group: BTreeMap<String, BTreeSet<Permission>>,
}

fn ordinary_app() -> BTreeSet<Permission> {
    [Permission::GetNetworkInfo, Permission::Internet].into()
}

/// Who has which permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    default: BTreeSet<Permission>,
    by_uid: BTreeMap<u32, BTreeSet<Permission>>,
    by_gid: BTreeMap<u32, BTreeSet<Permission>>,
}

impl Default for Policy {
    /// Every app has GET_NETWORK_INFO and INTERNET; root has everything.
    fn default() -> Self {
        Self {
            default: ordinary_app(),
            by_uid: BTreeMap::new(),
            by_gid: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// Parses a policy; a bad permission or uid is 2100001 naming it. Groups are
    /// names (looked up now) or numbers; a group name this system does not have
    /// grants nothing (with a warning): policies are shared by systems whose groups
    /// differ.
    pub fn from_toml(text: &str) -> Result<Self> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| Error::invalid(format!("policy: {e}")))?;
        let mut by_uid = BTreeMap::new();
        for (uid, permissions) in file.uid {
            let uid: u32 = uid
                .parse()
                .map_err(|_| Error::invalid(format!("policy: uid {uid:?} is not a number")))?;
            by_uid.insert(uid, permissions);
        }
        let mut by_gid = BTreeMap::new();
        for (group, permissions) in file.group {
            let gid = match group.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => match nix::unistd::Group::from_name(&group).ok().flatten() {
                    Some(found) => found.gid.as_raw(),
                    None => {
                        tracing::warn!(group, "policy: no such group here: it grants nothing");
                        continue;
                    }
                },
            };
            by_gid.insert(gid, permissions);
        }
        Ok(Self {
            default: file.default,
            by_uid,
            by_gid,
        })
    }

    /// Reads the policy file at `path`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(format!("cannot read the policy {}: {e}", path.display()))
        })?;
        Self::from_toml(&text)
    }

    /// The permissions of `app` whose process is in `groups`.
    pub fn permissions_of(&self, app: AppId, groups: &[u32]) -> BTreeSet<Permission> {
        if app.uid() == 0 {
            return Permission::ALL.into();
        }
        let mut granted = self.default.clone();
        if let Some(own) = self.by_uid.get(&app.uid()) {
            granted.extend(own);
        }
        for gid in groups {
            if let Some(of_group) = self.by_gid.get(gid) {
                granted.extend(of_group);
            }
        }
        granted
    }
}

/// `Ok` when `granted` holds every permission of `needed`, else 201 naming the first
/// missing one.
pub fn require(
    granted: &BTreeSet<Permission>,
    needed: &[Permission],
    app: AppId,
    call: &str,
) -> Result<()> {
    match needed.iter().find(|p| !granted.contains(p)) {
        None => Ok(()),
        Some(missing) => Err(Error::PermissionDenied(format!(
            "{call} needs {} and app {app} lacks it",
            missing.seed_name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_uid_group_and_root() {
        let policy = Policy::from_toml(
            "[uid]\n1000 = [\"SET_PAC_URL\"]\n[group]\n4242 = [\"GET_IP_MAC_INFO\"]\n",
        )
        .unwrap();
        let ordinary = policy.permissions_of(AppId::from_uid(1001), &[100]);
        assert_eq!(ordinary, ordinary_app());
        let by_uid = policy.permissions_of(AppId::from_uid(1000), &[]);
        assert!(by_uid.contains(&Permission::SetPacUrl));
        let by_group = policy.permissions_of(AppId::from_uid(1001), &[7, 4242]);
        assert!(by_group.contains(&Permission::GetIpMacInfo));
        assert!(!by_group.contains(&Permission::SetPacUrl));
        let root = policy.permissions_of(AppId::from_uid(0), &[]);
        assert_eq!(root.len(), Permission::ALL.len());
        let none = Policy::from_toml("default = []\n").unwrap();
        let err = require(
            &none.permissions_of(AppId::from_uid(5), &[]),
            &[Permission::GetNetworkInfo],
            AppId::from_uid(5),
            "getDefaultNet",
        )
        .unwrap_err();
        assert_eq!(err.code(), 201);
        assert!(err.to_string().contains("GET_NETWORK_INFO"), "{err}");
    }

    #[test]
    fn groups_by_name_and_missing_groups() {
        let policy = Policy::from_toml(
            "[group]\nroot = [\"GET_IP_MAC_INFO\"]\nno-such-group-here = [\"SET_PAC_URL\"]\n",
        )
        .unwrap();
        let in_root_group = policy.permissions_of(AppId::from_uid(7), &[0]);
        assert!(in_root_group.contains(&Permission::GetIpMacInfo));
        assert!(!in_root_group.contains(&Permission::SetPacUrl));
    }

    #[test]
    fn the_shipped_files_parse() {
        let dist = concat!(env!("CARGO_MANIFEST_DIR"), "/dist/");
        let policy = std::fs::read_to_string(format!("{dist}policy.toml")).unwrap();
        let policy = Policy::from_toml(&policy).unwrap();
        assert_eq!(
            policy.permissions_of(AppId::from_uid(4321), &[]),
            ordinary_app()
        );
        let config = std::fs::read_to_string(format!("{dist}netcored.toml")).unwrap();
        let config = netcore_runtime::Config::from_toml(&config).unwrap();
        assert!(config.manage);
    }

    #[test]
    fn bad_policies_are_2100001() {
        for (text, needle) in [
            ("default = [\"FLY\"]\n", "FLY"),
            ("[uid]\nbob = [\"INTERNET\"]\n", "bob"),
            ("colour = 1\n", "colour"),
        ] {
            let err = Policy::from_toml(text).unwrap_err();
            assert_eq!(err.code(), 2100001, "{text}");
            assert!(err.to_string().contains(needle), "{err}");
        }
    }
}
