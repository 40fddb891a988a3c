//! [`DnsService`]: per-network resolvers, per-app rules, the cache and coalescing.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::{BoxFuture, FutureExt, Shared};
use hickory_net::{DnsError, NetError};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_resolver::Resolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use netcore::{
    AppId, ConnectionProperties, Error, FamilyType, NetAddress, NetHandle, QueryOptions, Resolve,
    ResolveFailure, Result,
};
use tracing::{debug, info, warn};

use crate::bind::{BoundRuntime, probe_binding};
use crate::clock::{Clock, SystemClock};
use crate::idn::lookup_form;
use crate::rules::RuleTable;

/// The most records of one answer the stub passes on.
const MAX_FORWARDED_RECORDS: usize = 256;

/// The standard DNS port, used for a server whose port is 0.
const DNS_PORT: u16 = 53;

/// Tunables of a [`DnsService`]. `Default` gives values fit for a device.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DnsConfig {
    /// How long to wait for one server's answer before trying again or giving up.
    pub timeout: Duration,
    /// How many times a query is retried after a failure.
    pub attempts: usize,
    /// The most answers kept in the cache (positive and negative, all networks).
    pub cache_capacity: usize,
    /// The longest time a positive answer is cached, whatever its TTL.
    pub max_positive_ttl: Duration,
    /// The longest time a negative answer (NXDOMAIN, no records) is cached, whatever
    /// its SOA says. A negative answer without an SOA is not cached (RFC 2308).
    pub max_negative_ttl: Duration,
    /// The most addresses of one family kept from one answer (the rest are dropped:
    /// a reply is untrusted input).
    pub max_addresses: usize,
    /// The most DNS servers used per network (the first ones listed).
    pub max_servers: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            attempts: 2,
            cache_capacity: 4096,
            max_positive_ttl: Duration::from_secs(24 * 3600),
            max_negative_ttl: Duration::from_secs(3600),
            max_addresses: 64,
            max_servers: 8,
        }
    }
}

/// The outcome of one upstream query, shared by all the lookups waiting for it.
type Outcome = std::result::Result<Arc<[IpAddr]>, Failure>;
type SharedLookup = Shared<BoxFuture<'static, Outcome>>;

/// Why a query failed, before it becomes an [`Error`] naming the host.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    Resolve(ResolveFailure),
    Internal(String),
}

impl Failure {
    fn into_error(self, host: &str) -> Error {
        match self {
            Failure::Resolve(failure) => Error::Resolve {
                host: host.to_owned(),
                failure,
            },
            Failure::Internal(detail) => Error::Internal(format!("resolving {host:?}: {detail}")),
        }
    }
}

/// One record type asked of one network's servers (at one generation of them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct QueryKey {
    net: NetHandle,
    generation: u64,
    name: String,
    ipv6: bool,
}

#[derive(Debug)]
struct CacheEntry {
    outcome: Outcome,
    expires_at: Duration,
}

/// How a network's queries go out.
enum Upstream {
    Ready(Arc<Resolvers>),
    /// The network has no DNS servers.
    NoServers,
    /// The network's queries cannot be sent (binding refused, bad configuration).
    Unusable(String),
}

/// A network's resolvers: one over all its servers, and, when it has several, one
/// per server to ask in turn after a SERVFAIL (hickory's pool takes a SERVFAIL as
/// final, glibc tries the next server).
struct Resolvers {
    all: Resolver<BoundRuntime>,
    each: Vec<Resolver<BoundRuntime>>,
}

struct Network {
    servers: Vec<SocketAddr>,
    interface: String,
    /// Search domains (lookup form), tried for single-label names.
    search: Arc<[String]>,
    generation: u64,
    upstream: Upstream,
}

#[derive(Default)]
struct State {
    networks: HashMap<NetHandle, Network>,
    default_net: NetHandle,
    app_nets: HashMap<AppId, NetHandle>,
    rules: RuleTable,
    cache: HashMap<QueryKey, CacheEntry>,
    inflight: HashMap<QueryKey, SharedLookup>,
    next_generation: u64,
}

impl State {
    /// The network given explicitly (not [`NetHandle::NONE`]), and the network a
    /// lookup uses: the explicit one, else `app`'s bound network, else the default.
    fn choose_network(
        &self,
        app: Option<AppId>,
        net: Option<NetHandle>,
    ) -> (Option<NetHandle>, NetHandle) {
        let explicit = net.filter(|n| !n.is_none());
        let chosen = explicit
            .or_else(|| app.and_then(|a| self.app_nets.get(&a).copied()))
            .unwrap_or(self.default_net);
        (explicit, chosen)
    }
}

struct Inner {
    config: DnsConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

/// The DNS service of one process: a resolver per network, custom rules per app, a
/// TTL cache per network and coalescing of identical concurrent lookups.
///
/// The owner tells it which networks exist ([`set_network`](Self::set_network),
/// [`remove_network`](Self::remove_network)), which is the default
/// ([`set_default_network`](Self::set_default_network)) and which network an app is
/// bound to ([`set_app_network`](Self::set_app_network)). Cloning is cheap and clones
/// share everything. Lookups need a tokio runtime.
#[derive(Clone)]
pub struct DnsService {
    inner: Arc<Inner>,
}

impl fmt::Debug for DnsService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsService")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Default for DnsService {
    fn default() -> Self {
        Self::new(DnsConfig::default())
    }
}

/// A family-filtered copy of `ips`.
fn filter_family(ips: &[IpAddr], family: FamilyType) -> Vec<IpAddr> {
    ips.iter()
        .copied()
        .filter(|ip| match family {
            FamilyType::All => true,
            FamilyType::Ipv4 => ip.is_ipv4(),
            FamilyType::Ipv6 => ip.is_ipv6(),
        })
        .collect()
}

/// What a lookup does after looking at rules, cache and in-flight queries.
enum Pending {
    Ready(Outcome),
    Wait(SharedLookup),
}

enum Plan {
    Answered(Vec<IpAddr>),
    Query(Vec<Pending>),
}

impl DnsService {
    /// A service with no network, using the system's monotonic clock.
    pub fn new(config: DnsConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock::new()))
    }

    /// A service whose cache reads time from `clock` (tests inject a
    /// [`crate::ManualClock`]).
    pub fn with_clock(config: DnsConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                clock,
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state()
    }

    /// Adds network `net` or updates its properties. Its resolver uses
    /// `properties.dnses` (port 0 meaning 53) over sockets bound to
    /// `properties.interface_name`, with `properties.domains` (comma separated) as
    /// search domains. When the servers, the interface or the search domains change,
    /// the network's cache is flushed; otherwise nothing changes.
    ///
    /// When binding to the interface is not permitted (before Linux 5.7 it needs
    /// `CAP_NET_RAW`) or the interface does not exist, the network is kept but its
    /// lookups fail with [`Error::Internal`] (2100003) saying so; nothing is sent
    /// unbound. Only an empty interface name means unbound sockets, with a logged
    /// warning.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] (2100001) for [`NetHandle::NONE`].
    pub fn set_network(&self, net: NetHandle, properties: &ConnectionProperties) -> Result<()> {
        if net.is_none() {
            return Err(Error::invalid("netId 0 is not a network"));
        }
        let mut servers: Vec<SocketAddr> = Vec::new();
        for dns in &properties.dnses {
            let port = if dns.port() == 0 {
                DNS_PORT
            } else {
                dns.port()
            };
            let server = SocketAddr::new(dns.ip(), port);
            if !servers.contains(&server) && servers.len() < self.inner.config.max_servers {
                servers.push(server);
            }
        }
        let interface = properties.interface_name.clone();
        let search = parse_search_domains(net, &properties.domains);
        {
            let mut state = self.state();
            if let Some(old) = state.networks.get_mut(&net)
                && old.servers == servers
                && old.interface == interface
            {
                if *old.search != *search {
                    old.search = search;
                    state.cache.retain(|key, _| key.net != net);
                }
                return Ok(());
            }
        }
        // Built outside the lock: probing the interface makes a system call.
        let upstream = build_upstream(net, &servers, &interface, &self.inner.config);
        let mut state = self.state();
        state.next_generation += 1;
        let generation = state.next_generation;
        state.cache.retain(|key, _| key.net != net);
        info!(%net, ?servers, interface, "DNS servers of network set");
        state.networks.insert(
            net,
            Network {
                servers,
                interface,
                search,
                generation,
                upstream,
            },
        );
        Ok(())
    }

    /// Forgets network `net`: its resolver, and its cache. Lookups on it afterwards
    /// fail; queries in flight complete but are not cached.
    pub fn remove_network(&self, net: NetHandle) {
        let mut state = self.state();
        if state.networks.remove(&net).is_some() {
            info!(%net, "network removed from DNS");
        }
        state.cache.retain(|key, _| key.net != net);
    }

    /// Sets the default network ([`NetHandle::NONE`]: none).
    pub fn set_default_network(&self, net: NetHandle) {
        self.state().default_net = net;
    }

    /// The default network ([`NetHandle::NONE`] when there is none).
    pub fn default_network(&self) -> NetHandle {
        self.state().default_net
    }

    /// Binds `app`'s lookups without an explicit network to `net`
    /// ([`NetHandle::NONE`]: unbinds, back to the default network).
    pub fn set_app_network(&self, app: AppId, net: NetHandle) {
        let mut state = self.state();
        if net.is_none() {
            state.app_nets.remove(&app);
        } else {
            state.app_nets.insert(app, net);
        }
    }

    /// Drops the cached answers of `net`, or of every network when `None`.
    pub fn flush_cache(&self, net: Option<NetHandle>) {
        let mut state = self.state();
        match net {
            Some(net) => state.cache.retain(|key, _| key.net != net),
            None => state.cache.clear(),
        }
    }

    /// Adds a custom DNS rule for `app` (seed `addCustomDnsRule`): lookups of `host`
    /// by this app return `ips`, without asking any server, on every network. A rule
    /// for the same host replaces the previous one. Other apps never see it.
    ///
    /// # Errors
    /// [`Error::Parameter`] (401) for an empty host or an empty address list;
    /// [`Error::InvalidValue`] (2100001) for an invalid host name, an address that is
    /// not an IP address, more than [`crate::MAX_ADDRESSES_PER_RULE`] addresses or
    /// more than [`crate::MAX_RULES_PER_APP`] rules.
    pub fn add_custom_dns_rule<S: AsRef<str>>(
        &self,
        app: AppId,
        host: &str,
        ips: &[S],
    ) -> Result<()> {
        let (key, ips) = RuleTable::parse(host, ips)?;
        debug!(%app, host = key, ?ips, "custom DNS rule added");
        self.state().rules.insert(app, key, ips)
    }

    /// Removes `app`'s custom DNS rule for `host` (seed `removeCustomDnsRule`).
    /// Removing a rule that does not exist succeeds.
    ///
    /// # Errors
    /// [`Error::Parameter`] (401) for an empty host; [`Error::InvalidValue`]
    /// (2100001) for an invalid host name.
    pub fn remove_custom_dns_rule(&self, app: AppId, host: &str) -> Result<()> {
        if host.trim().is_empty() {
            return Err(Error::Parameter(
                "the host of a custom DNS rule is empty".into(),
            ));
        }
        let key = lookup_form(host)?;
        let removed = self.state().rules.remove(app, &key);
        debug!(%app, host = key, removed, "custom DNS rule removed");
        Ok(())
    }

    /// Removes all of `app`'s custom DNS rules (seed `clearCustomDnsRules`).
    pub fn clear_custom_dns_rules(&self, app: AppId) {
        self.state().rules.clear(app);
        debug!(%app, "custom DNS rules cleared");
    }

    /// The addresses of `host` for `app` (seed `getAddressesByName`,
    /// `getAddressesByNameWithOptions` and their `NetHandle` forms), each with port 0.
    ///
    /// `app`'s custom rules answer first. Otherwise the lookup goes to `net`'s
    /// servers when given (and not [`NetHandle::NONE`]), else to the network `app` is
    /// bound to, else to the default network. A single-label name without a
    /// trailing dot is tried with the network's search domains
    /// (`ConnectionProperties::domains`) first, then as given. With
    /// [`FamilyType::All`], IPv4 addresses come before IPv6 ones. An IP literal is
    /// returned as it is.
    ///
    /// # Errors
    /// - [`Error::InvalidValue`] (2100001): `host` is not a valid name (nothing is
    ///   sent), or `net` names no known network;
    /// - [`Error::Resolve`] (2100003) with [`ResolveFailure::NotFound`],
    ///   [`ResolveFailure::Timeout`], [`ResolveFailure::ServerFailure`] or
    ///   [`ResolveFailure::NoNetwork`];
    /// - [`Error::Internal`] (2100003): the network's queries cannot be sent (for
    ///   example binding to its interface is not permitted).
    pub async fn get_addresses_by_name(
        &self,
        app: AppId,
        net: Option<NetHandle>,
        host: &str,
        options: QueryOptions,
    ) -> Result<Vec<NetAddress>> {
        let ips = self.lookup(Some(app), net, host, options.family).await?;
        Ok(ips.into_iter().map(|ip| NetAddress::new(ip, 0)).collect())
    }

    /// The first address of `host` for `app` (seed `NetHandle.getAddressByName`),
    /// with port 0: the first of [`get_addresses_by_name`](Self::get_addresses_by_name)
    /// with [`FamilyType::All`].
    ///
    /// # Errors
    /// As [`get_addresses_by_name`](Self::get_addresses_by_name).
    pub async fn get_address_by_name(
        &self,
        app: AppId,
        net: Option<NetHandle>,
        host: &str,
    ) -> Result<NetAddress> {
        let ips = self.lookup(Some(app), net, host, FamilyType::All).await?;
        ips.first()
            .map(|ip| NetAddress::new(*ip, 0))
            .ok_or_else(|| Failure::Resolve(ResolveFailure::NotFound).into_error(host))
    }

    /// Looks `host` up; `app` is `None` for lookups on behalf of the system, which no
    /// custom rule answers.
    pub(crate) async fn lookup(
        &self,
        app: Option<AppId>,
        net: Option<NetHandle>,
        host: &str,
        family: FamilyType,
    ) -> Result<Vec<IpAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            let ips = filter_family(&[ip], family);
            if ips.is_empty() {
                return Err(Failure::Resolve(ResolveFailure::NotFound).into_error(host));
            }
            return Ok(ips);
        }
        let name = lookup_form(host)?;
        // A single-label name that is not absolute is tried with the network's search
        // domains first (as getaddrinfo does with ndots 1); the app's rule for the name
        // as given still answers before anything else.
        if !host.ends_with('.') && !name.contains('.') {
            let domains = self.search_domains(app, net);
            if !domains.is_empty() {
                if let Some(app) = app
                    && let Some(ips) = self.state().rules.get(app, &name)
                {
                    let ips = filter_family(&ips, family);
                    if ips.is_empty() {
                        return Err(Failure::Resolve(ResolveFailure::NotFound).into_error(host));
                    }
                    return Ok(ips);
                }
                for domain in domains.iter() {
                    let candidate = format!("{name}.{domain}");
                    if candidate.len() > crate::MAX_NAME_LEN {
                        continue;
                    }
                    match self
                        .lookup_name(app, net, (host, &candidate), family, false)
                        .await
                    {
                        Err(Error::Resolve {
                            failure: ResolveFailure::NotFound,
                            ..
                        }) => continue,
                        Err(Error::Resolve { failure, .. }) => {
                            return Err(Failure::Resolve(failure).into_error(host));
                        }
                        other => return other,
                    }
                }
            }
        }
        self.lookup_name(app, net, (host, &name), family, true)
            .await
    }

    /// Looks up `name` (in lookup form) for `host` (named in errors); `use_rules`:
    /// whether `app`'s rules apply.
    async fn lookup_name(
        &self,
        app: Option<AppId>,
        net: Option<NetHandle>,
        (host, name): (&str, &str),
        family: FamilyType,
        use_rules: bool,
    ) -> Result<Vec<IpAddr>> {
        let pending = match self.plan(app, net, name, family, use_rules)? {
            Plan::Answered(ips) => return Ok(ips),
            Plan::Query(pending) => pending,
        };
        // Answered from the cache: no future to wait for.
        if pending.iter().all(|p| matches!(p, Pending::Ready(_))) {
            let outcomes = pending.into_iter().filter_map(|p| match p {
                Pending::Ready(outcome) => Some(outcome),
                Pending::Wait(_) => None,
            });
            return combine(outcomes).map_err(|f| f.into_error(host));
        }
        let outcomes = futures::future::join_all(pending.into_iter().map(|p| async move {
            match p {
                Pending::Ready(outcome) => outcome,
                Pending::Wait(shared) => shared.await,
            }
        }))
        .await;
        combine(outcomes).map_err(|f| f.into_error(host))
    }

    /// Under the lock: answers from a rule or the cache, joins queries in flight and
    /// starts the missing ones.
    fn plan(
        &self,
        app: Option<AppId>,
        net: Option<NetHandle>,
        name: &str,
        family: FamilyType,
        use_rules: bool,
    ) -> Result<Plan> {
        let no_network = || Error::Resolve {
            host: name.to_owned(),
            failure: ResolveFailure::NoNetwork,
        };
        let mut state = self.state();
        if use_rules
            && let Some(app) = app
            && let Some(ips) = state.rules.get(app, name)
        {
            let ips = filter_family(&ips, family);
            if ips.is_empty() {
                return Err(Failure::Resolve(ResolveFailure::NotFound).into_error(name));
            }
            return Ok(Plan::Answered(ips));
        }
        let (explicit, chosen) = state.choose_network(app, net);
        if chosen.is_none() {
            return Err(no_network());
        }
        let Some(network) = state.networks.get(&chosen) else {
            return Err(match explicit {
                Some(n) => Error::invalid(format!("netId {n} is not a network")),
                None => no_network(),
            });
        };
        let resolver = match &network.upstream {
            Upstream::Ready(resolver) => resolver.clone(),
            Upstream::NoServers => return Err(no_network()),
            Upstream::Unusable(why) => {
                return Err(Failure::Internal(why.clone()).into_error(name));
            }
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Internal(
                "DNS lookups need a tokio runtime, and none is running".into(),
            ));
        }
        let generation = network.generation;
        let kinds: &[bool] = match family {
            FamilyType::All => &[false, true],
            FamilyType::Ipv4 => &[false],
            FamilyType::Ipv6 => &[true],
        };
        let now = self.inner.clock.now();
        let mut pending = Vec::with_capacity(kinds.len());
        for &ipv6 in kinds {
            let key = QueryKey {
                net: chosen,
                generation,
                name: name.to_owned(),
                ipv6,
            };
            match state.cache.get(&key) {
                Some(entry) if entry.expires_at > now => {
                    pending.push(Pending::Ready(entry.outcome.clone()));
                    continue;
                }
                Some(_) => {
                    state.cache.remove(&key);
                }
                None => {}
            }
            if let Some(shared) = state.inflight.get(&key) {
                pending.push(Pending::Wait(shared.clone()));
                continue;
            }
            let shared = self.start_query(key.clone(), resolver.clone());
            state.inflight.insert(key, shared.clone());
            pending.push(Pending::Wait(shared));
        }
        Ok(Plan::Query(pending))
    }

    /// The records of `record_type` for `name` on the network `app` uses (the network
    /// it is bound to, else the default): what the stub asks for types other than A
    /// and AAAA. No custom rule applies and nothing is cached here. The error is the
    /// response code to answer with.
    pub(crate) async fn lookup_records(
        &self,
        app: Option<AppId>,
        name: Name,
        record_type: RecordType,
    ) -> std::result::Result<Vec<hickory_proto::rr::Record>, ResponseCode> {
        let resolvers = {
            let state = self.state();
            let (_, chosen) = state.choose_network(app, None);
            match state.networks.get(&chosen).map(|n| &n.upstream) {
                Some(Upstream::Ready(resolvers)) => Arc::clone(resolvers),
                _ => return Err(ResponseCode::ServFail),
            }
        };
        let config = &self.inner.config;
        let attempts = u32::try_from(config.attempts.saturating_add(1)).unwrap_or(u32::MAX);
        let deadline = config.timeout.saturating_mul(attempts);
        match tokio::time::timeout(deadline, resolvers.all.lookup(name, record_type)).await {
            Ok(Ok(lookup)) => Ok(lookup
                .answers()
                .iter()
                .take(MAX_FORWARDED_RECORDS)
                .cloned()
                .collect()),
            Ok(Err(NetError::Dns(DnsError::NoRecordsFound(no_records)))) => {
                match no_records.response_code {
                    ResponseCode::NoError => Ok(Vec::new()),
                    code => Err(code),
                }
            }
            Ok(Err(NetError::Dns(DnsError::ResponseCode(code)))) => Err(code),
            Ok(Err(_)) | Err(_) => Err(ResponseCode::ServFail),
        }
    }

    /// The search domains of the network a lookup by `app` on `net` would use.
    fn search_domains(&self, app: Option<AppId>, net: Option<NetHandle>) -> Arc<[String]> {
        let state = self.state();
        let (_, chosen) = state.choose_network(app, net);
        state
            .networks
            .get(&chosen)
            .map(|n| n.search.clone())
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// Starts the upstream query for `key` as a task of its own, so that it completes
    /// (and fills the cache) even when every waiting lookup is dropped.
    fn start_query(&self, key: QueryKey, resolver: Arc<Resolvers>) -> SharedLookup {
        let inner = self.inner.clone();
        let task_key = key.clone();
        let task = tokio::spawn(async move {
            let (outcome, ttl) = query_upstream(&resolver, &task_key, &inner.config).await;
            inner.finish(task_key, outcome.clone(), ttl);
            outcome
        });
        let inner = self.inner.clone();
        async move {
            match task.await {
                Ok(outcome) => outcome,
                Err(e) => {
                    // The task died before finishing: let the next lookup start anew.
                    inner.state().inflight.remove(&key);
                    Err(Failure::Internal(format!("the DNS query task failed: {e}")))
                }
            }
        }
        .boxed()
        .shared()
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements: a panic elsewhere does not
        // make it unusable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the outcome of the query for `key`: no longer in flight, and cached for
    /// `ttl` when the network still has the same servers.
    fn finish(&self, key: QueryKey, outcome: Outcome, ttl: Duration) {
        let now = self.clock.now();
        let mut state = self.state();
        state.inflight.remove(&key);
        let current = state
            .networks
            .get(&key.net)
            .is_some_and(|n| n.generation == key.generation);
        let cacheable = matches!(
            outcome,
            Ok(_) | Err(Failure::Resolve(ResolveFailure::NotFound))
        );
        if !current || !cacheable || ttl.is_zero() {
            return;
        }
        if state.cache.len() >= self.config.cache_capacity {
            state.cache.retain(|_, entry| entry.expires_at > now);
            if state.cache.len() >= self.config.cache_capacity {
                let victim = state
                    .cache
                    .iter()
                    .min_by_key(|(_, entry)| entry.expires_at)
                    .map(|(key, _)| key.clone());
                if let Some(victim) = victim {
                    state.cache.remove(&victim);
                }
            }
        }
        if self.config.cache_capacity > 0 {
            state.cache.insert(
                key,
                CacheEntry {
                    outcome,
                    expires_at: now + ttl,
                },
            );
        }
    }
}

/// Merges the outcomes of the A and AAAA queries of one lookup: the addresses of
/// both in order; when none, the most telling failure (a timeout or server failure
/// says more than "no such name" of the other family).
fn combine(
    outcomes: impl IntoIterator<Item = Outcome>,
) -> std::result::Result<Vec<IpAddr>, Failure> {
    let mut ips = Vec::new();
    let mut failure: Option<Failure> = None;
    for outcome in outcomes {
        match outcome {
            Ok(found) => ips.extend_from_slice(&found),
            Err(f) => {
                let replace = match &failure {
                    None => true,
                    Some(Failure::Resolve(ResolveFailure::NotFound)) => true,
                    Some(_) => false,
                };
                if replace {
                    failure = Some(f);
                }
            }
        }
    }
    if !ips.is_empty() {
        return Ok(ips);
    }
    Err(failure.unwrap_or(Failure::Resolve(ResolveFailure::NotFound)))
}

/// The most search domains used per network (as glibc).
const MAX_SEARCH_DOMAINS: usize = 6;

/// The search domains of a network from the seed's comma-separated `domains` (spaces
/// also separate); invalid ones are skipped with a warning.
fn parse_search_domains(net: NetHandle, domains: &str) -> Arc<[String]> {
    let mut parsed: Vec<String> = Vec::new();
    for domain in domains.split([',', ' ', '\t']).filter(|d| !d.is_empty()) {
        match lookup_form(domain) {
            Ok(domain) if !parsed.contains(&domain) && parsed.len() < MAX_SEARCH_DOMAINS => {
                parsed.push(domain)
            }
            Ok(_) => {}
            Err(e) => warn!(%net, error = %e, "search domain skipped"),
        }
    }
    parsed.into()
}

/// The resolver of a network with `servers`, bound to `interface`.
fn build_upstream(
    net: NetHandle,
    servers: &[SocketAddr],
    interface: &str,
    config: &DnsConfig,
) -> Upstream {
    if servers.is_empty() {
        return Upstream::NoServers;
    }
    if interface.is_empty() {
        warn!(%net, "network has no interface name: its DNS sockets are not bound to an interface");
    } else if let Err(why) = probe_binding(interface) {
        warn!(%net, interface, "{why}");
        return Upstream::Unusable(why);
    }
    let build = |servers: &[SocketAddr]| {
        let name_servers = servers
            .iter()
            .map(|server| {
                let mut ns = NameServerConfig::udp_and_tcp(server.ip());
                for connection in &mut ns.connections {
                    connection.port = server.port();
                }
                ns
            })
            .collect();
        let mut options = ResolverOpts::default();
        options.timeout = config.timeout;
        options.attempts = config.attempts;
        // Our own cache answers repeated lookups; hickory's would hide TTL expiry.
        options.cache_size = 0;
        options.use_hosts_file = ResolveHosts::Never;
        options.ndots = 0;
        Resolver::builder_with_config(
            ResolverConfig::from_name_servers(name_servers),
            BoundRuntime::new(interface),
        )
        .with_options(options)
        .build()
    };
    let resolvers = build(servers).and_then(|all| {
        let each = if servers.len() > 1 {
            servers
                .iter()
                .map(|server| build(std::slice::from_ref(server)))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok(Resolvers { all, each })
    });
    match resolvers {
        Ok(resolvers) => Upstream::Ready(Arc::new(resolvers)),
        Err(e) => {
            warn!(%net, error = %e, "cannot build the network's resolver");
            Upstream::Unusable(format!(
                "the resolver of network {net} cannot be built: {e}"
            ))
        }
    }
}

/// Asks the network's servers; the outcome and how long it may be cached.
async fn query_upstream(
    resolvers: &Resolvers,
    key: &QueryKey,
    config: &DnsConfig,
) -> (Outcome, Duration) {
    let record_type = if key.ipv6 {
        RecordType::AAAA
    } else {
        RecordType::A
    };
    let name = match Name::from_ascii(format!("{}.", key.name)) {
        Ok(name) => name,
        Err(e) => {
            return (
                Err(Failure::Internal(format!(
                    "{:?} is not a DNS name: {e}",
                    key.name
                ))),
                Duration::ZERO,
            );
        }
    };
    // hickory bounds each attempt; this bounds the whole query whatever happens.
    let attempts = u32::try_from(config.attempts.saturating_add(1)).unwrap_or(u32::MAX);
    let deadline = config
        .timeout
        .saturating_mul(attempts)
        .saturating_add(Duration::from_secs(1));
    let lookup = async |resolver: &Resolver<BoundRuntime>| match tokio::time::timeout(
        deadline,
        resolver.lookup(name.clone(), record_type),
    )
    .await
    {
        Ok(result) => Some(result),
        Err(_) => {
            debug!(name = key.name, "DNS query hit its overall deadline");
            None
        }
    };
    let mut result = lookup(&resolvers.all).await;
    for resolver in &resolvers.each {
        if !matches!(&result, Some(Err(e)) if is_server_failure(e)) {
            break;
        }
        debug!(
            name = key.name,
            "SERVFAIL: asking the network's servers one by one"
        );
        result = lookup(resolver).await;
    }
    let Some(result) = result else {
        return (
            Err(Failure::Resolve(ResolveFailure::Timeout)),
            Duration::ZERO,
        );
    };
    match result {
        Ok(lookup) => {
            let mut ips = Vec::new();
            let mut ttl = u32::MAX;
            for record in lookup.answers() {
                let ip = match &record.data {
                    RData::A(a) if !key.ipv6 => IpAddr::V4(a.0),
                    RData::AAAA(aaaa) if key.ipv6 => IpAddr::V6(aaaa.0),
                    RData::CNAME(_) => {
                        ttl = ttl.min(record.ttl);
                        continue;
                    }
                    _ => continue,
                };
                ttl = ttl.min(record.ttl);
                if ips.len() < config.max_addresses && !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
            if ips.is_empty() {
                // An answer without an address of the family: "no such name" for it,
                // not cached (there was no SOA to say for how long).
                return (
                    Err(Failure::Resolve(ResolveFailure::NotFound)),
                    Duration::ZERO,
                );
            }
            let ttl = Duration::from_secs(u64::from(ttl)).min(config.max_positive_ttl);
            (Ok(ips.into()), ttl)
        }
        Err(e) => {
            let (failure, negative_ttl) = classify(&e);
            debug!(name = key.name, ?record_type, error = %e, ?failure, "DNS query failed");
            let ttl = negative_ttl
                .map(|secs| Duration::from_secs(u64::from(secs)).min(config.max_negative_ttl))
                .unwrap_or(Duration::ZERO);
            (Err(Failure::Resolve(failure)), ttl)
        }
    }
}

/// Whether the server answered SERVFAIL.
fn is_server_failure(error: &NetError) -> bool {
    match error {
        NetError::Dns(DnsError::ResponseCode(code)) => *code == ResponseCode::ServFail,
        NetError::Dns(DnsError::NoRecordsFound(no_records)) => {
            no_records.response_code == ResponseCode::ServFail
        }
        _ => false,
    }
}

/// The kind of a hickory error, and the negative TTL when it is a cacheable "no such
/// name".
fn classify(error: &NetError) -> (ResolveFailure, Option<u32>) {
    if is_server_failure(error) {
        return (ResolveFailure::ServerFailure, None);
    }
    match error {
        NetError::Dns(DnsError::NoRecordsFound(no_records)) => {
            (ResolveFailure::NotFound, no_records.negative_ttl)
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => {
            (ResolveFailure::NotFound, None)
        }
        NetError::Timeout => (ResolveFailure::Timeout, None),
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            (ResolveFailure::Timeout, None)
        }
        _ => (ResolveFailure::ServerFailure, None),
    }
}

#[async_trait]
impl Resolve for DnsService {
    /// A lookup on behalf of the system: no app's custom rule answers it.
    async fn resolve(&self, net: NetHandle, host: &str, family: FamilyType) -> Result<Vec<IpAddr>> {
        self.lookup(None, Some(net), host, family).await
    }
}
