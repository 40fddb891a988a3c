//! The connection engine: a deterministic state machine without I/O.
//!
//! Inputs are method calls: a bearer reported a network ([`Engine::bearer_event`]), a
//! check finished ([`Engine::validation_result`]), an app registered a request or
//! bound itself to a network, a timer expired ([`Engine::handle_timeout`]). Every
//! input takes the current time; the engine never reads a clock. Outputs queue up
//! and are taken with [`Engine::poll_output`]: events for subscribers and actions for
//! the shell (start a check, activate or release a network, program the default).
//!
//! Event order for a request follows the seed: `netAvailable`, then
//! `netCapabilitiesChange`, then `netConnectionPropertiesChange` when a network
//! becomes available to it; `netLost` when it goes (on a switch, before the new
//! network's `netAvailable`); `netUnavailable` when nothing came before the timeout.

mod select;
mod types;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::AppId;
use crate::bearer::{BearerEvent, MAX_LIST_LEN, MAX_NAME_LEN, NetworkInfo};
use crate::error::{Error, Result};
use crate::model::{
    ConnectionProperties, NetBearType, NetBlockStatusInfo, NetCap, NetCapabilities,
    NetCapabilityInfo, NetConnectionPropertyInfo, NetHandle, NetSpecifier,
};

use select::Candidate;
pub use types::{
    Action, BearerId, ConnectionId, DeviceProfile, EngineConfig, NetEvent, Output,
    ValidationResult, ValidationState,
};

/// Longest extended attribute (`setNetExtAttribute`) accepted, in bytes.
pub const MAX_EXT_ATTRIBUTE_LEN: usize = 4096;

/// Most networks one bearer may have at once; a report of one more is refused.
pub const MAX_NETWORKS_PER_BEARER: usize = 1024;

/// A snapshot of one network, for listings (`netcorectl list`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct NetworkSnapshot {
    /// The handle.
    pub handle: NetHandle,
    /// The bearer that reported it.
    pub bearer: BearerId,
    /// The bearer's key for it.
    pub key: String,
    /// The seed's `bearerPrivateIdentifier`.
    pub identifier: Option<String>,
    /// Published capabilities.
    pub capabilities: Arc<NetCapabilities>,
    /// Published properties.
    pub properties: Arc<ConnectionProperties>,
    /// Quality in percent, when known.
    pub quality: Option<u8>,
    /// Whether it is blocked.
    pub blocked: bool,
    /// Its validation state.
    pub validation: ValidationState,
    /// Whether it is the default network.
    pub is_default: bool,
    /// What only its bearer knows (Wi-Fi SSID, cellular APN, ...).
    pub details: crate::bearer::BearerDetails,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    RequestTimeout(ConnectionId),
    Linger(NetHandle),
    Recheck(NetHandle, u32),
}

type TimerKey = (Instant, u64);

#[derive(Debug)]
struct Validation {
    attempt: u32,
    checking: bool,
    last: Option<ValidationResult>,
    backoff: Duration,
    recheck_timer: Option<TimerKey>,
}

#[derive(Debug)]
struct Network {
    bearer: BearerId,
    key: String,
    info: NetworkInfo,
    validation: Validation,
    caps: Arc<NetCapabilities>,
    props: Arc<ConnectionProperties>,
    ext_attribute: String,
    /// How many requests (and the default slot) this network serves now.
    serving: usize,
}

impl Network {
    fn is_validated(&self) -> bool {
        self.validation.last == Some(ValidationResult::Validated)
    }

    fn can_be_default(&self) -> bool {
        self.caps.network_cap.contains(NetCap::Internet)
            && self.caps.network_cap.contains(NetCap::NotVpn)
            && self.info.bearer_type != NetBearType::Vpn
    }

    fn candidate(&self, handle: NetHandle) -> Candidate {
        Candidate {
            handle,
            bearer_type: self.info.bearer_type,
            validated: self.is_validated(),
            quality: self.info.quality,
        }
    }

    /// The capabilities to publish: the bearer's, minus the ones the engine owns,
    /// plus the validation state's.
    fn published_caps(&self) -> NetCapabilities {
        let mut network_cap = self.info.capabilities;
        for owned in [
            NetCap::Validated,
            NetCap::Portal,
            NetCap::CheckingConnectivity,
        ] {
            network_cap.remove(owned);
        }
        network_cap.set(NetCap::CheckingConnectivity, self.validation.checking);
        network_cap.set(NetCap::Validated, self.is_validated());
        network_cap.set(
            NetCap::Portal,
            matches!(self.validation.last, Some(ValidationResult::Portal { .. })),
        );
        NetCapabilities {
            link_up_bandwidth_kbps: self.info.link_up_bandwidth_kbps,
            link_down_bandwidth_kbps: self.info.link_down_bandwidth_kbps,
            network_cap,
            bearer_types: vec![self.info.bearer_type],
        }
    }
}

#[derive(Debug)]
struct Request {
    app: AppId,
    spec: Option<NetSpecifier>,
    satisfier: Option<NetHandle>,
    ever_available: bool,
    /// Timed out with `netUnavailable`: it gets no further events.
    finished: bool,
    activation_sent: bool,
    timeout: Option<TimerKey>,
}

#[derive(Debug, Default)]
struct AppState {
    requests: usize,
    bound: NetHandle,
}

/// A bearer the engine knows.
#[derive(Debug)]
struct BearerState {
    bearer_type: NetBearType,
    /// How many networks it has now.
    networks: usize,
}

/// What changed on a network, for the change events of the requests it keeps serving.
#[derive(Debug, Clone, Copy, Default)]
struct Changes {
    caps: bool,
    props: bool,
    blocked: bool,
}

impl Changes {
    fn any(self) -> bool {
        self.caps || self.props || self.blocked
    }
}

/// The connection engine. See the [module documentation](self).
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    bearers: BTreeMap<BearerId, BearerState>,
    networks: BTreeMap<NetHandle, Network>,
    by_key: HashMap<(BearerId, String), NetHandle>,
    last_handle: NetHandle,
    default: Option<NetHandle>,
    requests: BTreeMap<ConnectionId, Request>,
    apps: HashMap<AppId, AppState>,
    timers: BTreeMap<TimerKey, Timer>,
    timer_seq: u64,
    outputs: VecDeque<Output>,
    observe_all: bool,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new(EngineConfig::default())
    }
}

impl Engine {
    /// An engine with no bearers, networks or requests.
    pub fn new(config: EngineConfig) -> Self {
        Self {
            config,
            bearers: BTreeMap::new(),
            networks: BTreeMap::new(),
            by_key: HashMap::new(),
            last_handle: NetHandle::NONE,
            default: None,
            requests: BTreeMap::new(),
            apps: HashMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            outputs: VecDeque::new(),
            observe_all: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    // ----- outputs and time -----

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Takes every queued output.
    pub fn drain_outputs(&mut self) -> std::collections::vec_deque::Drain<'_, Output> {
        self.outputs.drain(..)
    }

    /// When [`Engine::handle_timeout`] should next be called.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.keys().next().map(|&(at, _)| at)
    }

    /// Runs every timer due at `now`: request timeouts (`netUnavailable`), the end
    /// of a network's linger (release), repeated checks.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            match entry.remove() {
                Timer::RequestTimeout(id) => self.request_timed_out(id),
                Timer::Linger(net) => self.linger_ended(net),
                Timer::Recheck(net, attempt) => {
                    if let Some(n) = self.networks.get_mut(&net)
                        && n.validation.attempt == attempt
                    {
                        n.validation.recheck_timer = None;
                        self.start_check(net, now);
                    }
                }
            }
        }
    }

    fn add_timer(&mut self, at: Instant, timer: Timer) -> TimerKey {
        self.timer_seq += 1;
        let key = (at, self.timer_seq);
        self.timers.insert(key, timer);
        key
    }

    fn emit(&mut self, connection: ConnectionId, event: NetEvent) {
        self.outputs.push_back(Output::Event { connection, event });
    }

    /// Turns on (or off) [`Output::Observed`]: the events of every network, as a
    /// request matching every network would see them, for monitors.
    pub fn observe_all(&mut self, on: bool) {
        self.observe_all = on;
    }

    fn observe(&mut self, event: impl FnOnce() -> NetEvent) {
        if self.observe_all {
            self.outputs.push_back(Output::Observed(event()));
        }
    }

    fn act(&mut self, action: Action) {
        self.outputs.push_back(Output::Action(action));
    }

    // ----- bearers -----

    /// Adds a bearer of `bearer_type`; its id names it in later calls and actions.
    pub fn add_bearer(&mut self, bearer_type: NetBearType) -> BearerId {
        let id = BearerId(self.bearers.keys().next_back().map_or(0, |b| b.0 + 1));
        self.bearers.insert(
            id,
            BearerState {
                bearer_type,
                networks: 0,
            },
        );
        id
    }

    /// Removes a bearer (it was unloaded): its networks go.
    pub fn remove_bearer(&mut self, bearer: BearerId, now: Instant) -> Result<()> {
        self.clear_bearer(bearer, now)?;
        self.bearers.remove(&bearer);
        Ok(())
    }

    /// A bearer failed (its peer went away, it crashed): its networks go, the bearer
    /// stays known so that it can report again when it is restarted.
    pub fn clear_bearer(&mut self, bearer: BearerId, now: Instant) -> Result<()> {
        if !self.bearers.contains_key(&bearer) {
            return Err(Error::invalid(format!("no bearer {}", bearer.0)));
        }
        let gone: Vec<NetHandle> = self
            .networks
            .iter()
            .filter(|(_, n)| n.bearer == bearer)
            .map(|(&h, _)| h)
            .collect();
        for net in gone {
            self.remove_network(net, now);
        }
        Ok(())
    }

    /// Applies a bearer's report. Returns the network it is about. A malformed report
    /// (wrong bearer type, oversized fields, an unknown key in `Gone`, a network past
    /// [`MAX_NETWORKS_PER_BEARER`]) is refused with 2100001 and changes nothing.
    pub fn bearer_event(
        &mut self,
        bearer: BearerId,
        event: BearerEvent,
        now: Instant,
    ) -> Result<NetHandle> {
        let state = self
            .bearers
            .get(&bearer)
            .ok_or_else(|| Error::invalid(format!("no bearer {}", bearer.0)))?;
        let (bearer_type, networks) = (state.bearer_type, state.networks);
        match event {
            BearerEvent::Appeared { key, info } | BearerEvent::Changed { key, info } => {
                check_report(bearer_type, &key, &info)?;
                match self.by_key.get(&(bearer, key.clone())) {
                    Some(&net) => {
                        self.update_network(net, info, now);
                        Ok(net)
                    }
                    None if networks >= MAX_NETWORKS_PER_BEARER => Err(Error::invalid(format!(
                        "bad bearer report: bearer {} already has {networks} networks, the \
                         most one bearer may have",
                        bearer.0
                    ))),
                    None => Ok(self.add_network(bearer, key, info, now)),
                }
            }
            BearerEvent::Gone { key } => {
                let net = self
                    .by_key
                    .get(&(bearer, key.clone()))
                    .copied()
                    .ok_or_else(|| {
                        Error::invalid(format!("bearer {} has no network {key:?}", bearer.0))
                    })?;
                self.remove_network(net, now);
                Ok(net)
            }
        }
    }

    fn add_network(
        &mut self,
        bearer: BearerId,
        key: String,
        info: NetworkInfo,
        now: Instant,
    ) -> NetHandle {
        let handle = self.last_handle.next();
        self.last_handle = handle;
        let props = Arc::new(info.properties.clone());
        let mut network = Network {
            bearer,
            key: key.clone(),
            info,
            validation: Validation {
                attempt: 0,
                checking: false,
                last: None,
                backoff: self.config.recheck_initial,
                recheck_timer: None,
            },
            caps: Arc::default(),
            props,
            ext_attribute: String::new(),
            serving: 0,
        };
        let check = network.info.capabilities.contains(NetCap::Internet);
        if check {
            network.validation.attempt = 1;
            network.validation.checking = true;
        }
        network.caps = Arc::new(network.published_caps());
        tracing::debug!(net = %handle, key, "network appeared");
        self.act(Action::NetworkUp {
            net: handle,
            properties: Arc::clone(&network.props),
        });
        self.networks.insert(handle, network);
        self.by_key.insert((bearer, key), handle);
        if let Some(state) = self.bearers.get_mut(&bearer) {
            state.networks += 1;
        }
        if self.observe_all {
            let outputs = &mut self.outputs;
            if let Some(network) = self.networks.get(&handle) {
                available_events(network, handle, |e| outputs.push_back(Output::Observed(e)));
            }
        }
        if check {
            self.act(Action::StartValidation {
                net: handle,
                attempt: 1,
            });
        }
        self.reassign(now, None);
        handle
    }

    fn update_network(&mut self, net: NetHandle, info: NetworkInfo, now: Instant) {
        let Some(network) = self.networks.get_mut(&net) else {
            return;
        };
        let had_internet = network.info.capabilities.contains(NetCap::Internet);
        let blocked_changed = network.info.blocked != info.blocked;
        let props_changed = network.info.properties != info.properties;
        network.info = info;
        let changed_props = props_changed.then(|| {
            network.props = Arc::new(network.info.properties.clone());
            Arc::clone(&network.props)
        });
        let gains_internet = !had_internet && network.info.capabilities.contains(NetCap::Internet);
        if let Some(properties) = changed_props {
            self.act(Action::NetworkChanged { net, properties });
        }
        let changes = Changes {
            caps: self.refresh_caps(net),
            props: props_changed,
            blocked: blocked_changed,
        };
        self.reassign(now, Some((net, changes)));
        if gains_internet {
            self.start_check(net, now);
        }
    }

    /// Recomputes a network's published capabilities; true when they changed.
    fn refresh_caps(&mut self, net: NetHandle) -> bool {
        let Some(network) = self.networks.get_mut(&net) else {
            return false;
        };
        let caps = network.published_caps();
        if *network.caps == caps {
            return false;
        }
        network.caps = Arc::new(caps);
        true
    }

    fn remove_network(&mut self, net: NetHandle, now: Instant) {
        let Some(network) = self.networks.remove(&net) else {
            return;
        };
        tracing::debug!(%net, key = network.key, "network gone");
        self.by_key.remove(&(network.bearer, network.key));
        if let Some(state) = self.bearers.get_mut(&network.bearer) {
            state.networks = state.networks.saturating_sub(1);
        }
        self.observe(|| NetEvent::Lost(net));
        if let Some(key) = network.validation.recheck_timer {
            self.timers.remove(&key);
        }
        if network.validation.checking {
            self.act(Action::CancelValidation { net });
        }
        self.act(Action::NetworkDown { net });
        self.reassign(now, None);
    }

    // ----- validation -----

    /// Applies the result of check `attempt` of `net`. A result for a network that
    /// went away, or of an attempt a newer check replaced, is refused (2100001) and
    /// changes nothing: no stale result is ever applied.
    pub fn validation_result(
        &mut self,
        net: NetHandle,
        attempt: u32,
        result: ValidationResult,
        now: Instant,
    ) -> Result<()> {
        let config_initial = self.config.recheck_initial;
        let config_max = self.config.recheck_max;
        let portal_wait = self.config.portal_recheck;
        let network = self
            .networks
            .get_mut(&net)
            .filter(|n| n.validation.checking && n.validation.attempt == attempt)
            .ok_or_else(|| {
                Error::invalid(format!("no check {attempt} is running on network {net}"))
            })?;
        let v = &mut network.validation;
        v.checking = false;
        let wait = match &result {
            ValidationResult::Validated => {
                v.backoff = config_initial;
                None
            }
            ValidationResult::Portal { .. } => Some(portal_wait),
            ValidationResult::Partial | ValidationResult::Failed => {
                let wait = v.backoff;
                v.backoff = (v.backoff * 2).min(config_max);
                Some(wait)
            }
        };
        tracing::debug!(%net, ?result, "check finished");
        v.last = Some(result);
        if let Some(wait) = wait {
            let key = self.add_timer(now + wait, Timer::Recheck(net, attempt));
            if let Some(n) = self.networks.get_mut(&net) {
                n.validation.recheck_timer = Some(key);
            }
        }
        self.caps_changed(net, now);
        Ok(())
    }

    fn start_check(&mut self, net: NetHandle, now: Instant) {
        let Some(network) = self.networks.get_mut(&net) else {
            return;
        };
        if !network.info.capabilities.contains(NetCap::Internet) {
            return;
        }
        let v = &mut network.validation;
        let cancel = v.checking;
        v.attempt += 1;
        v.checking = true;
        let attempt = v.attempt;
        if let Some(key) = v.recheck_timer.take() {
            self.timers.remove(&key);
        }
        if cancel {
            self.act(Action::CancelValidation { net });
        }
        self.act(Action::StartValidation { net, attempt });
        self.caps_changed(net, now);
    }

    fn caps_changed(&mut self, net: NetHandle, now: Instant) {
        if self.refresh_caps(net) {
            let changes = Changes {
                caps: true,
                ..Changes::default()
            };
            self.reassign(now, Some((net, changes)));
        }
    }

    /// `reportNetConnected`: the app reached the internet through `net`; check it
    /// again now. An unknown network is 2100001.
    pub fn report_net_connected(&mut self, net: NetHandle, now: Instant) -> Result<()> {
        self.recheck_now(net, now)
    }

    /// `reportNetDisconnected`: the app failed to reach the internet through `net`;
    /// check it again now. An unknown network is 2100001.
    pub fn report_net_disconnected(&mut self, net: NetHandle, now: Instant) -> Result<()> {
        self.recheck_now(net, now)
    }

    fn recheck_now(&mut self, net: NetHandle, now: Instant) -> Result<()> {
        let initial = self.config.recheck_initial;
        let network = self.network_mut(net)?;
        network.validation.backoff = initial;
        self.start_check(net, now);
        Ok(())
    }

    // ----- selection -----

    /// Re-selects the default network and every request's network, emitting the
    /// events of every change. `changed` names a network whose capabilities,
    /// properties or blocked state changed: requests it keeps serving are told.
    fn reassign(&mut self, now: Instant, changed: Option<(NetHandle, Changes)>) {
        if let Some((net, changes)) = changed.filter(|_| self.observe_all) {
            let outputs = &mut self.outputs;
            if let Some(network) = self.networks.get(&net) {
                change_events(network, net, changes, |e| {
                    outputs.push_back(Output::Observed(e))
                });
            }
        }
        let previous_default = self.default;
        let candidates: Vec<Candidate> = self
            .networks
            .iter()
            .filter(|(_, n)| n.can_be_default())
            .map(|(&h, n)| n.candidate(h))
            .collect();
        let new_default = select::select(&self.config, &candidates, previous_default);
        let mut released = Vec::new();
        if new_default != previous_default {
            self.default = new_default;
            if let Some(old) = previous_default {
                released.extend(self.unserve(old));
            }
            if let Some(new) = new_default {
                self.serve(new);
            }
            tracing::info!(
                from = %previous_default.unwrap_or(NetHandle::NONE),
                to = %new_default.unwrap_or(NetHandle::NONE),
                "default network changed"
            );
            self.act(Action::DefaultNetworkChanged {
                net: new_default.unwrap_or(NetHandle::NONE),
            });
        }

        let ids: Vec<ConnectionId> = self.requests.keys().copied().collect();
        for id in ids {
            released.extend(self.reassign_request(id, changed));
        }
        for net in released {
            self.start_linger(net, now);
        }
    }

    /// Re-selects one request's network. Returns a network it stopped using.
    fn reassign_request(
        &mut self,
        id: ConnectionId,
        changed: Option<(NetHandle, Changes)>,
    ) -> Option<NetHandle> {
        let request = self.requests.get(&id)?;
        if request.finished {
            return None;
        }
        let target = match &request.spec {
            None => self.default,
            Some(spec) => {
                let candidates: Vec<Candidate> = self
                    .networks
                    .iter()
                    .filter(|(_, n)| spec.matches(&n.caps, n.info.identifier.as_deref()))
                    .map(|(&h, n)| n.candidate(h))
                    .collect();
                select::select(&self.config, &candidates, request.satisfier)
            }
        };
        let current = request.satisfier;
        if target == current {
            match (target, changed) {
                (Some(net), Some((changed_net, changes)))
                    if net == changed_net && changes.any() =>
                {
                    self.emit_changes(id, net, changes)
                }
                (None, _) => self.request_activation(id),
                _ => {}
            }
            return None;
        }
        let mut released = None;
        if let Some(old) = current {
            self.emit(id, NetEvent::Lost(old));
            released = self.unserve(old);
        }
        if let Some(request) = self.requests.get_mut(&id) {
            request.satisfier = target;
        }
        match target {
            Some(new) => {
                self.serve(new);
                if let Some(request) = self.requests.get_mut(&id) {
                    request.ever_available = true;
                    request.activation_sent = false;
                    if let Some(key) = request.timeout.take() {
                        self.timers.remove(&key);
                    }
                }
                self.emit_available(id, new);
            }
            None => self.request_activation(id),
        }
        released
    }

    fn emit_available(&mut self, id: ConnectionId, net: NetHandle) {
        let outputs = &mut self.outputs;
        if let Some(network) = self.networks.get(&net) {
            available_events(network, net, |event| {
                outputs.push_back(Output::Event {
                    connection: id,
                    event,
                })
            });
        }
    }

    fn emit_changes(&mut self, id: ConnectionId, net: NetHandle, changes: Changes) {
        let outputs = &mut self.outputs;
        if let Some(network) = self.networks.get(&net) {
            change_events(network, net, changes, |event| {
                outputs.push_back(Output::Event {
                    connection: id,
                    event,
                })
            });
        }
    }

    /// Asks the bearers that could satisfy an unsatisfied request to bring up a
    /// network, once until it is satisfied.
    fn request_activation(&mut self, id: ConnectionId) {
        let Some(request) = self.requests.get_mut(&id) else {
            return;
        };
        let Some(spec) = &request.spec else {
            return;
        };
        if request.activation_sent || spec.net_capabilities.bearer_types.is_empty() {
            return;
        }
        request.activation_sent = true;
        let identifier = spec.bearer_private_identifier.clone();
        let wanted = spec.net_capabilities.bearer_types.clone();
        let bearers: Vec<BearerId> = self
            .bearers
            .iter()
            .filter(|(_, b)| wanted.contains(&b.bearer_type))
            .map(|(&b, _)| b)
            .collect();
        for bearer in bearers {
            self.act(Action::Activate {
                bearer,
                request: id,
                identifier: identifier.clone(),
            });
        }
    }

    fn serve(&mut self, net: NetHandle) {
        if let Some(n) = self.networks.get_mut(&net) {
            n.serving += 1;
        }
    }

    /// Counts one user less of `net`; returns it when nobody uses it any more.
    fn unserve(&mut self, net: NetHandle) -> Option<NetHandle> {
        let n = self.networks.get_mut(&net)?;
        n.serving = n.serving.saturating_sub(1);
        (n.serving == 0).then_some(net)
    }

    fn start_linger(&mut self, net: NetHandle, now: Instant) {
        if self.networks.get(&net).is_some_and(|n| n.serving == 0) {
            self.add_timer(now + self.config.linger, Timer::Linger(net));
        }
    }

    fn linger_ended(&mut self, net: NetHandle) {
        if let Some(n) = self.networks.get(&net).filter(|n| n.serving == 0) {
            let action = Action::Release {
                bearer: n.bearer,
                key: n.key.clone(),
                net,
            };
            self.act(action);
        }
    }

    // ----- requests -----

    /// `NetConnection.register`: `app` registers `connection` for `spec` (the default
    /// network when `None`). `timeout_ms` (only with a specifier; 0 = none) gives
    /// `netUnavailable` when no network came in time. Registering a registered
    /// connection is 2101008; an app past its request limit gets 2101022.
    pub fn register(
        &mut self,
        app: AppId,
        connection: ConnectionId,
        spec: Option<NetSpecifier>,
        timeout_ms: u32,
        now: Instant,
    ) -> Result<()> {
        if self.requests.contains_key(&connection) {
            return Err(Error::CallbackExists(format!(
                "connection {} is already registered",
                connection.0
            )));
        }
        if let Some(id) = spec
            .as_ref()
            .and_then(|s| s.bearer_private_identifier.as_ref())
            && id.len() > MAX_NAME_LEN
        {
            return Err(Error::invalid(format!(
                "bearerPrivateIdentifier is {} bytes, more than {MAX_NAME_LEN}",
                id.len()
            )));
        }
        let limit = self.config.max_requests_per_app;
        let state = self.apps.entry(app).or_default();
        if state.requests >= limit {
            return Err(Error::TooManyRequests(format!(
                "app {app} already has {limit} registered connections"
            )));
        }
        state.requests += 1;
        let timeout = (spec.is_some() && timeout_ms > 0).then(|| {
            self.add_timer(
                now + Duration::from_millis(timeout_ms.into()),
                Timer::RequestTimeout(connection),
            )
        });
        self.requests.insert(
            connection,
            Request {
                app,
                spec,
                satisfier: None,
                ever_available: false,
                finished: false,
                activation_sent: false,
                timeout,
            },
        );
        let released = self.reassign_request(connection, None);
        if let Some(net) = released {
            self.start_linger(net, now);
        }
        Ok(())
    }

    /// `NetConnection.unregister`. A connection that is not registered is 2101007.
    pub fn unregister(&mut self, connection: ConnectionId, now: Instant) -> Result<()> {
        let request = self.requests.remove(&connection).ok_or_else(|| {
            Error::CallbackNotFound(format!("connection {} is not registered", connection.0))
        })?;
        if let Some(key) = request.timeout {
            self.timers.remove(&key);
        }
        if let Some(net) = request.satisfier.and_then(|net| self.unserve(net)) {
            self.start_linger(net, now);
        }
        if let Some(state) = self.apps.get_mut(&request.app) {
            state.requests = state.requests.saturating_sub(1);
        }
        self.forget_idle_app(request.app);
        Ok(())
    }

    /// Drops everything of `app` (it exited): its requests and its binding.
    pub fn remove_app(&mut self, app: AppId, now: Instant) {
        let ids: Vec<ConnectionId> = self
            .requests
            .iter()
            .filter(|(_, r)| r.app == app)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            let _ = self.unregister(id, now);
        }
        if self
            .apps
            .remove(&app)
            .is_some_and(|state| !state.bound.is_none())
        {
            self.act(Action::AppNetworkChanged {
                app,
                net: NetHandle::NONE,
            });
        }
    }

    fn request_timed_out(&mut self, id: ConnectionId) {
        let Some(request) = self.requests.get_mut(&id) else {
            return;
        };
        request.timeout = None;
        if request.ever_available || request.satisfier.is_some() {
            return;
        }
        request.finished = true;
        self.emit(id, NetEvent::Unavailable);
    }

    /// How many requests `app` has registered.
    pub fn request_count(&self, app: AppId) -> usize {
        self.apps.get(&app).map_or(0, |s| s.requests)
    }

    fn forget_idle_app(&mut self, app: AppId) {
        if self
            .apps
            .get(&app)
            .is_some_and(|s| s.requests == 0 && s.bound.is_none())
        {
            self.apps.remove(&app);
        }
    }

    // ----- app binding -----

    /// `setAppNet`: binds `app` to `net`; [`NetHandle::NONE`] unbinds. A network that
    /// does not exist is 2100001. The binding stays when the network goes, as the
    /// seed says: the app unbinds itself.
    pub fn set_app_net(&mut self, app: AppId, net: NetHandle) -> Result<()> {
        if !net.is_none() {
            self.network(net)?;
        }
        self.apps.entry(app).or_default().bound = net;
        self.forget_idle_app(app);
        self.act(Action::AppNetworkChanged { app, net });
        Ok(())
    }

    /// `getAppNet`: the network `app` is bound to, or [`NetHandle::NONE`].
    pub fn app_net(&self, app: AppId) -> NetHandle {
        self.apps.get(&app).map_or(NetHandle::NONE, |s| s.bound)
    }

    // ----- queries -----

    fn network(&self, net: NetHandle) -> Result<&Network> {
        self.networks
            .get(&net)
            .ok_or_else(|| Error::invalid(format!("netId {net} is not a connected network")))
    }

    fn network_mut(&mut self, net: NetHandle) -> Result<&mut Network> {
        self.networks
            .get_mut(&net)
            .ok_or_else(|| Error::invalid(format!("netId {net} is not a connected network")))
    }

    /// `getDefaultNet`: the default network, or [`NetHandle::NONE`].
    pub fn default_net(&self) -> NetHandle {
        self.default.unwrap_or(NetHandle::NONE)
    }

    /// `hasDefaultNet`.
    pub fn has_default_net(&self) -> bool {
        self.default.is_some()
    }

    /// `getAllNets`: every connected network, VPNs included, oldest first.
    pub fn all_nets(&self) -> Vec<NetHandle> {
        self.networks.keys().copied().collect()
    }

    /// `getNetCapabilities`. An unknown network is 2100001.
    pub fn net_capabilities(&self, net: NetHandle) -> Result<Arc<NetCapabilities>> {
        Ok(Arc::clone(&self.network(net)?.caps))
    }

    /// `getConnectionProperties`. An unknown network is 2100001.
    pub fn connection_properties(&self, net: NetHandle) -> Result<Arc<ConnectionProperties>> {
        Ok(Arc::clone(&self.network(net)?.props))
    }

    /// `isDefaultNetMetered`: the default network lacks NOT_METERED; false when there
    /// is no default network.
    pub fn is_default_net_metered(&self) -> bool {
        self.default
            .and_then(|net| self.networks.get(&net))
            .is_some_and(|n| !n.caps.network_cap.contains(NetCap::NotMetered))
    }

    /// `setNetExtAttribute`. An unknown network or an attribute over
    /// [`MAX_EXT_ATTRIBUTE_LEN`] bytes is 2100001.
    pub fn set_net_ext_attribute(&mut self, net: NetHandle, attribute: &str) -> Result<()> {
        if attribute.len() > MAX_EXT_ATTRIBUTE_LEN {
            return Err(Error::invalid(format!(
                "the extended attribute is {} bytes, more than {MAX_EXT_ATTRIBUTE_LEN}",
                attribute.len()
            )));
        }
        self.network_mut(net)?.ext_attribute = attribute.to_owned();
        Ok(())
    }

    /// `getNetExtAttribute`. An unknown network is 2100001.
    pub fn net_ext_attribute(&self, net: NetHandle) -> Result<String> {
        Ok(self.network(net)?.ext_attribute.clone())
    }

    /// A snapshot of `net` for listings. An unknown network is 2100001.
    pub fn snapshot(&self, net: NetHandle) -> Result<NetworkSnapshot> {
        let n = self.network(net)?;
        let validation = match (&n.validation.last, n.validation.checking) {
            (Some(result), _) => ValidationState::Checked(result.clone()),
            (None, true) => ValidationState::Checking,
            (None, false) => ValidationState::NotChecked,
        };
        Ok(NetworkSnapshot {
            handle: net,
            bearer: n.bearer,
            key: n.key.clone(),
            identifier: n.info.identifier.clone(),
            capabilities: Arc::clone(&n.caps),
            properties: Arc::clone(&n.props),
            quality: n.info.quality,
            blocked: n.info.blocked,
            details: n.info.details.clone(),
            validation,
            is_default: self.default == Some(net),
        })
    }

    /// The network a bearer's key names, if connected.
    pub fn network_of(&self, bearer: BearerId, key: &str) -> Option<NetHandle> {
        self.by_key.get(&(bearer, key.to_owned())).copied()
    }
}

/// Passes `netAvailable`, `netCapabilitiesChange`, `netConnectionPropertiesChange`
/// of `network`, and `netBlockStatusChange` when it is blocked, to `push`.
fn available_events(network: &Network, net: NetHandle, mut push: impl FnMut(NetEvent)) {
    push(NetEvent::Available(net));
    let changes = Changes {
        caps: true,
        props: true,
        blocked: network.info.blocked,
    };
    change_events(network, net, changes, push);
}

/// Passes the change events of `network` for what `changes` names, in the seed's
/// order, to `push`.
fn change_events(
    network: &Network,
    net: NetHandle,
    changes: Changes,
    mut push: impl FnMut(NetEvent),
) {
    if changes.caps {
        push(NetEvent::CapabilitiesChange(NetCapabilityInfo {
            net_handle: net,
            net_cap: Arc::clone(&network.caps),
        }));
    }
    if changes.props {
        push(NetEvent::ConnectionPropertiesChange(
            NetConnectionPropertyInfo {
                net_handle: net,
                connection_properties: Arc::clone(&network.props),
            },
        ));
    }
    if changes.blocked {
        push(NetEvent::BlockStatusChange(NetBlockStatusInfo {
            net_handle: net,
            blocked: network.info.blocked,
        }));
    }
}

/// Refuses a malformed bearer report.
fn check_report(bearer_type: NetBearType, key: &str, info: &NetworkInfo) -> Result<()> {
    let bad = |what: String| Err(Error::invalid(format!("bad bearer report: {what}")));
    if key.is_empty() || key.len() > MAX_NAME_LEN {
        return bad(format!("key of {} bytes", key.len()));
    }
    if info.bearer_type != bearer_type {
        return bad(format!(
            "a {bearer_type} bearer reported a {} network",
            info.bearer_type
        ));
    }
    let names = [
        info.identifier.as_deref().unwrap_or(""),
        &info.properties.interface_name,
    ];
    if let Some(long) = names
        .iter()
        .chain(info.details.strings().iter())
        .find(|n| n.len() > MAX_NAME_LEN)
    {
        return bad(format!("a name of {} bytes", long.len()));
    }
    if info.properties.domains.len() > MAX_NAME_LEN * 16 {
        return bad(format!(
            "domains of {} bytes",
            info.properties.domains.len()
        ));
    }
    let p = &info.properties;
    let longest = p
        .link_addresses
        .len()
        .max(p.routes.len())
        .max(p.dnses.len());
    if longest > MAX_LIST_LEN {
        return bad(format!("a list of {longest} entries"));
    }
    if p.routes.iter().any(|r| r.interface.len() > MAX_NAME_LEN) {
        return bad("a route interface name that is too long".into());
    }
    if let Some(q) = info.quality.filter(|&q| q > 100) {
        return bad(format!("quality {q} is over 100"));
    }
    Ok(())
}
