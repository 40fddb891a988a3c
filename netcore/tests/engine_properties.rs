//! Property test: random sequences of bearer reports, checks, requests and time,
//! checked against the invariants subscribers rely on.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use netcore::engine::{Action, BearerId, ConnectionId, Engine, NetEvent, Output, ValidationResult};
use netcore::{AppId, BearerEvent, NetBearType, NetCap, NetHandle, NetSpecifier, NetworkInfo};
use proptest::prelude::*;

const BEARERS: [NetBearType; 5] = [
    NetBearType::Ethernet,
    NetBearType::Wifi,
    NetBearType::Cellular,
    NetBearType::Bluetooth,
    NetBearType::Vpn,
];

#[derive(Debug, Clone)]
enum Op {
    Up {
        bearer: usize,
        key: u8,
        internet: bool,
        quality: Option<u8>,
        blocked: bool,
    },
    Down {
        bearer: usize,
        key: u8,
    },
    Check {
        pick: usize,
        result: u8,
    },
    Register {
        app: u32,
        bearers: Vec<usize>,
        validated: bool,
        default: bool,
        timeout_ms: u32,
    },
    Unregister {
        pick: usize,
    },
    Report {
        pick: usize,
    },
    Advance {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..5usize, 0..3u8, proptest::bool::weighted(0.8), proptest::option::of(0..=100u8), proptest::bool::weighted(0.1))
            .prop_map(|(bearer, key, internet, quality, blocked)| Op::Up { bearer, key, internet, quality, blocked }),
        2 => (0..5usize, 0..3u8).prop_map(|(bearer, key)| Op::Down { bearer, key }),
        3 => (any::<usize>(), 0..4u8).prop_map(|(pick, result)| Op::Check { pick, result }),
        3 => (0..3u32, proptest::collection::vec(0..5usize, 0..3), any::<bool>(), any::<bool>(), prop_oneof![Just(0u32), 1..5000u32])
            .prop_map(|(app, bearers, validated, default, timeout_ms)| Op::Register { app, bearers, validated, default, timeout_ms }),
        1 => any::<usize>().prop_map(|pick| Op::Unregister { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Report { pick }),
        2 => (0..40_000u64).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// What a subscriber has seen so far on one connection.
#[derive(Debug, Default)]
struct Seen {
    current: Option<NetHandle>,
    ever_available: bool,
    finished: bool,
    /// Events that must come next: caps then props after an Available.
    expect: Vec<&'static str>,
    is_default_request: bool,
}

struct World {
    engine: Engine,
    bearers: Vec<BearerId>,
    now: Instant,
    seen: BTreeMap<ConnectionId, Seen>,
    attempts: BTreeMap<NetHandle, u32>,
    /// The networks the lifecycle actions say are up.
    up: BTreeSet<NetHandle>,
    ever_ids: BTreeSet<u32>,
    next_connection: u64,
}

impl World {
    fn new() -> Self {
        let mut engine = Engine::default();
        let bearers = BEARERS.iter().map(|&t| engine.add_bearer(t)).collect();
        Self {
            engine,
            bearers,
            now: Instant::now(),
            seen: BTreeMap::new(),
            attempts: BTreeMap::new(),
            up: BTreeSet::new(),
            ever_ids: BTreeSet::new(),
            next_connection: 1,
        }
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Up {
                bearer,
                key,
                internet,
                quality,
                blocked,
            } => {
                let t = BEARERS[bearer];
                let mut info = NetworkInfo::new(t, &format!("if{key}"))
                    .with_capability(NetCap::Internet, internet);
                info.quality = quality;
                info.blocked = blocked;
                let known_before = self
                    .engine
                    .network_of(self.bearers[bearer], &format!("k{key}"));
                let event = BearerEvent::Appeared {
                    key: format!("k{key}"),
                    info,
                };
                let net = self
                    .engine
                    .bearer_event(self.bearers[bearer], event, self.now)
                    .unwrap();
                prop_assert!(net.net_id() >= 100);
                if known_before.is_none() {
                    prop_assert!(self.ever_ids.insert(net.net_id()), "netId {} reused", net);
                    prop_assert_eq!(Some(&net.net_id()), self.ever_ids.last(), "ids grow");
                }
            }
            Op::Down { bearer, key } => {
                let event = BearerEvent::Gone {
                    key: format!("k{key}"),
                };
                let known = self
                    .engine
                    .network_of(self.bearers[bearer], &format!("k{key}"))
                    .is_some();
                let result = self
                    .engine
                    .bearer_event(self.bearers[bearer], event, self.now);
                prop_assert_eq!(result.is_ok(), known);
            }
            Op::Check { pick, result } => {
                if !self.attempts.is_empty() {
                    let (&net, &attempt) = self
                        .attempts
                        .iter()
                        .nth(pick % self.attempts.len())
                        .unwrap();
                    let result = match result {
                        0 => ValidationResult::Validated,
                        1 => ValidationResult::Partial,
                        2 => ValidationResult::Portal {
                            url: "http://portal.test/".into(),
                        },
                        _ => ValidationResult::Failed,
                    };
                    if self
                        .engine
                        .validation_result(net, attempt, result, self.now)
                        .is_ok()
                    {
                        self.attempts.remove(&net);
                    }
                }
            }
            Op::Register {
                app,
                bearers,
                validated,
                default,
                timeout_ms,
            } => {
                let spec = (!default).then(|| {
                    let types: Vec<NetBearType> = bearers.iter().map(|&b| BEARERS[b]).collect();
                    let caps: &[NetCap] = if validated { &[NetCap::Validated] } else { &[] };
                    NetSpecifier::new(&types, caps)
                });
                let id = ConnectionId(self.next_connection);
                self.next_connection += 1;
                self.engine
                    .register(AppId::from_uid(app), id, spec, timeout_ms, self.now)
                    .unwrap();
                self.seen.insert(
                    id,
                    Seen {
                        is_default_request: default,
                        ..Seen::default()
                    },
                );
            }
            Op::Unregister { pick } => {
                if !self.seen.is_empty() {
                    let id = *self.seen.keys().nth(pick % self.seen.len()).unwrap();
                    self.engine.unregister(id, self.now).unwrap();
                    self.seen.remove(&id);
                }
            }
            Op::Report { pick } => {
                let nets = self.engine.all_nets();
                if !nets.is_empty() {
                    self.engine
                        .report_net_connected(nets[pick % nets.len()], self.now)
                        .unwrap();
                }
            }
            Op::Advance { ms } => {
                self.now += Duration::from_millis(ms);
                self.engine.handle_timeout(self.now);
            }
        }
        self.check_outputs()?;
        self.check_state()
    }

    fn check_outputs(&mut self) -> Result<(), TestCaseError> {
        let outputs: Vec<Output> = self.engine.drain_outputs().collect();
        for output in outputs {
            let (id, event) = match output {
                Output::Action(Action::StartValidation { net, attempt }) => {
                    self.attempts.insert(net, attempt);
                    continue;
                }
                Output::Action(Action::CancelValidation { net }) => {
                    self.attempts.remove(&net);
                    continue;
                }
                Output::Action(Action::NetworkUp { net, properties }) => {
                    prop_assert!(self.up.insert(net), "{net} up twice");
                    prop_assert_eq!(
                        &*self.engine.connection_properties(net).unwrap(),
                        &*properties
                    );
                    continue;
                }
                Output::Action(Action::NetworkChanged { net, .. }) => {
                    prop_assert!(self.up.contains(&net), "{net} changed while not up");
                    continue;
                }
                Output::Action(Action::NetworkDown { net }) => {
                    prop_assert!(self.up.remove(&net), "{net} down while not up");
                    continue;
                }
                Output::Event { connection, event } => (connection, event),
                _ => continue,
            };
            if let NetEvent::Available(net) = &event {
                prop_assert!(self.up.contains(net), "netAvailable({net}) before it is up");
            }
            let seen = self.seen.get_mut(&id);
            prop_assert!(
                seen.is_some(),
                "event {:?} for unregistered {:?}",
                event,
                id
            );
            let seen = seen.unwrap();
            prop_assert!(!seen.finished, "event {:?} after netUnavailable", event);
            if let Some(expected) = seen.expect.first() {
                prop_assert_eq!(*expected, event.name(), "after netAvailable");
                seen.expect.remove(0);
            }
            match &event {
                NetEvent::Available(h) => {
                    prop_assert_eq!(seen.current, None, "netAvailable while holding a network");
                    seen.current = Some(*h);
                    seen.ever_available = true;
                    seen.expect = vec!["netCapabilitiesChange", "netConnectionPropertiesChange"];
                }
                NetEvent::Lost(h) => {
                    prop_assert!(seen.ever_available, "netLost without netAvailable");
                    prop_assert_eq!(seen.current, Some(*h), "netLost of another network");
                    seen.current = None;
                }
                NetEvent::Unavailable => {
                    prop_assert!(!seen.ever_available, "netUnavailable after netAvailable");
                    seen.finished = true;
                }
                other => {
                    prop_assert_eq!(
                        seen.current,
                        other.net_handle(),
                        "change of another network"
                    );
                }
            }
        }
        Ok(())
    }

    fn check_state(&self) -> Result<(), TestCaseError> {
        let nets = self.engine.all_nets();
        prop_assert!(nets.windows(2).all(|w| w[0] < w[1]), "ids unique");
        prop_assert_eq!(
            nets.iter().copied().collect::<BTreeSet<_>>(),
            self.up.clone(),
            "the lifecycle actions follow every network"
        );
        prop_assert!(nets.iter().all(|n| n.net_id() >= 100));
        let default = self.engine.default_net();
        if !default.is_none() {
            let caps = self.engine.net_capabilities(default).unwrap();
            prop_assert!(
                caps.network_cap.contains(NetCap::Internet),
                "default without INTERNET"
            );
            prop_assert!(
                !caps.bearer_types.contains(&NetBearType::Vpn),
                "VPN as default"
            );
        }
        for seen in self.seen.values().filter(|s| s.is_default_request) {
            let held = seen.current.unwrap_or(NetHandle::NONE);
            prop_assert_eq!(
                held,
                default,
                "every default request holds the one default network"
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn engine_keeps_its_promises(ops in proptest::collection::vec(op(), 1..80)) {
        let mut world = World::new();
        for op in ops {
            world.apply(op)?;
        }
    }
}
