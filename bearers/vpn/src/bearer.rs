//! The bearer: the VPNs apps established, reported while their TUN device exists.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use netcore::{
    AppId, Bearer, BearerEvent, Error, LinkAddress, NetAddress, NetBearType, NetworkInfo,
    ReportSink, Result, RouteInfo,
};
use netcore_link::properties::{connection_properties, limit_lists};
use netcore_link::{LinkClient, LinkError, LinkState, LinkWatcher, RouteSpec};

use crate::config::VpnConfig;
use crate::registry::{Entry, Registration, Registry, VpnInfo};
use crate::spec::{CoveredApps, VpnSpec};
use crate::tunnel::VpnTunnel;

/// The VPN bearer: VPN apps establish VPNs through it ([`VpnBearer::establish`]),
/// and it reports each as a network of type [`NetBearType::Vpn`] keyed by its TUN
/// interface name, for as long as that interface exists and is up.
///
/// Clones share the same VPNs.
#[derive(Debug, Clone)]
pub struct VpnBearer {
    config: VpnConfig,
    registry: Arc<Registry>,
}

impl VpnBearer {
    /// A bearer with `config`, checked first: a bad configuration is
    /// [`Error::InvalidValue`].
    pub fn new(config: VpnConfig) -> Result<Self> {
        config.check()?;
        Ok(Self {
            config,
            registry: Registry::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &VpnConfig {
        &self.config
    }

    /// Establishes a VPN for the app `owner` (its uid): creates a TUN device in the
    /// calling thread's network namespace, gives it the spec's MTU and addresses,
    /// brings it up, installs the spec's routes (in the main table unless
    /// [`VpnConfig::routes_in_main_table`] is off), and returns the tunnel,
    /// which owns the device's file descriptor. The VPN is reported by
    /// [`Bearer::run`] until the tunnel is closed or dropped (or, after
    /// [`VpnTunnel::into_owned_fd`], until the last copy of the descriptor closes).
    ///
    /// Must be called inside a tokio runtime, on a thread in the network namespace
    /// where [`Bearer::run`] runs (the device is created in the caller's). Errors: a bad spec or a name in use is
    /// 2100001 ([`Error::InvalidValue`]); too many VPNs (see [`VpnConfig`]) is
    /// 2101022 ([`Error::TooManyRequests`]); no right to create TUN devices or
    /// configure links (not `CAP_NET_ADMIN`) is 201 ([`Error::PermissionDenied`]);
    /// the kernel refusing anything else is 2100002 ([`Error::Service`]). On error
    /// nothing is left behind.
    pub async fn establish(&self, owner: AppId, spec: VpnSpec) -> Result<VpnTunnel> {
        spec.check()?;
        self.check_quota(&self.registry.vpns(), owner)?;
        let link = LinkClient::connect().map_err(|e| kernel_error("open rtnetlink", e))?;
        if let Some(name) = &spec.name {
            match link.link_by_name(name).await {
                Ok(_) => {
                    return Err(Error::invalid(format!(
                        "VPN spec: interface name {name:?} is in use"
                    )));
                }
                Err(LinkError::NoSuchLink(_)) => {}
                Err(e) => return Err(kernel_error("list links", e)),
            }
        }
        let pattern = spec
            .name
            .clone()
            .unwrap_or_else(|| self.config.name_pattern());
        let mtu = u16::try_from(spec.mtu)
            .map_err(|_| Error::invalid(format!("VPN spec: MTU {} is too large", spec.mtu)))?;
        let device = tun_rs::DeviceBuilder::new()
            .name(pattern.as_str())
            .mtu(mtu)
            .packet_information(false)
            .build_async()
            .map_err(|e| io_error(&format!("create TUN device {pattern}"), &e))?;
        let name = device
            .name()
            .map_err(|e| io_error("read the TUN device's name", &e))?;
        // From here on, dropping `device` on an error removes the interface.
        let index = link
            .index_of(&name)
            .await
            .map_err(|e| kernel_error("find the TUN device", e))?;
        configure(&link, &name, &spec, self.config.routes_in_main_table).await?;

        let info = VpnInfo {
            key: name.clone(),
            index,
            owner,
            covered_apps: spec.covered_apps(),
            dns: spec.dns.clone(),
            routes: spec.routes.clone(),
        };
        {
            let mut vpns = self.registry.vpns();
            self.check_quota(&vpns, owner)?;
            vpns.insert(name.clone(), Entry { info, seen: false });
        }
        self.registry.notify();
        tracing::info!(interface = %name, %owner, addresses = spec.addresses.len(), routes = spec.routes.len(), "VPN established");
        Ok(VpnTunnel::new(
            device,
            name.clone(),
            owner,
            Registration::new(&self.registry, name, index),
        ))
    }

    fn check_quota(&self, vpns: &BTreeMap<String, Entry>, owner: AppId) -> Result<()> {
        let of_owner = vpns.values().filter(|e| e.info.owner == owner).count();
        if vpns.len() >= self.config.max_tunnels {
            return Err(Error::TooManyRequests(format!(
                "{} VPNs are established, the most allowed",
                vpns.len()
            )));
        }
        if of_owner >= self.config.max_tunnels_per_app {
            return Err(Error::TooManyRequests(format!(
                "app {owner} has {of_owner} VPNs, the most allowed for one app"
            )));
        }
        Ok(())
    }

    /// The app that established the VPN `key` (its interface name).
    pub fn owner_of(&self, key: &str) -> Option<AppId> {
        self.registry.vpns().get(key).map(|e| e.info.owner)
    }

    /// The apps (sorted, each once) that run a VPN: the apps that may call
    /// `getConnectOwnerUid`.
    pub fn vpn_apps(&self) -> Vec<AppId> {
        let mut apps: Vec<AppId> = self
            .registry
            .vpns()
            .values()
            .map(|e| e.info.owner)
            .collect();
        apps.sort_unstable();
        apps.dedup();
        apps
    }

    /// Whether `app` runs a VPN.
    pub fn is_vpn_app(&self, app: AppId) -> bool {
        self.registry.vpns().values().any(|e| e.info.owner == app)
    }

    /// `Ok` when `app` runs a VPN, else [`Error::NotVpnApp`] (2100301): the check of
    /// the seed's VPN-only functions (`getConnectOwnerUid`).
    pub fn require_vpn_app(&self, app: AppId) -> Result<()> {
        if self.is_vpn_app(app) {
            Ok(())
        } else {
            Err(Error::NotVpnApp(format!("app {app} runs no VPN")))
        }
    }

    /// The apps the VPN `key` covers.
    pub fn covered_apps(&self, key: &str) -> Option<CoveredApps> {
        self.registry
            .vpns()
            .get(key)
            .map(|e| e.info.covered_apps.clone())
    }

    /// The VPNs whose traffic includes `app`'s (by their allowed and disallowed
    /// apps), by key: for per-app routing.
    pub fn vpns_covering(&self, app: AppId) -> Vec<VpnInfo> {
        self.registry
            .vpns()
            .values()
            .filter(|e| e.info.covered_apps.covers(app))
            .map(|e| e.info.clone())
            .collect()
    }

    /// Closes every VPN `app` established (the app went away): their devices are
    /// removed from the kernel, with their addresses and routes, and the networks are
    /// reported gone. Returns how many there were.
    pub async fn remove_app(&self, app: AppId) -> usize {
        let removed: Vec<VpnInfo> = {
            let mut vpns = self.registry.vpns();
            let keys: Vec<String> = vpns
                .iter()
                .filter(|(_, e)| e.info.owner == app)
                .map(|(key, _)| key.clone())
                .collect();
            keys.iter()
                .filter_map(|key| vpns.remove(key))
                .map(|entry| entry.info)
                .collect()
        };
        if removed.is_empty() {
            return 0;
        }
        self.registry.notify();
        match LinkClient::connect() {
            Ok(link) => {
                for vpn in &removed {
                    if let Err(e) = link.delete_link(vpn.index).await {
                        tracing::debug!(interface = %vpn.key, "VPN device already gone: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!("VPNs of {app} forgotten, devices left: {e}"),
        }
        tracing::info!(%app, count = removed.len(), "VPNs of a departed app closed");
        removed.len()
    }

    /// The VPN `key`.
    pub fn vpn(&self, key: &str) -> Option<VpnInfo> {
        self.registry.vpns().get(key).map(|e| e.info.clone())
    }

    /// Every established VPN, by key.
    pub fn vpns(&self) -> Vec<VpnInfo> {
        self.registry
            .vpns()
            .values()
            .map(|e| e.info.clone())
            .collect()
    }

    /// The networks to report given the kernel's `state`: every VPN whose interface
    /// exists (with the index it was created with) and is up. A VPN whose interface
    /// was seen and is now gone is forgotten.
    fn networks(&self, state: &LinkState) -> BTreeMap<String, NetworkInfo> {
        let mut networks = BTreeMap::new();
        let mut gone = Vec::new();
        {
            let mut vpns = self.registry.vpns();
            for (key, entry) in vpns.iter_mut() {
                let link = state
                    .link(entry.info.index)
                    .filter(|link| &link.name == key);
                let Some(link) = link else {
                    if entry.seen {
                        gone.push(key.clone());
                    }
                    continue;
                };
                entry.seen = true;
                if !link.up {
                    continue;
                }
                let mut info = NetworkInfo::new(NetBearType::Vpn, key);
                info.properties = connection_properties(link, state);
                // Routes kept out of the main table are the VPN's all the same.
                for &(destination, prefix_len) in &entry.info.routes {
                    let Ok(destination) = LinkAddress::new(destination, i64::from(prefix_len))
                    else {
                        continue;
                    };
                    if !info
                        .properties
                        .routes
                        .iter()
                        .any(|r| r.destination == destination)
                    {
                        info.properties
                            .routes
                            .push(RouteInfo::new(key, destination, None));
                    }
                }
                limit_lists(&mut info.properties);
                info.properties.dnses = entry
                    .info
                    .dns
                    .iter()
                    .map(|ip| NetAddress::from(*ip))
                    .collect();
                networks.insert(key.clone(), info);
            }
            for key in &gone {
                if let Some(entry) = vpns.remove(key) {
                    tracing::info!(interface = %key, owner = %entry.info.owner, "VPN device went away");
                }
            }
        }
        networks
    }
}

#[async_trait]
impl Bearer for VpnBearer {
    fn bearer_type(&self) -> NetBearType {
        NetBearType::Vpn
    }

    fn name(&self) -> &str {
        "vpn"
    }

    /// Follows the kernel's links (in the calling thread's network namespace) and the
    /// established VPNs; returns [`Error::Service`] when the kernel's notifications
    /// stop, after reporting every network gone.
    async fn run(&self, sink: ReportSink) -> Result<()> {
        let mut watcher = LinkWatcher::start()
            .await
            .map_err(|e| kernel_error("watch links", e))?;
        let mut changes = self.registry.subscribe();
        let mut reported = BTreeMap::new();
        loop {
            let networks = self.networks(watcher.state());
            for event in netcore::bearer::diff_reports(&reported, &networks) {
                sink.report(event);
            }
            reported = networks;
            tokio::select! {
                event = watcher.next_event() => {
                    if let Err(e) = event {
                        for key in reported.into_keys() {
                            sink.report(BearerEvent::Gone { key });
                        }
                        return Err(kernel_error("watch links", e));
                    }
                }
                // The sender lives in `shared`, which `self` holds: never an error.
                _ = changes.changed() => {}
            }
        }
    }
}

/// Gives the TUN device `name` the spec's addresses, brings it up and, when
/// `install_routes`, installs the spec's routes in the main table.
async fn configure(
    link: &LinkClient,
    name: &str,
    spec: &VpnSpec,
    install_routes: bool,
) -> Result<()> {
    for address in &spec.addresses {
        let ip = address.address().ip();
        link.add_address(name, ip, address.prefix_length())
            .await
            .map_err(|e| kernel_error(&format!("add address {ip} to {name}"), e))?;
    }
    link.set_link_up(name, true)
        .await
        .map_err(|e| kernel_error(&format!("bring {name} up"), e))?;
    for &(destination, prefix_len) in spec.routes.iter().filter(|_| install_routes) {
        link.add_route(&RouteSpec::new(name, destination, prefix_len))
            .await
            .map_err(|e| {
                kernel_error(
                    &format!("add route {destination}/{prefix_len} through {name}"),
                    e,
                )
            })?;
    }
    Ok(())
}

const EPERM: i32 = 1;
const EACCES: i32 = 13;

/// A link-layer failure: 201 when the kernel says the caller may not, else 2100002.
fn kernel_error(what: &str, error: LinkError) -> Error {
    tracing::warn!(error = %error, "VPN: {what} failed");
    match error.errno() {
        Some(EPERM | EACCES) => Error::PermissionDenied(format!("{what}: {error}")),
        _ => Error::Service(format!("{what}: {error}")),
    }
}

/// A failure of the TUN device: 201 when the caller may not, else 2100002.
fn io_error(what: &str, error: &std::io::Error) -> Error {
    tracing::warn!(error = %error, "VPN: {what} failed");
    if error.kind() == std::io::ErrorKind::PermissionDenied {
        Error::PermissionDenied(format!("{what}: {error}"))
    } else {
        Error::Service(format!("{what}: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcore::LinkAddress;

    #[test]
    fn no_vpn_app_is_2100301() {
        let bearer = VpnBearer::new(VpnConfig::default()).unwrap();
        assert!(bearer.vpn_apps().is_empty());
        assert_eq!(bearer.owner_of("vpn0"), None);
        assert_eq!(
            bearer
                .require_vpn_app(AppId::from_uid(10_000))
                .unwrap_err()
                .code(),
            2_100_301
        );
        assert!(bearer.vpns().is_empty());
    }

    #[test]
    fn a_bad_config_is_refused() {
        let config = VpnConfig {
            max_tunnels: 0,
            ..VpnConfig::default()
        };
        assert_eq!(VpnBearer::new(config).unwrap_err().code(), 2_100_001);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_bad_spec_is_refused_before_touching_the_kernel() {
        let bearer = VpnBearer::new(VpnConfig::default()).unwrap();
        let mut spec = VpnSpec::new(LinkAddress::new("10.99.0.1".parse().unwrap(), 24).unwrap());
        spec.mtu = 100;
        let e = bearer
            .establish(AppId::from_uid(10_000), spec)
            .await
            .unwrap_err();
        assert_eq!(e.code(), 2_100_001, "{e}");
        assert!(bearer.vpns().is_empty());
    }

    /// Without root, creating a TUN device is 201; with root this test has nothing
    /// to check (the namespace test establishes real VPNs).
    #[tokio::test(flavor = "current_thread")]
    async fn without_the_right_it_is_201() {
        if netcore_link::testing::is_root() {
            println!(
                "skipped: runs as root, so it has the right (the netns test covers establishing)"
            );
            return;
        }
        let bearer = VpnBearer::new(VpnConfig::default()).unwrap();
        let spec = VpnSpec::new(LinkAddress::new("10.99.0.1".parse().unwrap(), 24).unwrap());
        let e = bearer
            .establish(AppId::from_uid(10_000), spec)
            .await
            .unwrap_err();
        assert!(matches!(e.code(), 201 | 2_100_002), "{e}");
        assert!(bearer.vpns().is_empty());
    }
}
