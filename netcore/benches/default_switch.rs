//! A default-network switch with 10,000 registered requests: the time per switch,
//! including every event it produces (netLost, netAvailable,
//! netCapabilitiesChange, netConnectionPropertiesChange for each request).
//! Target (issue 2): under 5 ms per switch.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netcore::AppId;
use netcore::engine::{BearerId, ConnectionId, Engine, Output, ValidationResult};
use netcore::{BearerEvent, NetBearType, NetworkInfo};

const REQUESTS: u64 = 10_000;

struct Setup {
    engine: Engine,
    wifi: BearerId,
    now: Instant,
}

fn setup() -> Setup {
    let mut engine = Engine::default();
    let wifi = engine.add_bearer(NetBearType::Wifi);
    let cell = engine.add_bearer(NetBearType::Cellular);
    let now = Instant::now();
    for (bearer, info) in [
        (
            wifi,
            NetworkInfo::new(NetBearType::Wifi, "wlan0").with_quality(80),
        ),
        (
            cell,
            NetworkInfo::new(NetBearType::Cellular, "wwan0").with_quality(60),
        ),
    ] {
        let key = info.properties.interface_name.clone();
        let net = engine
            .bearer_event(bearer, BearerEvent::Appeared { key, info }, now)
            .expect("network appears");
        engine
            .validation_result(net, 1, ValidationResult::Validated, now)
            .expect("first check");
    }
    // 50 apps of 200 requests each.
    for i in 0..REQUESTS {
        let app = AppId::from_uid(u32::try_from(i % 50).unwrap_or(0));
        engine
            .register(app, ConnectionId(i), None, 0, now)
            .expect("register");
    }
    engine.drain_outputs().for_each(drop);
    Setup { engine, wifi, now }
}

/// Makes Wi-Fi poor (switch to cellular) or good again (switch back); returns the
/// number of events produced.
fn switch(s: &mut Setup, poor: bool) -> usize {
    let quality = if poor { 5 } else { 80 };
    let info = NetworkInfo::new(NetBearType::Wifi, "wlan0").with_quality(quality);
    s.engine
        .bearer_event(
            s.wifi,
            BearerEvent::Changed {
                key: "wlan0".into(),
                info,
            },
            s.now,
        )
        .expect("change");
    s.engine
        .drain_outputs()
        .filter(|o| matches!(o, Output::Event { .. }))
        .map(black_box)
        .count()
}

fn bench(c: &mut Criterion) {
    let mut s = setup();
    let events = switch(&mut s, true);
    assert_eq!(events as u64, 4 * REQUESTS, "each request sees 4 events");
    switch(&mut s, false);

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(events as u64));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("default_switch_10k_requests", |b| {
        let mut poor = false;
        b.iter(|| {
            poor = !poor;
            switch(&mut s, poor)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
