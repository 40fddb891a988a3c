//! [`Runtime`]: the engine, the subscribers its events go to, and the services the
//! connection API needs (DNS, proxies and PAC, diagnostics, VPNs).
//!
//! The engine sits behind a mutex held only for the microseconds an input takes.
//! Every input's outputs are dispatched before the lock is released: events into
//! each subscriber's bounded [`Subscription`] (so they keep the engine's order and a
//! slow subscriber never holds the engine up), actions into the driver's queue. No
//! socket is opened and no resolver built under the lock: the driver carries the
//! actions out after taking them.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use netcore::engine::{Action, BearerId, ConnectionId, Engine, NetworkSnapshot, Output};
use netcore::{
    AppId, Bearer, Error, FamilyType, NetAddress, NetBearType, NetHandle, NetSpecifier,
    QueryOptions, Resolve, Result,
};
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::driver::Driver;
use crate::queue::{Coalescing, Delivery, Merge, Publisher, Subscription, subscription};
use crate::reports::{ReportQueue, supervise};
use crate::validator::{NoValidator, ProbeValidator, Validator};

/// What an action is about: waiting actions about the same thing merge.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ActionKey {
    Network(NetHandle),
    Check(NetHandle),
    Default,
    App(AppId),
    Activate(BearerId, ConnectionId),
    Release(BearerId, NetHandle),
    /// An action this runtime does not know: never merged.
    Other(u64),
}

/// How an action meets a waiting one about the same thing. What follows a state
/// (a network's properties, the default network, an app's binding) takes the newest
/// state where the older one waited, so it is never later than before; a check,
/// activation or release moves to the back, after what it depends on.
fn merge_actions(waiting: &Action, new: Action) -> Merge<Action> {
    match (waiting, new) {
        (Action::NetworkUp { .. }, Action::NetworkChanged { net, properties }) => {
            Merge::InPlace(Action::NetworkUp { net, properties })
        }
        (Action::NetworkUp { .. }, Action::NetworkDown { .. }) => Merge::Cancel,
        (
            _,
            new @ (Action::NetworkUp { .. }
            | Action::NetworkChanged { .. }
            | Action::NetworkDown { .. }
            | Action::DefaultNetworkChanged { .. }
            | Action::AppNetworkChanged { .. }),
        ) => Merge::InPlace(new),
        (_, new) => Merge::ToBack(new),
    }
}

/// The engine, the subscribers its events go to and the actions it asked for.
pub(crate) struct Core {
    pub(crate) engine: Engine,
    subscribers: HashMap<ConnectionId, (AppId, Publisher)>,
    watchers: Vec<Publisher>,
    /// Actions waiting for the driver.
    pub(crate) actions: Coalescing<ActionKey, Action>,
    next_other: u64,
    /// The current run of each bearer; reports of older runs are dropped.
    pub(crate) generations: HashMap<BearerId, u64>,
}

impl Core {
    /// Delivers the engine's outputs: events to subscribers, actions to the driver's
    /// queue. A subscriber that overflows is closed and its request unregistered.
    pub(crate) fn dispatch(&mut self, wake: &Notify, progress: &Progress) {
        let mut overflowed = Vec::new();
        let mut acted = false;
        loop {
            let Core {
                engine,
                subscribers,
                watchers,
                actions,
                next_other,
                ..
            } = self;
            for output in engine.drain_outputs() {
                match output {
                    Output::Event { connection, event } => {
                        if let Some((_, publisher)) = subscribers.get(&connection)
                            && publisher.send(event) == Delivery::Overflowed
                        {
                            overflowed.push(connection);
                        }
                    }
                    Output::Observed(event) => {
                        watchers.retain(|w| w.send(event.clone()) == Delivery::Queued);
                    }
                    Output::Action(action) => {
                        let key = action_key(&action, next_other);
                        actions.push(key, action, merge_actions);
                        progress.queued.fetch_add(1, Ordering::SeqCst);
                        acted = true;
                    }
                    _ => {}
                }
            }
            if overflowed.is_empty() {
                break;
            }
            let now = Instant::now();
            for id in overflowed.drain(..) {
                if let Some((app, _)) = self.subscribers.remove(&id) {
                    tracing::warn!(%app, connection = id.0, "subscriber too far behind: disconnected");
                }
                let _ = self.engine.unregister(id, now);
            }
        }
        self.engine.observe_all(!self.watchers.is_empty());
        if acted {
            wake.notify_one();
        }
    }
}

fn action_key(action: &Action, next_other: &mut u64) -> ActionKey {
    match action {
        Action::NetworkUp { net, .. }
        | Action::NetworkChanged { net, .. }
        | Action::NetworkDown { net } => ActionKey::Network(*net),
        Action::StartValidation { net, .. } | Action::CancelValidation { net } => {
            ActionKey::Check(*net)
        }
        Action::DefaultNetworkChanged { .. } => ActionKey::Default,
        Action::AppNetworkChanged { app, .. } => ActionKey::App(*app),
        Action::Activate {
            bearer, request, ..
        } => ActionKey::Activate(*bearer, *request),
        Action::Release { bearer, net, .. } => ActionKey::Release(*bearer, *net),
        _ => {
            *next_other += 1;
            ActionKey::Other(*next_other)
        }
    }
}

/// The longest a lookup waits for the driver to catch up with the engine.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(2);

/// How far the driver is with the actions: lookups wait until it has carried out
/// every action queued before them, so that they see the networks, default network
/// and app bindings the engine has.
#[derive(Debug)]
pub(crate) struct Progress {
    /// How many actions were queued (merged ones too); counted under the engine lock.
    pub(crate) queued: AtomicU64,
    /// How many of them the driver has carried out.
    applied: watch::Sender<u64>,
}

impl Progress {
    fn new() -> Self {
        Self {
            queued: AtomicU64::new(0),
            applied: watch::Sender::new(0),
        }
    }

    /// The driver carried out the actions up to `queued`.
    pub(crate) fn applied(&self, queued: u64) {
        self.applied.send_if_modified(|done| {
            let advanced = queued > *done;
            *done = (*done).max(queued);
            advanced
        });
    }

    /// Waits until the driver has carried out what is queued now (at most
    /// [`CATCH_UP_LIMIT`]: a driver that is stuck must not hang every lookup).
    async fn caught_up(&self) {
        let queued = self.queued.load(Ordering::SeqCst);
        let mut applied = self.applied.subscribe();
        let wait = applied.wait_for(|&done| done >= queued);
        if tokio::time::timeout(CATCH_UP_LIMIT, wait).await.is_err() {
            tracing::warn!("the driver is behind the engine: looking up without it");
        }
    }
}

pub(crate) struct Shared {
    pub(crate) core: Mutex<Core>,
    /// Wakes the driver: actions or reports wait, or a timer may have moved.
    pub(crate) wake: Arc<Notify>,
    pub(crate) progress: Arc<Progress>,
    pub(crate) reports: Arc<ReportQueue>,
    next_connection: AtomicU64,
    pub(crate) dns: netcore_dns::DnsService,
    pub(crate) vpn: Arc<netcore_bearer_vpn::VpnBearer>,
    plugins: Mutex<Vec<PluginStatus>>,
    bearer_types: Vec<NetBearType>,
    proxies: Mutex<netcore_proxy::ProxySettings>,
    proxy_changes: watch::Sender<u64>,
    pub(crate) pac: netcore_proxy::PacService,
    diagnostics: netcore_probe::Diagnostics,
    pub(crate) handle: tokio::runtime::Handle,
    max_unread: usize,
    /// Whether the runtime programs the kernel's routing.
    manage: bool,
    /// In manage mode: when the kernel's routing is what the engine says.
    routing_settled: Option<crate::routing::Settled>,
    /// True once the runtime stops: the driver and the bearers' tasks end.
    stopping: watch::Sender<bool>,
    /// Manage mode's tasks that clean up when the runtime stops (routing, the DNS
    /// stub's resolv.conf).
    cleanups: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Shared {
    pub(crate) fn core(&self) -> MutexGuard<'_, Core> {
        lock(&self.core)
    }

    /// Delivers what the engine produced (see [`Core::dispatch`]).
    pub(crate) fn dispatch(&self, core: &mut Core) {
        core.dispatch(&self.wake, &self.progress);
    }

    /// Runs `task` on the runtime until it stops.
    fn spawn_until_stopped(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut stopping = self.stopping.subscribe();
        self.handle.spawn(async move {
            tokio::select! {
                () = task => {}
                _ = stopping.wait_for(|&stopping| stopping) => {}
            }
        });
    }
}

/// Locks `mutex`; a panic while it was held leaves data that is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The DNS service seen through the runtime: lookups wait for the driver to catch up
/// with the engine first. It answers for the system (probes, PAC's `dnsResolve`,
/// diagnostics): no app's custom rules apply.
struct SystemResolver {
    dns: netcore_dns::DnsService,
    progress: Arc<Progress>,
}

#[async_trait]
impl Resolve for SystemResolver {
    async fn resolve(
        &self,
        net: NetHandle,
        host: &str,
        family: FamilyType,
    ) -> Result<Vec<std::net::IpAddr>> {
        self.progress.caught_up().await;
        self.dns.resolve(net, host, family).await
    }
}

/// What [`Runtime::watch`] gives: the networks at that moment, then every event of
/// every network as it happens.
#[derive(Debug)]
#[non_exhaustive]
pub struct Watch {
    /// The networks when watching started.
    pub networks: Vec<NetworkSnapshot>,
    /// The default network when watching started.
    pub default_net: NetHandle,
    /// Every later event, of every network, in order.
    pub events: Subscription,
}

impl Watch {
    /// A watch of `networks` and `default_net` whose later events come from `events`
    /// (for a client of a daemon that feeds them).
    pub fn new(
        networks: Vec<NetworkSnapshot>,
        default_net: NetHandle,
        events: Subscription,
    ) -> Self {
        Self {
            networks,
            default_net,
            events,
        }
    }
}

/// What became of one plugin file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginStatus {
    /// The file.
    pub path: std::path::PathBuf,
    /// The plugin's name when it loaded, or why it was refused.
    pub outcome: std::result::Result<String, String>,
}

impl PluginStatus {
    /// The status of the plugin file `path`.
    pub fn new(path: std::path::PathBuf, outcome: std::result::Result<String, String>) -> Self {
        Self { path, outcome }
    }
}

/// Builds a [`Runtime`] from bearers and a validator.
pub struct Builder {
    config: Config,
    dns: netcore_dns::DnsService,
    bearers: Vec<Arc<dyn Bearer>>,
    validator: Arc<dyn Validator>,
    plugins: Vec<PluginStatus>,
}

impl Builder {
    /// Adds a bearer.
    pub fn bearer(mut self, bearer: Arc<dyn Bearer>) -> Self {
        self.bearers.push(bearer);
        self
    }

    /// Sets the validator (default: [`NoValidator`]).
    pub fn validator(mut self, validator: Arc<dyn Validator>) -> Self {
        self.validator = validator;
        self
    }

    /// Sets the resolver (default: a [`netcore_dns::DnsService`] with default
    /// settings).
    pub fn dns(mut self, dns: netcore_dns::DnsService) -> Self {
        self.dns = dns;
        self
    }

    /// Starts the runtime on the current tokio runtime. A bad configuration is
    /// 2100001; outside a tokio runtime, 2100003.
    pub fn start(self) -> Result<Runtime> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Internal("the netcore runtime needs a tokio runtime".into()))?;
        self.config.check()?;
        let mut engine = Engine::new(self.config.engine.engine_config()?);
        let mut vpn_config = self.config.vpn.clone();
        // Manage mode's routing puts a VPN's routes in its own table.
        vpn_config.routes_in_main_table &= !self.config.manage;
        let vpn = Arc::new(netcore_bearer_vpn::VpnBearer::new(vpn_config)?);
        let vpn_bearer: Arc<dyn Bearer> = vpn.clone();
        let mut all_bearers = self.bearers;
        all_bearers.push(vpn_bearer);
        let mut proxies = netcore_proxy::ProxySettings::new();
        proxies.set_global_http_proxy(self.config.proxy.global.clone())?;
        let bearer_types = all_bearers.iter().map(|b| b.bearer_type()).collect();
        let mut bearers = BTreeMap::new();
        let mut generations = HashMap::new();
        for bearer in all_bearers {
            let id = engine.add_bearer(bearer.bearer_type());
            generations.insert(id, 1);
            bearers.insert(id, bearer);
        }
        let routing = self.config.manage.then(|| crate::routing::spawn(&handle));
        let wake = Arc::new(Notify::new());
        let progress = Arc::new(Progress::new());
        let resolver: Arc<dyn Resolve> = Arc::new(SystemResolver {
            dns: self.dns.clone(),
            progress: Arc::clone(&progress),
        });
        let mut pac_config = netcore_proxy::PacConfig::default();
        pac_config.worker_path = self.config.proxy.pac_worker.clone();
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                engine,
                subscribers: HashMap::new(),
                watchers: Vec::new(),
                actions: Coalescing::default(),
                next_other: 0,
                generations,
            }),
            wake: Arc::clone(&wake),
            progress,
            reports: Arc::new(ReportQueue::new(wake)),
            next_connection: AtomicU64::new(1),
            dns: self.dns,
            vpn,
            bearer_types,
            proxies: Mutex::new(proxies),
            proxy_changes: watch::Sender::new(0),
            pac: netcore_proxy::PacService::new(
                netcore_proxy::PacEvaluator::new(pac_config, Arc::clone(&resolver)),
                netcore_proxy::pac::fetch::FetchOptions::default(),
            ),
            diagnostics: netcore_probe::Diagnostics::new(self.config.diagnostics.clone())
                .with_resolver(NetHandle::NONE, resolver),
            handle: handle.clone(),
            max_unread: self.config.max_unread_events,
            plugins: Mutex::new(self.plugins),
            manage: self.config.manage,
            routing_settled: routing.as_ref().map(|(_, settled, _)| settled.clone()),
            stopping: watch::Sender::new(false),
            cleanups: Mutex::default(),
        });
        for (&id, bearer) in &bearers {
            shared.spawn_until_stopped(supervise(
                id,
                Arc::clone(bearer),
                Arc::clone(&shared.reports),
            ));
        }
        let routing = routing.map(|(wanted, _, task)| {
            lock(&shared.cleanups).push(task);
            wanted
        });
        if self.config.manage && self.config.dns_stub.enabled {
            let stub = handle.spawn(crate::dns_stub::run(
                shared.dns.clone(),
                self.config.dns_stub.clone(),
                shared.stopping.subscribe(),
            ));
            lock(&shared.cleanups).push(stub);
        }
        // Dropping the driver when it stops ends the routing task, which cleans up.
        let driver = Driver::new(Arc::clone(&shared), bearers, self.validator, routing);
        shared.spawn_until_stopped(driver.run());
        let owner = Arc::new(Owner(Arc::clone(&shared)));
        Ok(Runtime { shared, owner })
    }
}

/// How long [`Runtime::embedded`] waits for no network to change before it returns:
/// bearers report what they have within a few milliseconds of their start.
const SETTLE_QUIET: Duration = Duration::from_millis(10);

/// The netcore runtime: the engine, the bearers it supervises, and the DNS, proxy,
/// PAC, probe and VPN services of the connection API. Cloning is cheap; clones share
/// everything.
///
/// Calls that concern one app take its [`AppId`] and trust it: the embedded API
/// passes the current process's, the daemon the identity the bus gives for its
/// caller.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
    /// Stops the runtime when the last clone goes.
    #[allow(dead_code)]
    owner: Arc<Owner>,
}

/// Stops the runtime when dropped.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.stopping.send_replace(true);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Runtime {
    /// A builder for a runtime with the given bearers (none yet) and configuration.
    /// The runtime always has the VPN bearer too, so that VPN apps can establish
    /// VPNs.
    pub fn builder(config: Config) -> Builder {
        Builder {
            config,
            dns: netcore_dns::DnsService::new(netcore_dns::DnsConfig::default()),
            bearers: Vec::new(),
            validator: Arc::new(NoValidator),
            plugins: Vec::new(),
        }
    }

    /// Stops the runtime: the bearers and the driver end, and in manage mode the
    /// rules and routes netcore installed go and resolv.conf comes back (waited
    /// for, at most 5 s). Dropping the last clone of the runtime stops it too,
    /// without waiting.
    pub async fn shutdown(&self) {
        self.shared.stopping.send_replace(true);
        let cleanups = std::mem::take(&mut *lock(&self.shared.cleanups));
        let all = futures::future::join_all(cleanups);
        if tokio::time::timeout(Duration::from_secs(5), all)
            .await
            .is_err()
        {
            tracing::warn!("manage mode: cleaning up took more than 5 s");
        }
    }

    /// The embedded runtime: the engine with the Ethernet, Wi-Fi, cellular, Bluetooth
    /// and VPN bearers linked in (each but VPN can be turned off in the
    /// configuration) and the plugins of the plugin directory, observing the host (it
    /// changes no routes unless `manage` is set). Plugins that are refused are logged
    /// and left out. Must be called on a tokio runtime. It returns once the bearers'
    /// first reports are in: no network changed for 10 ms (at most half a second).
    pub async fn embedded(config: Config) -> Result<Self> {
        let runtime = Self::embedded_builder(config)?.start()?;
        runtime
            .settle(SETTLE_QUIET, Duration::from_millis(500))
            .await;
        Ok(runtime)
    }

    /// The builder of [`Runtime::embedded`]: started, the runtime reports its networks
    /// as its bearers find them (a service announces itself at once and lets its
    /// clients follow the events).
    pub fn embedded_builder(config: Config) -> Result<Builder> {
        let dns = netcore_dns::DnsService::new(netcore_dns::DnsConfig::default());
        let validator = ProbeValidator::new(config.validation.clone(), Arc::new(dns.clone()))?;
        let mut builder = Self::builder(config.clone())
            .dns(dns)
            .validator(Arc::new(validator));
        if config.builtin_ethernet {
            let ethernet = netcore_bearer_ethernet::EthernetBearer::new(config.ethernet.clone())?;
            builder = builder.bearer(Arc::new(ethernet));
        }
        if config.builtin_wifi {
            let wifi = netcore_bearer_wifi::WifiBearer::new(config.wifi.clone())?;
            builder = builder.bearer(Arc::new(wifi));
        }
        if config.builtin_cellular {
            let cellular = netcore_bearer_cellular::CellularBearer::new(config.cellular.clone())?;
            builder = builder.bearer(Arc::new(cellular));
        }
        if config.builtin_bluetooth {
            let bluetooth =
                netcore_bearer_bluetooth::BluetoothBearer::new(config.bluetooth.clone())?;
            builder = builder.bearer(Arc::new(bluetooth));
        }
        if let Some(dir) = config.plugins.effective_dir() {
            let plugins =
                netcore_plugin::load_plugins(&dir, |name| config.plugins.config_for(name));
            for (path, plugin) in plugins {
                let outcome = match plugin {
                    Ok(plugin) => {
                        let name = plugin.name().to_owned();
                        builder = builder.bearer(Arc::new(plugin));
                        Ok(name)
                    }
                    Err(e) => Err(e.to_string()),
                };
                builder.plugins.push(PluginStatus { path, outcome });
            }
        }
        Ok(builder)
    }

    /// Waits until no network has changed for `quiet`, or until `limit` has passed.
    pub async fn settle(&self, quiet: Duration, limit: Duration) {
        let mut watch = self.watch();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let until = (tokio::time::Instant::now() + quiet).min(deadline);
            match tokio::time::timeout_at(until, watch.events.recv()).await {
                Ok(Some(_)) if tokio::time::Instant::now() < deadline => continue,
                _ => return,
            }
        }
    }

    /// The tokio runtime it runs on.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.shared.handle
    }

    // ----- the engine -----

    /// Runs `input` on the engine at the current time, then dispatches its outputs.
    pub fn input<T>(&self, input: impl FnOnce(&mut Engine, Instant) -> T) -> T {
        let mut core = self.shared.core();
        let result = input(&mut core.engine, Instant::now());
        self.shared.dispatch(&mut core);
        drop(core);
        // A timer may have moved earlier.
        self.shared.wake.notify_one();
        result
    }

    /// Reads the engine.
    pub fn read<T>(&self, query: impl FnOnce(&Engine) -> T) -> T {
        query(&self.shared.core().engine)
    }

    /// A connection id not used before in this runtime.
    pub fn next_connection_id(&self) -> ConnectionId {
        ConnectionId(self.shared.next_connection.fetch_add(1, Ordering::Relaxed))
    }

    /// `NetConnection.register` for `app`: registers `id` for `spec` and returns its
    /// events, in one step so that the first events reach it. Errors: 2101008 (already
    /// registered), 2101022 (the app's quota), 2100001 (bad specifier).
    pub fn register(
        &self,
        app: AppId,
        id: ConnectionId,
        spec: Option<NetSpecifier>,
        timeout_ms: u32,
    ) -> Result<Subscription> {
        let mut core = self.shared.core();
        core.engine
            .register(app, id, spec, timeout_ms, Instant::now())?;
        let (publisher, events) = subscription(self.shared.max_unread);
        core.subscribers.insert(id, (app, publisher));
        self.shared.dispatch(&mut core);
        drop(core);
        self.shared.wake.notify_one();
        Ok(events)
    }

    /// `NetConnection.unregister`: its subscription ends after the events queued
    /// before. An unknown connection is 2101007.
    pub fn unregister(&self, id: ConnectionId) -> Result<()> {
        let mut core = self.shared.core();
        core.engine.unregister(id, Instant::now())?;
        if let Some((_, publisher)) = core.subscribers.remove(&id) {
            publisher.close();
        }
        self.shared.dispatch(&mut core);
        drop(core);
        // The network it used may start lingering: a new, earlier timer.
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Every network now, then every event of every network as it happens.
    pub fn watch(&self) -> Watch {
        let (publisher, events) = subscription(self.shared.max_unread);
        let mut core = self.shared.core();
        core.watchers.push(publisher);
        core.engine.observe_all(true);
        let engine = &core.engine;
        let networks = engine
            .all_nets()
            .into_iter()
            .filter_map(|net| engine.snapshot(net).ok())
            .collect();
        Watch {
            networks,
            default_net: engine.default_net(),
            events,
        }
    }

    /// Forgets everything of `app` (it went away): its requests (their quota is free
    /// again and their subscriptions end), its network binding, its custom DNS rules,
    /// its HTTP proxy and the VPNs it runs.
    pub async fn remove_app(&self, app: AppId) {
        {
            let mut core = self.shared.core();
            core.engine.remove_app(app, Instant::now());
            core.subscribers.retain(|_, (owner, publisher)| {
                let keep = *owner != app;
                if !keep {
                    publisher.close();
                }
                keep
            });
            self.shared.dispatch(&mut core);
        }
        self.shared.wake.notify_one();
        self.shared.dns.clear_custom_dns_rules(app);
        if self.proxies().clear_app_http_proxy(app).is_some() {
            self.proxy_changed();
        }
        self.shared.vpn.remove_app(app).await;
        tracing::info!(%app, "app removed");
    }

    /// The types of the bearers that run.
    pub fn bearer_types(&self) -> &[NetBearType] {
        &self.shared.bearer_types
    }

    /// What became of each plugin file of the plugin directory.
    pub fn plugins(&self) -> Vec<PluginStatus> {
        lock(&self.shared.plugins).clone()
    }

    // ----- DNS -----

    /// The per-network resolver, for custom DNS rules.
    pub fn dns(&self) -> &netcore_dns::DnsService {
        &self.shared.dns
    }

    /// `getAddressesByName` for `app`: on `net` when given, else on the app's bound
    /// network, else on the default network; the app's custom rules answer first.
    /// It waits until the resolver knows what the engine knows.
    pub async fn get_addresses_by_name(
        &self,
        app: AppId,
        net: Option<NetHandle>,
        host: &str,
        options: QueryOptions,
    ) -> Result<Vec<NetAddress>> {
        self.caught_up().await;
        self.shared
            .dns
            .get_addresses_by_name(app, net, host, options)
            .await
    }

    /// `NetHandle.getAddressByName` for `app` (see
    /// [`Runtime::get_addresses_by_name`]).
    pub async fn get_address_by_name(
        &self,
        app: AppId,
        net: Option<NetHandle>,
        host: &str,
    ) -> Result<NetAddress> {
        self.caught_up().await;
        self.shared.dns.get_address_by_name(app, net, host).await
    }

    /// Lookups on behalf of the system (no app's rules apply), in step with the
    /// engine.
    pub fn system_resolver(&self) -> Arc<dyn Resolve> {
        Arc::new(SystemResolver {
            dns: self.shared.dns.clone(),
            progress: Arc::clone(&self.shared.progress),
        })
    }

    /// Waits until the driver has carried out every action queued so far.
    async fn caught_up(&self) {
        self.shared.progress.caught_up().await;
    }

    /// `setAppNet`: binds `app` to `net` ([`NetHandle::NONE`] unbinds). In manage
    /// mode it returns once the kernel routes the app's traffic that way (at most
    /// 2 s later). Errors as [`Engine::set_app_net`]'s.
    pub async fn set_app_net(&self, app: AppId, net: NetHandle) -> Result<()> {
        self.input(|e, _| e.set_app_net(app, net))?;
        self.routing_settled().await;
        Ok(())
    }

    /// In manage mode, waits until the kernel's routing follows every change the
    /// engine has made so far (at most 2 s); at once otherwise.
    pub async fn routing_settled(&self) {
        if let Some(settled) = &self.shared.routing_settled {
            self.caught_up().await;
            settled.wait().await;
        }
    }

    // ----- proxies, PAC, diagnostics, VPN -----

    /// The global and per-app HTTP proxies. Call [`Runtime::proxy_changed`] after a
    /// change.
    pub fn proxies(&self) -> MutexGuard<'_, netcore_proxy::ProxySettings> {
        lock(&self.shared.proxies)
    }

    /// Tells whoever follows the proxy settings that they changed.
    pub fn proxy_changed(&self) {
        self.shared
            .proxy_changes
            .send_modify(|changes| *changes += 1);
    }

    /// Follows changes of the proxy settings.
    pub fn proxy_changes(&self) -> watch::Receiver<u64> {
        self.shared.proxy_changes.subscribe()
    }

    /// PAC scripts and their evaluation.
    pub fn pac(&self) -> &netcore_proxy::PacService {
        &self.shared.pac
    }

    /// `queryProbeResult` and `queryTraceRoute`.
    pub fn diagnostics(&self) -> &netcore_probe::Diagnostics {
        &self.shared.diagnostics
    }

    /// The VPN bearer: VPN apps establish their VPNs through it.
    pub fn vpn(&self) -> &netcore_bearer_vpn::VpnBearer {
        &self.shared.vpn
    }

    // ----- sockets of other processes -----

    /// `NetHandle.bindSocket` of another process's socket (netcored): checks that
    /// `socket` is an IPv4 or IPv6 socket of `app` and that `app` may use `net`,
    /// then binds the socket to the network's interface and, in manage mode, marks
    /// it for the network's table (see [`crate::routing`]). Errors: 2100001 (no
    /// such network, not an IP socket), 201 (another app's socket; a VPN that
    /// neither covers the app nor is the app's).
    pub fn bind_socket(&self, app: AppId, net: NetHandle, socket: BorrowedFd<'_>) -> Result<()> {
        crate::sockets::check_socket(socket, app)?;
        let interface = self
            .read(|e| e.connection_properties(net))?
            .interface_name
            .clone();
        self.check_may_use(app, net, &interface)?;
        let mark = self
            .shared
            .manage
            .then(|| (crate::routing::mark_of(net), crate::routing::MARK_MASK));
        crate::sockets::bind(socket, &interface, mark)
    }

    /// 201 unless `app` may use network `net` (interface `interface`): every app may
    /// use every network but a VPN, which only the apps it covers and its owner use.
    fn check_may_use(&self, app: AppId, net: NetHandle, interface: &str) -> Result<()> {
        let is_vpn = self
            .read(|e| e.net_capabilities(net))
            .is_ok_and(|caps| caps.bearer_types.contains(&NetBearType::Vpn));
        let vpn = is_vpn.then(|| self.shared.vpn.vpn(interface)).flatten();
        match vpn {
            Some(vpn) if vpn.owner != app && !vpn.covered_apps.covers(app) => {
                Err(Error::PermissionDenied(format!(
                    "app {app} may not use network {net}: a VPN that does not cover it"
                )))
            }
            _ => Ok(()),
        }
    }
}
