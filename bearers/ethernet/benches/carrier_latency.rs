//! Time from a carrier change to the Ethernet bearer's report, beside the time the
//! kernel took to deliver the netlink notification.
//!
//! In a network namespace of its own (needs root; skipped otherwise) with a veth pair
//! b0/b0p, each iteration sets b0p down (or up) through rtnetlink and measures, from
//! just before the request:
//! - `kernel_notification`: until a separate `LinkWatcher` takes b0's RTM_NEWLINK
//!   (carrier lost or back) from its socket;
//! - `bearer_report`: until the bearer's sink gets `Gone` (or `Appeared`) for b0.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use netcore::{Bearer, BearerEvent, ReportSink};
use netcore_bearer_ethernet::{EthernetBearer, EthernetConfig};
use netcore_link::LinkClient;
use netcore_link::testing::{NetNs, SKIP_MESSAGE, is_root, watch_carrier};

const WAIT: Duration = Duration::from_secs(5);

struct Rig {
    runtime: tokio::runtime::Runtime,
    client: LinkClient,
    bearer: mpsc::Receiver<(BearerEvent, Instant)>,
    kernel: mpsc::Receiver<(bool, Instant)>,
    down: bool,
}

impl Rig {
    /// Starts the bearer and a watcher on threads of their own (in this thread's
    /// namespace, which new threads inherit).
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (bearer_tx, bearer) = mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let mut config = EthernetConfig::default();
            config.allow = vec!["b0".into()];
            let bearer = EthernetBearer::new(config).unwrap();
            let sink = ReportSink::new(move |event| {
                let _ = bearer_tx.send((event, Instant::now()));
            });
            let _ = rt.block_on(bearer.run(sink));
        });
        let kernel = watch_carrier("b0");
        let client = runtime.block_on(async { LinkClient::connect() }).unwrap();
        let rig = Self {
            runtime,
            client,
            bearer,
            kernel,
            down: false,
        };
        match rig.bearer.recv_timeout(WAIT) {
            Ok((BearerEvent::Appeared { key, .. }, _)) if key == "b0" => {}
            other => panic!("the bearer did not report b0 at start: {other:?}"),
        }
        rig
    }

    /// Flips b0p and returns (kernel notification latency, bearer report latency).
    fn flap(&mut self) -> (Duration, Duration) {
        self.down = !self.down;
        let start = Instant::now();
        self.runtime
            .block_on(self.client.set_link_up("b0p", !self.down))
            .unwrap();
        let (carrier, kernel_at) = self.kernel.recv_timeout(WAIT).unwrap();
        assert_eq!(carrier, !self.down);
        let (event, bearer_at) = self.bearer.recv_timeout(WAIT).unwrap();
        match (&event, self.down) {
            (BearerEvent::Gone { .. }, true) | (BearerEvent::Appeared { .. }, false) => {}
            _ => panic!("unexpected report {event:?}"),
        }
        (kernel_at - start, bearer_at - start)
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let mut rig = Rig::start();
    let mut group = c.benchmark_group("carrier_change");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("kernel_notification", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rig.flap().0).sum())
    });
    group.bench_function("bearer_report", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rig.flap().1).sum())
    });
    group.finish();
    let (kernel, bearer): (Vec<_>, Vec<_>) = (0..200).map(|_| rig.flap()).unzip();
    println!(
        "carrier_change medians over 200 flaps: kernel notification {:?}, bearer report {:?}",
        median(kernel),
        median(bearer)
    );
}

fn main() {
    if !is_root() {
        println!("carrier_latency: {SKIP_MESSAGE}");
        return;
    }
    let ns = NetNs::create().expect("namespace");
    ns.add_veth("b0", "b0p").expect("veth");
    ns.run(|| {
        let mut criterion = Criterion::default().configure_from_args();
        bench(&mut criterion);
        criterion.final_summary();
    })
    .expect("run in the namespace");
}
