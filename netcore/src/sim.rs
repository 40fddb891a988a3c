//! A simulated bearer for engine tests and demos: its networks appear, change and go
//! when a test or a script says so. It never stands in for a real bearer.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use futures::channel::oneshot;

use crate::bearer::{ActivationRequest, Bearer, BearerEvent, NetworkInfo, ReportSink};
use crate::error::{Error, Result};
use crate::model::NetBearType;

/// One step of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimStep {
    /// A network connects.
    Connect(String, NetworkInfo),
    /// A network's state changes.
    Update(String, NetworkInfo),
    /// A network disconnects.
    Disconnect(String),
}

#[derive(Default)]
struct SimState {
    sink: Option<ReportSink>,
    networks: BTreeMap<String, NetworkInfo>,
    on_activate: HashMap<Option<String>, (String, NetworkInfo)>,
    activations: Vec<ActivationRequest>,
    releases: Vec<String>,
    stop: Option<oneshot::Sender<Result<()>>>,
}

/// A bearer whose networks are scripted. Reports go to the sink of the running
/// [`Bearer::run`]; steps taken before it runs are reported when it starts.
pub struct SimBearer {
    bearer_type: NetBearType,
    name: String,
    state: Mutex<SimState>,
}

impl SimBearer {
    /// A simulated bearer of `bearer_type`.
    pub fn new(bearer_type: NetBearType, name: impl Into<String>) -> Self {
        Self {
            bearer_type,
            name: name.into(),
            state: Mutex::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies one step and reports it if the bearer runs.
    pub fn step(&self, step: SimStep) {
        let mut state = self.state();
        let event = match step {
            SimStep::Connect(key, info) => {
                state.networks.insert(key.clone(), info.clone());
                BearerEvent::Appeared { key, info }
            }
            SimStep::Update(key, info) => {
                state.networks.insert(key.clone(), info.clone());
                BearerEvent::Changed { key, info }
            }
            SimStep::Disconnect(key) => {
                if state.networks.remove(&key).is_none() {
                    return;
                }
                BearerEvent::Gone { key }
            }
        };
        if let Some(sink) = &state.sink {
            sink.report(event);
        }
    }

    /// Applies the steps of a script in order.
    pub fn play(&self, script: impl IntoIterator<Item = SimStep>) {
        for step in script {
            self.step(step);
        }
    }

    /// A network connects.
    pub fn connect(&self, key: &str, info: NetworkInfo) {
        self.step(SimStep::Connect(key.into(), info));
    }

    /// A network's state changes.
    pub fn update(&self, key: &str, info: NetworkInfo) {
        self.step(SimStep::Update(key.into(), info));
    }

    /// A network disconnects.
    pub fn disconnect(&self, key: &str) {
        self.step(SimStep::Disconnect(key.into()));
    }

    /// When an activation for `identifier` arrives, network `key` connects.
    pub fn on_activate(&self, identifier: Option<&str>, key: &str, info: NetworkInfo) {
        self.state()
            .on_activate
            .insert(identifier.map(str::to_owned), (key.into(), info));
    }

    /// The activation requests received so far.
    pub fn activations(&self) -> Vec<ActivationRequest> {
        self.state().activations.clone()
    }

    /// The keys of the networks released so far.
    pub fn releases(&self) -> Vec<String> {
        self.state().releases.clone()
    }

    /// The keys of the networks connected now.
    pub fn connected(&self) -> Vec<String> {
        self.state().networks.keys().cloned().collect()
    }

    /// Makes the running [`Bearer::run`] fail with `reason`, as a crashed peer would.
    pub fn fail(&self, reason: &str) {
        let mut state = self.state();
        state.sink = None;
        if let Some(stop) = state.stop.take() {
            let _ = stop.send(Err(Error::Service(reason.to_owned())));
        }
    }
}

#[async_trait]
impl Bearer for SimBearer {
    fn bearer_type(&self) -> NetBearType {
        self.bearer_type
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn run(&self, sink: ReportSink) -> Result<()> {
        let (stop_tx, stop_rx) = oneshot::channel();
        {
            let mut state = self.state();
            for (key, info) in &state.networks {
                sink.report(BearerEvent::Appeared {
                    key: key.clone(),
                    info: info.clone(),
                });
            }
            state.sink = Some(sink);
            state.stop = Some(stop_tx);
        }
        stop_rx
            .await
            .unwrap_or_else(|_| Err(Error::Internal("simulated bearer dropped".into())))
    }

    async fn activate(&self, request: ActivationRequest) -> Result<()> {
        let scripted = {
            let mut state = self.state();
            state.activations.push(request.clone());
            state.on_activate.get(&request.identifier).cloned()
        };
        match scripted {
            Some((key, info)) => {
                self.connect(&key, info);
                Ok(())
            }
            None => Err(Error::Service(format!(
                "simulated bearer {} has no network for {:?}",
                self.name, request.identifier
            ))),
        }
    }

    async fn release(&self, key: &str) -> Result<()> {
        self.state().releases.push(key.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::FutureExt;

    use super::*;

    fn recording_sink() -> (ReportSink, Arc<Mutex<Vec<BearerEvent>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink_seen = Arc::clone(&seen);
        let sink = ReportSink::new(move |e| sink_seen.lock().unwrap().push(e));
        (sink, seen)
    }

    #[test]
    fn reports_existing_networks_at_start_then_steps() {
        let sim = SimBearer::new(NetBearType::Wifi, "sim-wifi");
        let info = NetworkInfo::new(NetBearType::Wifi, "wlan0");
        sim.connect("wlan0", info.clone());
        let (sink, seen) = recording_sink();
        let mut run = sim.run(sink).boxed();
        assert!((&mut run).now_or_never().is_none(), "run keeps going");
        sim.update("wlan0", info.clone().with_quality(50));
        sim.disconnect("wlan0");
        sim.disconnect("wlan0");
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                BearerEvent::Appeared {
                    key: "wlan0".into(),
                    info: info.clone()
                },
                BearerEvent::Changed {
                    key: "wlan0".into(),
                    info: info.with_quality(50)
                },
                BearerEvent::Gone {
                    key: "wlan0".into()
                },
            ]
        );
        sim.fail("peer crashed");
        let result = run.now_or_never().expect("run ended");
        assert_eq!(result.unwrap_err().code(), 2100002);
    }

    #[test]
    fn scripted_activation_connects_the_network() {
        let sim = SimBearer::new(NetBearType::Cellular, "sim-cell");
        let info = NetworkInfo::new(NetBearType::Cellular, "wwan1").with_identifier("slot1");
        sim.on_activate(Some("slot1"), "wwan1", info);
        let request = ActivationRequest::new(7, Some("slot1".into()));
        assert!(
            sim.activate(request.clone())
                .now_or_never()
                .unwrap()
                .is_ok()
        );
        assert_eq!(sim.connected(), vec!["wwan1".to_owned()]);
        assert_eq!(sim.activations(), vec![request]);
        let other = ActivationRequest::new(8, Some("slot0".into()));
        assert!(sim.activate(other).now_or_never().unwrap().is_err());
    }
}
