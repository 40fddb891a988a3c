//! The runtime: the async shell that owns the engine, feeds it bearer reports, check
//! results and timers, carries out its actions, and delivers events to subscribers.
//!
//! The engine sits behind a mutex held only for the few microseconds an input takes.
//! Every input's outputs are dispatched before the lock is released, into one
//! unbounded channel per subscriber: events keep the engine's order, and a slow
//! subscriber never holds the engine up.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::FutureExt;
use netcore::engine::{
    Action, BearerId, ConnectionId, Engine, NetEvent, NetworkSnapshot, Output, ValidationResult,
};
use netcore::{
    ActivationRequest, AppId, Bearer, BearerEvent, ConnectionProperties, Error, NetBearType,
    NetHandle, ReportSink, Result,
};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::config::Config;

/// Runs one connectivity check of a network. [`ProbeValidator`] is the real one;
/// [`NoValidator`] reports every check as failed.
#[async_trait]
pub trait Validator: Send + Sync + 'static {
    /// Checks network `net`, whose properties (interface, DNS servers) are given.
    async fn validate(&self, net: NetHandle, properties: &ConnectionProperties)
    -> ValidationResult;
}

/// The connectivity check of `netcore-probe`: HTTPS and HTTP probes bound to the
/// network's interface, names resolved with the network's own DNS servers.
pub struct ProbeValidator {
    probe: netcore_probe::Validator,
    resolver: Arc<dyn netcore::Resolve>,
}

impl ProbeValidator {
    /// A validator with `config`, resolving through `resolver`.
    pub fn new(
        config: netcore_probe::ValidatorConfig,
        resolver: Arc<dyn netcore::Resolve>,
    ) -> Result<Self> {
        Ok(Self {
            probe: netcore_probe::Validator::new(config)?,
            resolver,
        })
    }
}

#[async_trait]
impl Validator for ProbeValidator {
    async fn validate(
        &self,
        net: NetHandle,
        properties: &ConnectionProperties,
    ) -> ValidationResult {
        let target = netcore_probe::NetworkTarget::new(net, properties.interface_name.clone())
            .with_resolver(Arc::clone(&self.resolver));
        self.probe.validate(&target).await
    }
}

/// A validator for runtimes without a probe: every check fails at once, so no
/// network is ever claimed to be validated.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoValidator;

#[async_trait]
impl Validator for NoValidator {
    async fn validate(&self, _: NetHandle, _: &ConnectionProperties) -> ValidationResult {
        ValidationResult::Failed
    }
}

/// How long a bearer that failed (its peer is gone or not there yet) waits before it
/// runs again, at first and at most: a returning peer is followed within a second.
const RETRY_BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(1));
/// The same for a bearer that panicked: a bug, retried ever more slowly.
const PANIC_BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(60));

/// A report on its way from a bearer's task to the engine.
enum Report {
    Event(BearerId, u64, Box<BearerEvent>),
    Failed(BearerId, u64),
}

/// The engine and the subscribers its outputs go to.
struct Core {
    engine: Engine,
    /// Told about every network, the default network and app bindings as the
    /// engine's outputs say.
    dns: netcore_dns::DnsService,
    subscribers: HashMap<ConnectionId, mpsc::UnboundedSender<NetEvent>>,
    watchers: Vec<mpsc::UnboundedSender<NetEvent>>,
    /// The current run of each bearer; reports of older runs are dropped.
    generations: HashMap<BearerId, u64>,
}

pub(crate) struct Shared {
    core: Mutex<Core>,
    actions: mpsc::UnboundedSender<Action>,
    /// Wakes the driver when a timer may have moved earlier.
    wake: Notify,
    next_connection: AtomicU64,
    /// The VPN bearer: VPN apps establish their VPNs through it.
    pub(crate) vpn: Arc<netcore_bearer_vpn::VpnBearer>,
    /// What became of each plugin file.
    plugins: Mutex<Vec<PluginStatus>>,
    /// The types of the bearers that run.
    pub(crate) bearer_types: Vec<NetBearType>,
    /// The global and per-app HTTP proxies.
    pub(crate) proxies: Mutex<netcore_proxy::ProxySettings>,
    /// Counts changes of the proxy settings, for whoever follows them.
    pub(crate) proxy_changes: tokio::sync::watch::Sender<u64>,
    /// PAC scripts and their evaluation.
    pub(crate) pac: netcore_proxy::PacService,
    /// `queryProbeResult` and `queryTraceRoute`.
    pub(crate) diagnostics: netcore_probe::Diagnostics,
    pub(crate) runtime: tokio::runtime::Handle,
}

impl Shared {
    fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `input` on the engine at the current time, then dispatches its outputs.
    pub(crate) fn with_engine<T>(&self, input: impl FnOnce(&mut Engine, Instant) -> T) -> T {
        let mut core = self.core();
        let result = input(&mut core.engine, Instant::now());
        core.dispatch(&self.actions);
        drop(core);
        self.wake.notify_one();
        result
    }

    /// Reads the engine.
    pub(crate) fn read<T>(&self, query: impl FnOnce(&Engine) -> T) -> T {
        query(&self.core().engine)
    }

    /// Registers `id` and its event channel in one step, so the first events reach it.
    pub(crate) fn register(
        &self,
        app: AppId,
        id: ConnectionId,
        spec: Option<netcore::NetSpecifier>,
        timeout_ms: u32,
        events: mpsc::UnboundedSender<NetEvent>,
    ) -> Result<()> {
        let mut core = self.core();
        core.engine
            .register(app, id, spec, timeout_ms, Instant::now())?;
        core.subscribers.insert(id, events);
        core.dispatch(&self.actions);
        drop(core);
        self.wake.notify_one();
        Ok(())
    }

    pub(crate) fn unregister(&self, id: ConnectionId) -> Result<()> {
        let mut core = self.core();
        core.engine.unregister(id, Instant::now())?;
        core.subscribers.remove(&id);
        core.dispatch(&self.actions);
        drop(core);
        // The network it used may start lingering: a new, earlier timer.
        self.wake.notify_one();
        Ok(())
    }

    pub(crate) fn next_connection_id(&self) -> ConnectionId {
        ConnectionId(self.next_connection.fetch_add(1, Ordering::Relaxed))
    }
}

impl Core {
    fn dispatch(&mut self, actions: &mpsc::UnboundedSender<Action>) {
        let Core {
            engine,
            dns,
            subscribers,
            watchers,
            ..
        } = self;
        for output in engine.drain_outputs() {
            match output {
                Output::Event { connection, event } => {
                    if let Some(tx) = subscribers.get(&connection) {
                        let _ = tx.send(event);
                    }
                }
                Output::Observed(event) => {
                    follow_in_dns(dns, &event);
                    watchers.retain(|tx| tx.send(event.clone()).is_ok());
                }
                Output::Action(action) => {
                    match &action {
                        Action::DefaultNetworkChanged { net } => dns.set_default_network(*net),
                        Action::AppNetworkChanged { app, net } => dns.set_app_network(*app, *net),
                        _ => {}
                    }
                    let _ = actions.send(action);
                }
            }
        }
    }
}

/// Keeps the resolver's networks in step with the engine's.
fn follow_in_dns(dns: &netcore_dns::DnsService, event: &NetEvent) {
    match event {
        NetEvent::ConnectionPropertiesChange(info) => {
            if let Err(e) = dns.set_network(info.net_handle, &info.connection_properties) {
                tracing::warn!(net = %info.net_handle, "resolver: {e}");
            }
        }
        NetEvent::Lost(net) => dns.remove_network(*net),
        _ => {}
    }
}

/// What [`NetManager::watch`] gives: the networks at that moment, then every event
/// of every network as it happens.
pub struct Watch {
    /// The networks when watching started.
    pub networks: Vec<NetworkSnapshot>,
    /// The default network when watching started.
    pub default_net: NetHandle,
    /// Every later event, of every network, in order.
    pub events: mpsc::UnboundedReceiver<NetEvent>,
}

/// What became of one plugin file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginStatus {
    /// The file.
    pub path: std::path::PathBuf,
    /// The plugin's name when it loaded, or why it was refused.
    pub outcome: std::result::Result<String, String>,
}

/// Builds a [`NetManager`] from bearers and a validator.
pub struct Builder {
    config: Config,
    dns: netcore_dns::DnsService,
    bearers: Vec<Arc<dyn Bearer>>,
    validator: Arc<dyn Validator>,
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

    /// Starts the runtime on the current tokio runtime.
    pub fn start(self) -> Result<NetManager> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Internal("NetManager needs a tokio runtime".into()))?;
        let mut engine = Engine::new(self.config.engine.engine_config()?);
        let vpn = Arc::new(netcore_bearer_vpn::VpnBearer::new(self.config.vpn.clone())?);
        let vpn_bearer: Arc<dyn Bearer> = vpn.clone();
        let mut all_bearers = self.bearers;
        all_bearers.push(vpn_bearer);
        let mut proxies = netcore_proxy::ProxySettings::new();
        proxies.set_global_http_proxy(self.config.proxy.global.clone())?;
        let pac_config = netcore_proxy::PacConfig {
            worker_path: self.config.proxy.pac_worker.clone(),
            ..netcore_proxy::PacConfig::default()
        };
        let resolver: Arc<dyn netcore::Resolve> = Arc::new(self.dns.clone());
        let pac = netcore_proxy::PacService::new(
            netcore_proxy::PacEvaluator::new(pac_config, resolver),
            netcore_proxy::pac::fetch::FetchOptions::default(),
        );
        engine.observe_all(true);
        let (actions_tx, actions_rx) = mpsc::unbounded_channel();
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let bearer_types = all_bearers.iter().map(|b| b.bearer_type()).collect();
        let mut bearers = BTreeMap::new();
        let mut generations = HashMap::new();
        for bearer in all_bearers {
            let id = engine.add_bearer(bearer.bearer_type());
            generations.insert(id, 1);
            bearers.insert(id, bearer);
        }
        let shared = Arc::new(Shared {
            core: Mutex::new(Core {
                engine,
                dns: self.dns.clone(),
                subscribers: HashMap::new(),
                watchers: Vec::new(),
                generations,
            }),
            actions: actions_tx,
            wake: Notify::new(),
            next_connection: AtomicU64::new(1),
            vpn,
            plugins: Mutex::default(),
            bearer_types,
            proxies: Mutex::new(proxies),
            proxy_changes: tokio::sync::watch::Sender::new(0),
            pac,
            diagnostics: netcore_probe::Diagnostics::new(self.config.diagnostics.clone())
                .with_resolver(NetHandle::NONE, Arc::new(self.dns.clone())),
            runtime: runtime.clone(),
        });
        for (&id, bearer) in &bearers {
            runtime.spawn(supervise(id, Arc::clone(bearer), reports_tx.clone()));
        }
        let driver = Driver {
            shared: Arc::clone(&shared),
            bearers,
            validator: self.validator,
            checks: HashMap::new(),
            routes: self
                .config
                .manage
                .then(|| crate::routes::spawn(&runtime, self.config.route_metric)),
        };
        runtime.spawn(driver.run(actions_rx, reports_rx));
        Ok(NetManager {
            shared,
            app: AppId::current(),
        })
    }
}

/// The connection manager, as an application sees it: the seed's connection module.
/// Cloning it is cheap; every clone talks to the same runtime. App-scoped state
/// (bound network, requests) belongs to the app identity of the handle, by default
/// this process's uid ([`NetManager::for_app`] picks another).
#[derive(Clone)]
pub struct NetManager {
    pub(crate) shared: Arc<Shared>,
    pub(crate) app: AppId,
}

impl std::fmt::Debug for NetManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetManager")
            .field("app", &self.app)
            .finish()
    }
}

impl NetManager {
    /// A builder for a runtime with the given bearers (none yet) and configuration.
    /// The runtime always has the VPN bearer too, so that VPN apps can establish
    /// VPNs.
    pub fn builder(config: Config) -> Builder {
        Builder {
            config,
            dns: netcore_dns::DnsService::new(netcore_dns::DnsConfig::default()),
            bearers: Vec::new(),
            validator: Arc::new(NoValidator),
        }
    }

    /// The embedded runtime: the engine with the Ethernet, Wi-Fi, cellular, Bluetooth
    /// and VPN bearers linked in (each but VPN can be turned off in the
    /// configuration) and the
    /// plugins of the plugin directory, observing the host (it changes no routes
    /// unless `manage` is set). Plugins that are refused are logged and left out.
    /// Must be called on a tokio runtime. It returns once the bearers' first reports
    /// are in (at most half a second).
    pub async fn embedded(config: Config) -> Result<Self> {
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
        let mut statuses = Vec::new();
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
                statuses.push(PluginStatus { path, outcome });
            }
        }
        let manager = builder.start()?;
        *manager
            .shared
            .plugins
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = statuses;
        manager
            .settle(Duration::from_millis(50), Duration::from_millis(500))
            .await;
        Ok(manager)
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

    /// The same manager acting for `app`.
    pub fn for_app(&self, app: AppId) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            app,
        }
    }

    /// The per-network resolver; it implements [`netcore::Resolve`] for lookups on
    /// behalf of the system (probes, PAC), which no app's custom rules answer.
    pub fn resolver(&self) -> netcore_dns::DnsService {
        self.shared.core().dns.clone()
    }

    /// The app identity this handle acts for.
    pub fn app(&self) -> AppId {
        self.app
    }

    /// Every network now, then every event of every network as it happens.
    pub fn watch(&self) -> Watch {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut core = self.shared.core();
        core.watchers.push(tx);
        let engine = &core.engine;
        let networks = engine
            .all_nets()
            .into_iter()
            .filter_map(|net| engine.snapshot(net).ok())
            .collect();
        Watch {
            networks,
            default_net: engine.default_net(),
            events: rx,
        }
    }

    /// What became of each plugin file of the plugin directory.
    pub fn plugins(&self) -> Vec<PluginStatus> {
        self.shared
            .plugins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A snapshot of every network (for listings).
    pub fn snapshots(&self) -> Vec<NetworkSnapshot> {
        self.shared.read(|e| {
            e.all_nets()
                .into_iter()
                .filter_map(|net| e.snapshot(net).ok())
                .collect()
        })
    }

    /// A snapshot of one network; an unknown netId is 2100001.
    pub fn snapshot(&self, net: NetHandle) -> Result<NetworkSnapshot> {
        self.shared.read(|e| e.snapshot(net))
    }
}

/// Runs a bearer, restarting it when it fails (within [`RETRY_BACKOFF`]: a peer that
/// returns is followed within a second) or panics (within [`PANIC_BACKOFF`]). A
/// failure is logged at info level once (a peer that is not installed, such as
/// ModemManager on a device without a modem, is a normal state), the same failure
/// again only at debug level; a panic is an error.
async fn supervise(id: BearerId, bearer: Arc<dyn Bearer>, reports: mpsc::UnboundedSender<Report>) {
    let mut retry = RETRY_BACKOFF.0;
    let mut after_panic = PANIC_BACKOFF.0;
    let mut last_failure = String::new();
    for generation in 1.. {
        let tx = reports.clone();
        let sink = ReportSink::new(move |event| {
            let _ = tx.send(Report::Event(id, generation, Box::new(event)));
        });
        let started = Instant::now();
        let outcome = AssertUnwindSafe(bearer.run(sink)).catch_unwind().await;
        let _ = reports.send(Report::Failed(id, generation));
        match outcome {
            Ok(Ok(())) => {
                tracing::info!(bearer = bearer.name(), "bearer stopped");
                return;
            }
            Ok(Err(e)) => {
                let failure = e.to_string();
                if failure == last_failure {
                    tracing::debug!(bearer = bearer.name(), "bearer failed again: {failure}");
                } else {
                    tracing::info!(bearer = bearer.name(), "bearer failed: {failure}");
                    last_failure = failure;
                }
                if started.elapsed() > RETRY_BACKOFF.1 {
                    retry = RETRY_BACKOFF.0;
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_BACKOFF.1);
            }
            Err(_) => {
                tracing::error!(bearer = bearer.name(), "bearer panicked");
                if started.elapsed() > PANIC_BACKOFF.1 {
                    after_panic = PANIC_BACKOFF.0;
                }
                tokio::time::sleep(after_panic).await;
                after_panic = (after_panic * 2).min(PANIC_BACKOFF.1);
            }
        }
    }
}

/// The driver task: bearer reports, timers and actions.
struct Driver {
    shared: Arc<Shared>,
    bearers: BTreeMap<BearerId, Arc<dyn Bearer>>,
    validator: Arc<dyn Validator>,
    checks: HashMap<NetHandle, JoinHandle<()>>,
    /// The route programmer of `manage` mode.
    routes: Option<mpsc::UnboundedSender<Option<ConnectionProperties>>>,
}

impl Driver {
    async fn run(
        mut self,
        mut actions: mpsc::UnboundedReceiver<Action>,
        mut reports: mpsc::UnboundedReceiver<Report>,
    ) {
        loop {
            let deadline = self.shared.read(Engine::next_timeout);
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(report) = reports.recv() => self.report(report),
                Some(action) = actions.recv() => self.act(action),
                () = sleep => self.shared.with_engine(|e, now| e.handle_timeout(now)),
                () = self.shared.wake.notified() => {}
                else => return,
            }
        }
    }

    fn report(&mut self, report: Report) {
        let mut core = self.shared.core();
        let now = Instant::now();
        match report {
            Report::Event(bearer, generation, event) => {
                if core.generations.get(&bearer) == Some(&generation)
                    && let Err(e) = core.engine.bearer_event(bearer, *event, now)
                {
                    tracing::warn!(bearer = bearer.0, "refused a bearer report: {e}");
                }
            }
            Report::Failed(bearer, generation) => {
                core.generations.insert(bearer, generation + 1);
                if let Err(e) = core.engine.clear_bearer(bearer, now) {
                    tracing::warn!(bearer = bearer.0, "{e}");
                }
            }
        }
        core.dispatch(&self.shared.actions);
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::StartValidation { net, attempt } => self.start_check(net, attempt),
            Action::CancelValidation { net } => {
                if let Some(check) = self.checks.remove(&net) {
                    check.abort();
                }
            }
            Action::Activate {
                bearer,
                request,
                identifier,
            } => {
                if let Some(b) = self.bearers.get(&bearer).cloned() {
                    self.shared.runtime.spawn(async move {
                        let request = ActivationRequest {
                            request: request.0,
                            identifier,
                        };
                        if let Err(e) = b.activate(request).await {
                            tracing::info!(bearer = b.name(), "activation refused: {e}");
                        }
                    });
                }
            }
            Action::Release { bearer, key, .. } => {
                if let Some(b) = self.bearers.get(&bearer).cloned() {
                    self.shared.runtime.spawn(async move {
                        if let Err(e) = b.release(&key).await {
                            tracing::info!(bearer = b.name(), "release failed: {e}");
                        }
                    });
                }
            }
            Action::DefaultNetworkChanged { net } => {
                // PAC's myIpAddress answers with the default network's addresses.
                let properties = self.shared.read(|e| e.connection_properties(net)).ok();
                let addresses = properties
                    .iter()
                    .flat_map(|p| p.link_addresses.iter().map(|a| a.address().ip()))
                    .collect();
                self.shared.pac.evaluator().set_my_addresses(addresses);
                if let Some(routes) = &self.routes {
                    let _ = routes.send(properties.map(|p| (*p).clone()));
                }
            }
            Action::AppNetworkChanged { app, net } => {
                tracing::debug!(%app, %net, "app bound");
            }
        }
    }

    fn start_check(&mut self, net: NetHandle, attempt: u32) {
        let Ok(properties) = self.shared.read(|e| e.connection_properties(net)) else {
            return;
        };
        self.checks.retain(|_, check| !check.is_finished());
        let shared = Arc::clone(&self.shared);
        let validator = Arc::clone(&self.validator);
        let task = self.shared.runtime.spawn(async move {
            let result = validator.validate(net, &properties).await;
            let applied =
                shared.with_engine(|e, now| e.validation_result(net, attempt, result, now));
            if let Err(e) = applied {
                tracing::debug!(%net, "check result dropped: {e}");
            }
        });
        if let Some(old) = self.checks.insert(net, task) {
            old.abort();
        }
    }
}
