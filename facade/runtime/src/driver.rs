//! The driver task: it feeds the engine the bearers' reports and its timers, and it
//! is the one consumer of the engine's actions, which it carries out outside the
//! engine's lock: checks, activations and releases, the resolvers of the networks,
//! the default network's consequences (DNS, PAC's `myIpAddress`, the default route
//! in manage mode).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use netcore::engine::{Action, BearerId};
use netcore::{ActivationRequest, Bearer, ConnectionProperties, NetHandle};
use netcore_bearer_vpn::CoveredApps;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::reports::Report;
use crate::routing::{RoutedNetwork, Wanted, vpn_uid_ranges};
use crate::runtime::Shared;
use crate::validator::Validator;

/// How many reports the driver applies under one hold of the engine's lock.
const REPORTS_PER_BATCH: usize = 64;

pub(crate) struct Driver {
    shared: Arc<Shared>,
    bearers: BTreeMap<BearerId, Arc<dyn Bearer>>,
    validator: Arc<dyn Validator>,
    checks: HashMap<NetHandle, JoinHandle<()>>,
    /// The default network as the actions said.
    default: NetHandle,
    /// The route programmer of `manage` mode.
    routing: Option<watch::Sender<Wanted>>,
}

impl Driver {
    pub(crate) fn new(
        shared: Arc<Shared>,
        bearers: BTreeMap<BearerId, Arc<dyn Bearer>>,
        validator: Arc<dyn Validator>,
        routing: Option<watch::Sender<Wanted>>,
    ) -> Self {
        Self {
            shared,
            bearers,
            validator,
            checks: HashMap::new(),
            default: NetHandle::NONE,
            routing,
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            let worked = self.carry_out_actions() | self.apply_reports();
            let deadline = self.shared.core().engine.next_timeout();
            if deadline.is_some_and(|at| at <= Instant::now()) {
                let mut core = self.shared.core();
                core.engine.handle_timeout(Instant::now());
                self.shared.dispatch(&mut core);
                continue;
            }
            if worked {
                continue;
            }
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.shared.wake.notified() => {}
                () = sleep => {}
            }
        }
    }

    /// Applies up to a batch of waiting reports; true when there were any.
    fn apply_reports(&mut self) -> bool {
        let shared = Arc::clone(&self.shared);
        let mut locked = None;
        for _ in 0..REPORTS_PER_BATCH {
            let Some((bearer, generation, report)) = shared.reports.pop() else {
                break;
            };
            let core = locked.get_or_insert_with(|| shared.core());
            if core.generations.get(&bearer) != Some(&generation) {
                continue;
            }
            let now = Instant::now();
            match report {
                Report::Event(event) => {
                    if let Err(e) = core.engine.bearer_event(bearer, *event, now) {
                        tracing::error!(bearer = bearer.0, "refused a bearer report: {e}");
                    }
                }
                Report::Ended => {
                    core.generations.insert(bearer, generation + 1);
                    if let Err(e) = core.engine.clear_bearer(bearer, now) {
                        tracing::warn!(bearer = bearer.0, "{e}");
                    }
                }
            }
        }
        let Some(mut core) = locked else {
            return false;
        };
        shared.dispatch(&mut core);
        true
    }

    /// Carries out every waiting action; true when there were any.
    fn carry_out_actions(&mut self) -> bool {
        let (actions, upto) = {
            let mut core = self.shared.core();
            let actions: Vec<Action> = std::iter::from_fn(|| core.actions.pop())
                .map(|(_, action)| action)
                .collect();
            let upto = self
                .shared
                .progress
                .queued
                .load(std::sync::atomic::Ordering::SeqCst);
            (actions, upto)
        };
        let any = !actions.is_empty();
        for action in actions {
            self.act(action);
        }
        self.shared.progress.applied(upto);
        any
    }

    fn act(&mut self, action: Action) {
        let dns = &self.shared.dns;
        match action {
            Action::NetworkUp { net, properties } | Action::NetworkChanged { net, properties } => {
                if let Err(e) = dns.set_network(net, &properties) {
                    tracing::warn!(%net, "resolver: {e}");
                }
                if net == self.default {
                    self.follow_default(Some(&properties));
                }
                self.route(|wanted, driver| {
                    let vpn_uids = driver.vpn_uids(net, &properties);
                    wanted.networks.insert(
                        net,
                        RoutedNetwork {
                            properties,
                            vpn_uids,
                        },
                    );
                });
            }
            Action::NetworkDown { net } => {
                dns.remove_network(net);
                self.route(|wanted, _| {
                    wanted.networks.remove(&net);
                });
            }
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
                    self.shared.handle.spawn(async move {
                        let request = ActivationRequest::new(request.0, identifier);
                        if let Err(e) = b.activate(request).await {
                            tracing::info!(bearer = b.name(), "activation refused: {e}");
                        }
                    });
                }
            }
            Action::Release { bearer, key, .. } => {
                if let Some(b) = self.bearers.get(&bearer).cloned() {
                    self.shared.handle.spawn(async move {
                        if let Err(e) = b.release(&key).await {
                            tracing::info!(bearer = b.name(), "release failed: {e}");
                        }
                    });
                }
            }
            Action::DefaultNetworkChanged { net } => {
                self.default = net;
                dns.set_default_network(net);
                let properties = self.shared.core().engine.connection_properties(net).ok();
                self.follow_default(properties.as_deref());
                self.route(|wanted, _| wanted.default = net);
            }
            Action::AppNetworkChanged { app, net } => {
                dns.set_app_network(app, net);
                tracing::debug!(%app, %net, "app bound");
                self.route(|wanted, _| {
                    if net.is_none() {
                        wanted.app_nets.remove(&app);
                    } else {
                        wanted.app_nets.insert(app, net);
                    }
                });
            }
            other => tracing::debug!(?other, "an action this runtime does not know"),
        }
    }

    /// Changes what manage mode's routing wants (nothing outside manage mode).
    fn route(&self, change: impl FnOnce(&mut Wanted, &Self)) {
        if let Some(routing) = &self.routing {
            routing.send_modify(|wanted| {
                change(wanted, self);
                wanted.version += 1;
            });
        }
    }

    /// For a VPN network: the uid ranges it covers.
    fn vpn_uids(
        &self,
        net: NetHandle,
        properties: &ConnectionProperties,
    ) -> Option<Vec<(u32, u32)>> {
        let is_vpn = self
            .shared
            .core()
            .engine
            .net_capabilities(net)
            .is_ok_and(|caps| caps.bearer_types.contains(&netcore::NetBearType::Vpn));
        if !is_vpn {
            return None;
        }
        let vpn = self.shared.vpn.vpn(&properties.interface_name)?;
        let owner = vpn.owner.uid();
        Some(match &vpn.covered_apps {
            CoveredApps::Only(apps) => {
                let apps: Vec<u32> = apps.iter().copied().collect();
                vpn_uid_ranges(Some(&apps), &[], owner)
            }
            CoveredApps::AllExcept(apps) => {
                let apps: Vec<u32> = apps.iter().copied().collect();
                vpn_uid_ranges(None, &apps, owner)
            }
            _ => vpn_uid_ranges(None, &[], owner),
        })
    }

    /// What follows the default network's properties: PAC's `myIpAddress`.
    fn follow_default(&self, properties: Option<&ConnectionProperties>) {
        let addresses = properties
            .iter()
            .flat_map(|p| p.link_addresses.iter().map(|a| a.address().ip()))
            .collect();
        self.shared.pac.evaluator().set_my_addresses(addresses);
    }

    fn start_check(&mut self, net: NetHandle, attempt: u32) {
        let properties = self.shared.core().engine.connection_properties(net);
        let Ok(properties) = properties else {
            return;
        };
        self.checks.retain(|_, check| !check.is_finished());
        let shared = Arc::clone(&self.shared);
        let validator = Arc::clone(&self.validator);
        let task = self.shared.handle.spawn(async move {
            let result = validator.validate(net, &properties).await;
            let applied = {
                let mut core = shared.core();
                let applied = core
                    .engine
                    .validation_result(net, attempt, result, Instant::now());
                shared.dispatch(&mut core);
                applied
            };
            shared.wake.notify_one();
            if let Err(e) = applied {
                tracing::debug!(%net, "check result dropped: {e}");
            }
        });
        if let Some(old) = self.checks.insert(net, task) {
            old.abort();
        }
    }
}
