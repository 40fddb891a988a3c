//! Time from a ModemManager bearer disconnect to the cellular bearer's report.
//!
//! Each iteration calls `Modem.Simple.Disconnect` on python-dbusmock's ModemManager
//! (on a private dbus-daemon) and measures, from just before the call:
//! - `peer_event`: until a separate client on the bus receives the bearer object's
//!   `PropertiesChanged` with `Connected` false;
//! - `bearer_report`: until the bearer's sink gets `Gone`.
//!
//! Then the bearer connects again (activation, waiting for `Appeared`; not measured).
//! Needs root (wwan0 is a veth in a namespace of its own) and python-dbusmock
//! (installed when missing); otherwise it says why and measures nothing. Prints the
//! medians over 50 repetitions after criterion's figures.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use futures::StreamExt;
use netcore::{ActivationRequest, Bearer, BearerEvent, ReportSink};
use netcore_bearer_cellular::testing::{DbusDaemon, ModemManagerMock, TempDir, install_packages};
use netcore_bearer_cellular::{CellularBearer, CellularConfig};
use netcore_link::testing::{NetNs, is_root};
use zbus::zvariant::OwnedValue;

const WAIT: Duration = Duration::from_secs(5);
const INTERFACE: &str = "wwan0";
const BEARER: &str = "/org/freedesktop/ModemManager1/Bearer/0";

struct Rig {
    runtime: tokio::runtime::Runtime,
    bearer: CellularBearer,
    mock: ModemManagerMock,
    modem: String,
    reports: mpsc::Receiver<(BearerEvent, Instant)>,
    peer: mpsc::Receiver<Instant>,
}

impl Rig {
    fn start(runtime: tokio::runtime::Runtime, address: &str, dir: &std::path::Path) -> Self {
        let mock = runtime
            .block_on(ModemManagerMock::start(address, dir))
            .expect("ModemManager mock");
        let modem = runtime.block_on(mock.add_modem(INTERFACE, 1)).unwrap();
        let mut config = CellularConfig::default();
        config.bus_address = Some(address.into());
        let bearer = CellularBearer::new(config).unwrap();
        let (reports_tx, reports) = mpsc::channel();
        let running = bearer.clone();
        runtime.spawn(async move {
            let sink = ReportSink::new(move |event| {
                let _ = reports_tx.send((event, Instant::now()));
            });
            let result = running.run(sink).await;
            eprintln!("the bearer stopped: {result:?}");
        });
        let (peer_tx, peer) = mpsc::channel();
        let address = address.to_owned();
        let watching = runtime.block_on(async move {
            let connection = zbus::connection::Builder::address(address.as_str())?
                .build()
                .await?;
            let rule = zbus::MatchRule::builder()
                .msg_type(zbus::message::Type::Signal)
                .path(BEARER)?
                .member("PropertiesChanged")?
                .build();
            let stream = zbus::MessageStream::for_match_rule(rule, &connection, None).await?;
            zbus::Result::Ok((connection, stream))
        });
        let (connection, mut stream) = watching.expect("a watching client");
        runtime.spawn(async move {
            let _connection = connection;
            while let Some(Ok(message)) = stream.next().await {
                let body = message.body();
                let Ok((_, changed, _)) =
                    body.deserialize::<(String, HashMap<String, OwnedValue>, Vec<String>)>()
                else {
                    continue;
                };
                let disconnected = changed
                    .get("Connected")
                    .is_some_and(|v| bool::try_from(v).is_ok_and(|c| !c));
                if disconnected && peer_tx.send(Instant::now()).is_err() {
                    return;
                }
            }
        });
        let rig = Self {
            runtime,
            bearer,
            mock,
            modem,
            reports,
            peer,
        };
        rig.connect();
        rig
    }

    /// The next report other than `Changed`.
    fn report(&self) -> (BearerEvent, Instant) {
        loop {
            match self.reports.recv_timeout(WAIT) {
                Ok((BearerEvent::Changed { .. }, _)) => continue,
                Ok(report) => return report,
                Err(e) => panic!("no report within {WAIT:?}: {e}"),
            }
        }
    }

    fn connect(&self) {
        self.runtime
            .block_on(
                self.bearer
                    .activate(ActivationRequest::new(1, Some("slot0".into()))),
            )
            .unwrap();
        let (report, _) = self.report();
        assert!(matches!(report, BearerEvent::Appeared { .. }), "{report:?}");
    }

    /// One disconnect: (peer event latency, bearer report latency); then connects.
    fn disconnect(&self) -> (Duration, Duration) {
        let start = Instant::now();
        self.runtime
            .block_on(self.mock.disconnect(&self.modem))
            .unwrap();
        let event_at = self
            .peer
            .recv_timeout(WAIT)
            .expect("no PropertiesChanged with Connected false");
        let (report, report_at) = self.report();
        assert!(matches!(report, BearerEvent::Gone { .. }), "{report:?}");
        self.connect();
        (event_at - start, report_at - start)
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if !is_root() {
        println!("disconnect_latency skipped: needs root for a network namespace");
        return;
    }
    if let Some(missing) = install_packages() {
        println!("disconnect_latency skipped: {missing}, and installing it failed");
        return;
    }
    let dir = TempDir::new().unwrap();
    let bus = DbusDaemon::start(dir.path()).expect("dbus-daemon");
    let ns = NetNs::create().expect("namespace");
    ns.add_veth(INTERFACE, "wwan0p").expect("veth");
    ns.run(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let rig = Rig::start(runtime, bus.address(), dir.path());
        let mut criterion = Criterion::default().configure_from_args();
        let mut group = criterion.benchmark_group("disconnect_modemmanager_mock");
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
            "disconnect (ModemManager mock) medians over 50 repetitions: Disconnect to PropertiesChanged {:?}, Disconnect to Gone {:?}",
            median(peer),
            median(bearer)
        );
        criterion.final_summary();
    })
    .expect("namespace");
}
