//! Manage mode's policy routing, as Android's netd does it: a routing table per
//! network and rules in a priority band netcore owns.
//!
//! Each network's routes go to its own table ([`table_of`]); the default network's
//! routes also go to [`DEFAULT_TABLE`]. The rules, in the order the kernel tries
//! them:
//! 1. [`OIF_PRIORITY`]: a socket bound to a network's interface uses its table;
//! 2. [`MARK_PRIORITY`]: a socket marked with a network's mark ([`mark_of`]: its
//!    netId in the low 16 bits, the bits netcore owns) uses its table (bindSocket),
//!    and nothing else ([`MARK_UNREACHABLE_PRIORITY`]);
//! 3. [`APP_PRIORITY`]: the uid of an app bound with setAppNet uses its network's
//!    table, and nothing else ([`APP_UNREACHABLE_PRIORITY`]: an app bound to a
//!    network that went has no network rather than another one);
//! 4. [`VPN_PRIORITY`]: the uids a VPN covers (its allowed apps, or everyone but its
//!    disallowed apps, never its owner) use the VPN's table;
//! 5. [`LOCAL_PRIORITY`]: the main table without its default route, so that the
//!    host's directly connected subnets (and routes others added) stay reachable;
//! 6. [`DEFAULT_PRIORITY`]: everything else uses [`DEFAULT_TABLE`].
//!
//! The routing task keeps the kernel in step with the wanted state ([`Wanted`]), only
//! ever the latest: it adds what is new before it removes what is old (a binding that
//! moves never leaves an app without a rule), replaces routes in one step, and leaves
//! every rule and table outside netcore's band alone. On start it removes what a
//! killed netcored left in the band.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::sync::Arc;

use netcore::{AppId, ConnectionProperties, NetHandle};
use netcore_link::{IpFamily, LinkClient, LinkError, RouteSpec, Rule};
use tokio::sync::watch;

/// The rule priorities netcore owns.
pub const PRIORITIES: RangeInclusive<u32> = 12_000..=12_999;
/// Sockets bound to a network's interface.
pub const OIF_PRIORITY: u32 = 12_000;
/// Sockets marked for a network.
pub const MARK_PRIORITY: u32 = 12_100;
/// Sockets marked for a network its table has no route for.
pub const MARK_UNREACHABLE_PRIORITY: u32 = 12_150;
/// Apps bound to a network.
pub const APP_PRIORITY: u32 = 12_200;
/// Apps bound to a network its table has no route for (or that went).
pub const APP_UNREACHABLE_PRIORITY: u32 = 12_250;
/// Apps a VPN covers.
pub const VPN_PRIORITY: u32 = 12_300;
/// The main table without its default route.
pub const LOCAL_PRIORITY: u32 = 12_800;
/// Everything else: the default network.
pub const DEFAULT_PRIORITY: u32 = 12_900;

/// The routing tables netcore owns.
pub const TABLES: RangeInclusive<u32> = 1_000_000..=1_999_999;
/// The default network's table.
pub const DEFAULT_TABLE: u32 = 1_000_000;
/// The bits of a socket's mark that carry a netId.
pub const MARK_MASK: u32 = 0xffff;

/// The table of network `net`.
pub fn table_of(net: NetHandle) -> u32 {
    DEFAULT_TABLE + 1 + net.net_id() % (*TABLES.end() - DEFAULT_TABLE)
}

/// The socket mark that routes through network `net`.
pub fn mark_of(net: NetHandle) -> u32 {
    net.net_id() & MARK_MASK
}

/// A network as routing sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RoutedNetwork {
    /// Its interface and routes.
    pub(crate) properties: Arc<ConnectionProperties>,
    /// For a VPN: the uid ranges whose traffic it carries.
    pub(crate) vpn_uids: Option<Vec<(u32, u32)>>,
}

/// What the kernel's routing should be.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Wanted {
    pub(crate) networks: BTreeMap<NetHandle, RoutedNetwork>,
    pub(crate) default: NetHandle,
    pub(crate) app_nets: BTreeMap<AppId, NetHandle>,
    /// Counts the changes: the routing task says which it has applied.
    pub(crate) version: u64,
}

/// How long [`Settled::wait`] waits for the kernel.
const SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Tells when the kernel's routing is what was wanted.
#[derive(Debug, Clone)]
pub(crate) struct Settled {
    wanted: watch::Receiver<Wanted>,
    applied: watch::Receiver<u64>,
}

impl Settled {
    /// Waits until the routing task has applied what is wanted now (at most 2 s: a
    /// kernel that does not answer must not hang the caller).
    pub(crate) async fn wait(&self) {
        let target = self.wanted.borrow().version;
        let mut applied = self.applied.clone();
        let wait = applied.wait_for(|&version| version >= target);
        if tokio::time::timeout(SETTLE_LIMIT, wait).await.is_err() {
            tracing::warn!("manage mode: the routing is behind");
        }
    }
}

/// A route of the plan, by what identifies it in the kernel.
type RouteKey = (u32, IpAddr, u8);

/// The rules and routes that make [`Wanted`] true.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    pub(crate) rules: BTreeSet<RuleKey>,
    pub(crate) routes: BTreeMap<RouteKey, RouteSpec>,
}

/// What a rule does with what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// Looks up a table.
    Table(u32),
    /// Looks up the main table, ignoring its default route.
    MainWithoutDefault,
    /// Answers "network unreachable".
    Unreachable,
}

/// A rule, ordered (for sets).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RuleKey {
    priority: u32,
    v6: bool,
    target: Target,
    uids: Option<(u32, u32)>,
    mark: Option<u32>,
    oif: Option<String>,
}

impl RuleKey {
    fn rule(&self) -> Rule {
        let family = if self.v6 { IpFamily::V6 } else { IpFamily::V4 };
        let mut rule = match self.target {
            Target::Table(table) => Rule::new(family, self.priority, table),
            Target::MainWithoutDefault => {
                Rule::new(family, self.priority, MAIN_TABLE).with_suppress_prefix_length(0)
            }
            Target::Unreachable => Rule::unreachable(family, self.priority),
        };
        if let Some((start, end)) = self.uids {
            rule = rule.with_uid_range(start, end);
        }
        if let Some(mark) = self.mark {
            rule = rule.with_fwmark(mark, MARK_MASK);
        }
        if let Some(oif) = &self.oif {
            rule = rule.with_output_interface(oif);
        }
        rule
    }
}

/// Rules of both families.
fn both(key: RuleKey) -> [RuleKey; 2] {
    [
        RuleKey {
            v6: false,
            ..key.clone()
        },
        RuleKey { v6: true, ..key },
    ]
}

/// The kernel's main table.
const MAIN_TABLE: u32 = 254;

fn rule(priority: u32, target: Target) -> RuleKey {
    RuleKey {
        priority,
        v6: false,
        target,
        uids: None,
        mark: None,
        oif: None,
    }
}

/// The routes of `properties` in `table`.
fn routes_in(table: u32, properties: &ConnectionProperties) -> Vec<RouteSpec> {
    properties
        .routes
        .iter()
        .map(|route| {
            let interface = if route.interface.is_empty() {
                &properties.interface_name
            } else {
                &route.interface
            };
            let mut spec = RouteSpec::new(
                interface,
                route.destination.address().ip(),
                route.destination.prefix_length(),
            )
            .in_table(table);
            if route.has_gateway {
                spec = spec.via(route.gateway.ip());
            }
            spec
        })
        .collect()
}

/// The rules and routes of `wanted`.
pub(crate) fn plan(wanted: &Wanted) -> Plan {
    let mut plan = Plan::default();
    let add_routes = |plan: &mut Plan, table: u32, properties: &ConnectionProperties| {
        for spec in routes_in(table, properties) {
            plan.routes
                .insert((spec.table, spec.destination, spec.prefix_len), spec);
        }
    };
    for (&net, network) in &wanted.networks {
        let table = Target::Table(table_of(net));
        add_routes(&mut plan, table_of(net), &network.properties);
        let oif = Some(network.properties.interface_name.clone());
        plan.rules.extend(both(RuleKey {
            oif,
            ..rule(OIF_PRIORITY, table)
        }));
        let mark = Some(mark_of(net));
        plan.rules.extend(both(RuleKey {
            mark,
            ..rule(MARK_PRIORITY, table)
        }));
        plan.rules.extend(both(RuleKey {
            mark,
            ..rule(MARK_UNREACHABLE_PRIORITY, Target::Unreachable)
        }));
        for &range in network.vpn_uids.iter().flatten() {
            let uids = Some(range);
            plan.rules.extend(both(RuleKey {
                uids,
                ..rule(VPN_PRIORITY, table)
            }));
        }
    }
    if let Some(default) = wanted.networks.get(&wanted.default) {
        add_routes(&mut plan, DEFAULT_TABLE, &default.properties);
    }
    for (app, net) in &wanted.app_nets {
        let uids = Some((app.uid(), app.uid()));
        if wanted.networks.contains_key(net) {
            let table = Target::Table(table_of(*net));
            plan.rules.extend(both(RuleKey {
                uids,
                ..rule(APP_PRIORITY, table)
            }));
        }
        plan.rules.extend(both(RuleKey {
            uids,
            ..rule(APP_UNREACHABLE_PRIORITY, Target::Unreachable)
        }));
    }
    plan.rules
        .extend(both(rule(LOCAL_PRIORITY, Target::MainWithoutDefault)));
    plan.rules
        .extend(both(rule(DEFAULT_PRIORITY, Target::Table(DEFAULT_TABLE))));
    plan
}

/// The uid ranges a VPN covers: `only` when it lists its allowed apps, else every uid
/// but `except`; never `owner`.
pub(crate) fn vpn_uid_ranges(only: Option<&[u32]>, except: &[u32], owner: u32) -> Vec<(u32, u32)> {
    let covered: BTreeSet<u32> = match only {
        Some(only) => only.iter().copied().filter(|&u| u != owner).collect(),
        None => BTreeSet::new(),
    };
    if only.is_some() {
        // Consecutive uids make one range.
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for uid in covered {
            match ranges.last_mut() {
                Some((_, end)) if end.checked_add(1) == Some(uid) => *end = uid,
                _ => ranges.push((uid, uid)),
            }
        }
        return ranges;
    }
    let holes: BTreeSet<u32> = except.iter().copied().chain([owner]).collect();
    let mut ranges = Vec::new();
    let mut start = 0u32;
    for hole in holes {
        if hole > start {
            ranges.push((start, hole - 1));
        }
        match hole.checked_add(1) {
            Some(next) => start = next,
            None => return ranges,
        }
    }
    // The highest uid (u32::MAX) is "no uid": the ranges end below it.
    if start < u32::MAX {
        ranges.push((start, u32::MAX - 1));
    }
    ranges
}

/// What the routing task installed.
#[derive(Default)]
struct Installed {
    rules: BTreeSet<RuleKey>,
    routes: BTreeMap<RouteKey, RouteSpec>,
}

/// Starts the routing task; send it the wanted state each time it changes (only the
/// latest matters, with its version counted up). Dropping the sender makes it remove
/// what it installed and end.
pub(crate) fn spawn(
    runtime: &tokio::runtime::Handle,
) -> (watch::Sender<Wanted>, Settled, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(Wanted::default());
    let (applied_tx, applied) = watch::channel(0);
    let settled = Settled {
        wanted: rx.clone(),
        applied,
    };
    (tx, settled, runtime.spawn(run(rx, applied_tx)))
}

async fn run(mut wanted: watch::Receiver<Wanted>, applied: watch::Sender<u64>) {
    let client = match LinkClient::connect() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("manage mode: cannot reach the kernel: {e}");
            return;
        }
    };
    remove_stale(&client).await;
    let mut installed = Installed::default();
    loop {
        let (plan, version) = {
            let wanted = wanted.borrow_and_update();
            (plan(&wanted), wanted.version)
        };
        apply(&client, &mut installed, plan).await;
        applied.send_replace(version);
        if wanted.changed().await.is_err() {
            break;
        }
    }
    // The runtime stopped: leave nothing behind.
    apply(&client, &mut installed, Plan::default()).await;
}

/// Removes every rule in netcore's priority band and every route in its tables.
pub(crate) async fn remove_stale(client: &LinkClient) {
    match client.rules().await {
        Ok(rules) => {
            for rule in rules.iter().filter(|r| PRIORITIES.contains(&r.priority)) {
                if let Err(e) = client.remove_rule(rule).await {
                    tracing::warn!(?rule, "manage mode: a stale rule stays: {e}");
                }
            }
        }
        Err(e) => tracing::warn!("manage mode: cannot list rules: {e}"),
    }
    match client.routes().await {
        Ok(routes) => {
            for route in routes.iter().filter(|r| TABLES.contains(&r.table)) {
                if let Err(e) = client
                    .remove_route_in(route.table, route.destination, route.prefix_len)
                    .await
                {
                    tracing::debug!(?route, "manage mode: a stale route: {e}");
                }
            }
        }
        Err(e) => tracing::warn!("manage mode: cannot list routes: {e}"),
    }
}

/// Brings the kernel from `installed` to `plan`: new rules and routes first, then
/// the old ones go.
async fn apply(client: &LinkClient, installed: &mut Installed, plan: Plan) {
    for (key, spec) in &plan.routes {
        if installed.routes.get(key) == Some(spec) {
            continue;
        }
        match client.replace_route(spec).await {
            Ok(()) => {
                installed.routes.insert(*key, spec.clone());
            }
            Err(e) => tracing::debug!(?spec, "manage mode: a route could not be installed: {e}"),
        }
    }
    for key in &plan.rules {
        if installed.rules.contains(key) {
            continue;
        }
        match client.add_rule(&key.rule()).await {
            Ok(()) => {
                installed.rules.insert(key.clone());
            }
            Err(e) => tracing::warn!(rule = ?key, "manage mode: a rule could not be added: {e}"),
        }
    }
    let stale_rules: Vec<RuleKey> = installed
        .rules
        .iter()
        .filter(|key| !plan.rules.contains(key))
        .cloned()
        .collect();
    for key in stale_rules {
        if let Err(e) = client.remove_rule(&key.rule()).await {
            tracing::debug!(rule = ?key, "manage mode: an old rule: {e}");
        }
        installed.rules.remove(&key);
    }
    let stale_routes: Vec<RouteKey> = installed
        .routes
        .keys()
        .filter(|key| !plan.routes.contains_key(key))
        .cloned()
        .collect();
    for key in stale_routes {
        match client.remove_route_in(key.0, key.1, key.2).await {
            Ok(()) | Err(LinkError::NoSuchLink(_)) => {}
            Err(e) => tracing::debug!(route = ?key, "manage mode: an old route: {e}"),
        }
        installed.routes.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use netcore::{LinkAddress, RouteInfo};

    use super::*;

    fn net(id: i64) -> NetHandle {
        NetHandle::new(id).unwrap()
    }

    fn network(interface: &str, gateway: &str) -> RoutedNetwork {
        let any = LinkAddress::new("0.0.0.0".parse().unwrap(), 0).unwrap();
        let subnet = LinkAddress::new(gateway.parse().unwrap(), 24).unwrap();
        RoutedNetwork {
            properties: Arc::new(ConnectionProperties {
                interface_name: interface.into(),
                routes: vec![
                    RouteInfo::new(interface, subnet, None),
                    RouteInfo::new(interface, any, Some(gateway.parse().unwrap())),
                ],
                ..ConnectionProperties::default()
            }),
            vpn_uids: None,
        }
    }

    fn describe(plan: &Plan) -> Vec<String> {
        plan.rules
            .iter()
            .filter(|r| !r.v6)
            .map(|r| {
                format!(
                    "{} {:?} uids {:?} mark {:?} oif {:?}",
                    r.priority, r.target, r.uids, r.mark, r.oif
                )
            })
            .collect()
    }

    #[test]
    fn tables_rules_and_the_default_copy() {
        let mut wanted = Wanted::default();
        wanted
            .networks
            .insert(net(100), network("eth0", "192.0.2.1"));
        wanted
            .networks
            .insert(net(101), network("wlan0", "198.51.100.1"));
        wanted.default = net(100);
        wanted.app_nets.insert(AppId::from_uid(10_001), net(101));
        // An app bound to a network that went has no network.
        wanted.app_nets.insert(AppId::from_uid(10_002), net(999));
        let plan = plan(&wanted);
        assert_eq!(
            describe(&plan),
            [
                "12000 Table(1000101) uids None mark None oif Some(\"eth0\")",
                "12000 Table(1000102) uids None mark None oif Some(\"wlan0\")",
                "12100 Table(1000101) uids None mark Some(100) oif None",
                "12100 Table(1000102) uids None mark Some(101) oif None",
                "12150 Unreachable uids None mark Some(100) oif None",
                "12150 Unreachable uids None mark Some(101) oif None",
                "12200 Table(1000102) uids Some((10001, 10001)) mark None oif None",
                "12250 Unreachable uids Some((10001, 10001)) mark None oif None",
                "12250 Unreachable uids Some((10002, 10002)) mark None oif None",
                "12800 MainWithoutDefault uids None mark None oif None",
                "12900 Table(1000000) uids None mark None oif None",
            ]
        );
        assert_eq!(plan.rules.len(), 22, "both families");
        let tables: BTreeSet<u32> = plan.routes.values().map(|r| r.table).collect();
        assert_eq!(
            tables,
            [DEFAULT_TABLE, table_of(net(100)), table_of(net(101))].into()
        );
        let default_gateway = plan
            .routes
            .values()
            .find(|r| r.table == DEFAULT_TABLE && r.prefix_len == 0)
            .and_then(|r| r.gateway);
        assert_eq!(default_gateway, Some("192.0.2.1".parse().unwrap()));
        // Switching the default changes only the default table's routes.
        wanted.default = net(101);
        let switched = super::plan(&wanted);
        assert_eq!(switched.rules, plan.rules);
        assert_ne!(switched.routes, plan.routes);
    }

    #[test]
    fn a_vpn_covers_its_uids_and_never_its_owner() {
        assert_eq!(
            vpn_uid_ranges(Some(&[10_001, 10_002, 10_005, 4_000]), &[], 4_000),
            [(10_001, 10_002), (10_005, 10_005)]
        );
        assert_eq!(
            vpn_uid_ranges(None, &[10_005], 4_000),
            [(0, 3_999), (4_001, 10_004), (10_006, u32::MAX - 1)]
        );
        assert_eq!(vpn_uid_ranges(None, &[], 0), [(1, u32::MAX - 1)]);
        let mut wanted = Wanted::default();
        let mut vpn = network("tun0", "10.8.0.1");
        vpn.vpn_uids = Some(vec![(10_001, 10_001)]);
        wanted.networks.insert(net(105), vpn);
        let rules = describe(&plan(&wanted));
        let covered = "12300 Table(1000106) uids Some((10001, 10001)) mark None oif None";
        assert!(rules.contains(&covered.to_owned()), "{rules:?}");
    }
}
