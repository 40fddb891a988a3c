//! Time from a peer event to the Wi-Fi bearer's report.
//!
//! Each iteration sends `DISCONNECT` on wpa_supplicant's control socket and
//! measures, from just before the command:
//! - `peer_event`: until a separate attached client receives
//!   `CTRL-EVENT-DISCONNECTED`;
//! - `bearer_report`: until the bearer's sink gets `Gone`.
//!
//! Then `RECONNECT`, waiting for `Appeared` (not measured). As root: the real
//! wpa_supplicant (`-D wired`) on a veth in a namespace of its own; otherwise the
//! in-process fake (`testing::FakeWpa`) on `lo`. Prints the medians over 50
//! repetitions after criterion's figures.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use netcore::{Bearer, BearerEvent, ReportSink};
use netcore_bearer_wifi::ctrl::{CtrlSocket, Monitor};
use netcore_bearer_wifi::protocol::Event;
use netcore_bearer_wifi::testing::{
    FakeState, FakeWpa, TempDir, WpaSupplicant, wpa_supplicant_installed,
};
use netcore_bearer_wifi::{WifiBearer, WifiConfig};
use netcore_link::testing::{NetNs, is_root};

const WAIT: Duration = Duration::from_secs(5);

struct Rig {
    runtime: tokio::runtime::Runtime,
    control: CtrlSocket,
    bearer: mpsc::Receiver<(BearerEvent, Instant)>,
    peer: mpsc::Receiver<Instant>,
}

impl Rig {
    /// Starts the bearer and an event watcher on `interface` of `dir` (on a runtime
    /// of 2 workers created in the calling thread's namespace).
    fn start(runtime: tokio::runtime::Runtime, dir: &Path, interface: &str) -> Self {
        let mut config = WifiConfig::default();
        config.interfaces = vec![interface.into()];
        config.control_dir = dir.to_owned();
        let bearer = WifiBearer::new(config).unwrap();
        let (bearer_tx, bearer_rx) = mpsc::channel();
        runtime.spawn(async move {
            let sink = ReportSink::new(move |event| {
                let _ = bearer_tx.send((event, Instant::now()));
            });
            let result = bearer.run(sink).await;
            eprintln!("the bearer stopped: {result:?}");
        });
        let socket = dir.join(interface);
        let (peer_tx, peer_rx) = mpsc::channel();
        let mut monitor = runtime.block_on(Monitor::connect(&socket)).unwrap();
        runtime.spawn(async move {
            while let Ok(event) = monitor.next_event().await {
                if matches!(event, Event::Disconnected { .. })
                    && peer_tx.send(Instant::now()).is_err()
                {
                    return;
                }
            }
        });
        let control = runtime.block_on(CtrlSocket::connect(&socket)).unwrap();
        let rig = Self {
            runtime,
            control,
            bearer: bearer_rx,
            peer: peer_rx,
        };
        match rig.bearer.recv_timeout(WAIT) {
            Ok((BearerEvent::Appeared { .. }, _)) => {}
            other => panic!("the bearer did not report the network at start: {other:?}"),
        }
        rig
    }

    /// The next report other than `Changed`.
    fn report(&self) -> (BearerEvent, Instant) {
        loop {
            match self.bearer.recv_timeout(WAIT) {
                Ok((BearerEvent::Changed { .. }, _)) => continue,
                Ok(report) => return report,
                Err(e) => panic!("no report within {WAIT:?}: {e}"),
            }
        }
    }

    /// One disconnect: (peer event latency, bearer report latency); then reconnects.
    fn disconnect(&self) -> (Duration, Duration) {
        let start = Instant::now();
        self.runtime.block_on(self.control.disconnect()).unwrap();
        let event_at = self
            .peer
            .recv_timeout(WAIT)
            .expect("no CTRL-EVENT-DISCONNECTED");
        let (report, report_at) = self.report();
        assert!(matches!(report, BearerEvent::Gone { .. }), "{report:?}");
        self.runtime.block_on(self.control.reconnect()).unwrap();
        let (report, _) = self.report();
        assert!(matches!(report, BearerEvent::Appeared { .. }), "{report:?}");
        (event_at - start, report_at - start)
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(rig: &Rig, peer_name: &str) {
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group(format!("disconnect_{peer_name}"));
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("peer_event", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rig.disconnect().0).sum())
    });
    group.bench_function("bearer_report", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rig.disconnect().1).sum())
    });
    group.finish();
    let (peer, bearer): (Vec<_>, Vec<_>) = (0..50).map(|_| rig.disconnect()).unzip();
    println!(
        "disconnect ({peer_name}) medians over 50 repetitions: DISCONNECT to CTRL-EVENT-DISCONNECTED {:?}, DISCONNECT to Gone {:?}",
        median(peer),
        median(bearer)
    );
    criterion.final_summary();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn with_real_wpa_supplicant() {
    let ns = NetNs::create().expect("namespace");
    let dir = TempDir::new().unwrap();
    ns.add_veth("w0", "w0p").expect("veth");
    let wpa = WpaSupplicant::start(ns.name(), "w0", dir.path()).expect("wpa_supplicant");
    let control: PathBuf = wpa.control_dir();
    ns.run(|| {
        let rig = Rig::start(runtime(), &control, "w0");
        bench(&rig, "wpa_supplicant");
    })
    .expect("run in the namespace");
}

fn with_fake() {
    let dir = TempDir::new().unwrap();
    let runtime = runtime();
    let _fake = {
        let _enter = runtime.enter();
        FakeWpa::start(
            dir.path(),
            "lo",
            FakeState {
                networks: vec![(0, "netcore-test".into())],
                current: Some(0),
                selected: Some(0),
                ..FakeState::default()
            },
        )
        .unwrap()
    };
    let rig = Rig::start(runtime, dir.path(), "lo");
    bench(&rig, "fake");
}

fn main() {
    if is_root() && wpa_supplicant_installed() {
        with_real_wpa_supplicant();
    } else {
        println!(
            "disconnect_latency: not root or no wpa_supplicant: measuring against the in-process fake"
        );
        with_fake();
    }
}
