//! netcored's figures (needs root; skipped otherwise), in the device namespace of the
//! system suite with two Ethernet uplinks:
//! - `start_to_name` and `start_to_default`: from starting netcored until it owns its
//!   name, and until a client gets the default network (median of 10 starts);
//! - `carrier_to_client`: from setting the preferred uplink's peer down (or up) until
//!   a client process gets the `netLost` (median and p99 over 100 flaps, 1.1 s
//!   apart: the kernel reports this link's carrier changes once a second at most);
//! - `fan_out_100x100`: one default switch to 100 client processes with 100 requests
//!   each, until the last of them has `netLost` then `netAvailable` (median of 10);
//! - `get_default_net_round_trip`: one `GetDefaultNet` call over the bus (median of
//!   2000, and calls per second);
//! - netcored's resident memory, idle with all five bearers configured (printed).
//!
//! Medians go where `cargo xtask bench` finds them (`target/criterion/netcored`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use netcore_link::testing::{SKIP_MESSAGE, is_root};
use serde_json::json;
use support::{CLIENT_ENV, Client, Rig, client_main, monotonic_ns};

/// The suite's configuration, with room for 100 x 100 requests of one uid.
const CONFIG: &str = r#"builtin_wifi = false
builtin_cellular = false
builtin_bluetooth = false
[engine]
linger_secs = 1
max_requests_per_app = 20000
[ethernet]
allow = ["up*"]
[ethernet.interfaces.up0]
quality = 90
[ethernet.interfaces.up1]
quality = 50
"#;

/// The kernel tells of a carrier change of a veth whose peer has the same ifindex in
/// its namespace at most once a second (linkwatch's rate limit): flaps are spaced
/// by more, or they would measure the kernel's delay.
const KERNEL_GAP: Duration = Duration::from_millis(1100);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn write_estimate(name: &str, median: Duration) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/criterion/netcored")
        .join(name)
        .join("new");
    if std::fs::create_dir_all(&dir).is_ok() {
        let json = format!(
            "{{\"median\":{{\"point_estimate\":{}}}}}",
            median.as_nanos()
        );
        let _ = std::fs::write(dir.join("estimates.json"), json);
    }
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let (median, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    println!(
        "  {name:<28} median {median:>10.3?}  p99 {p99:>10.3?}  ({} runs)",
        samples.len()
    );
    write_estimate(name, median);
}

/// Sets `gw0` (the preferred uplink's peer) down or up through rtnetlink from a
/// thread in its namespace, and says when it asked (CLOCK_MONOTONIC): the clock starts
/// at the request, not at the start of a program.
struct Flapper {
    requests: std::sync::mpsc::Sender<bool>,
    asked: std::sync::mpsc::Receiver<u64>,
}

impl Flapper {
    fn new(rig: &Rig) -> Self {
        let (requests, rx) = std::sync::mpsc::channel::<bool>();
        let (tx, asked) = std::sync::mpsc::channel();
        let namespace = rig.topology.uplinks[0].path();
        std::thread::spawn(move || {
            netcore_link::testing::enter(&namespace).unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let client = runtime
                .block_on(async { netcore_link::LinkClient::connect() })
                .unwrap();
            while let Ok(down) = rx.recv() {
                let at = monotonic_ns();
                runtime.block_on(client.set_link_up("gw0", !down)).unwrap();
                if tx.send(at).is_err() {
                    return;
                }
            }
        });
        Self { requests, asked }
    }

    /// Flaps; when the request went out.
    fn flap(&self, down: bool) -> u64 {
        self.requests.send(down).unwrap();
        self.asked.recv().unwrap()
    }
}

/// Waits until netcored has both uplinks and up0 is the default.
fn settled(client: &mut Client) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let nets = client.ok(json!({ "op": "all_nets" }));
        if nets.as_array().unwrap().len() == 2
            && client.ok(json!({ "op": "default_net" })) == nets[0]
        {
            return;
        }
        assert!(Instant::now() < deadline, "the uplinks did not settle");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_times() {
    let mut rig = Rig::with(false, CONFIG);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut to_name, mut to_default) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        rig.kill_daemon();
        std::thread::sleep(Duration::from_millis(100));
        let address = rig.bus.address().to_owned();
        let started = Instant::now();
        rig.spawn_daemon();
        let (name, default) = runtime.block_on(async {
            let connection = zbus::connection::Builder::address(address.as_str())
                .unwrap()
                .build()
                .await
                .unwrap();
            let dbus = zbus::fdo::DBusProxy::new(&connection).await.unwrap();
            let bus_name = zbus::names::BusName::try_from(netcore_bus::BUS_NAME).unwrap();
            while !dbus.name_has_owner(bus_name.clone()).await.unwrap() {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            let name = started.elapsed();
            let proxy = netcore_bus::Netcore1Proxy::new(&connection).await.unwrap();
            while proxy.get_default_net().await.unwrap_or(0) == 0 {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            (name, started.elapsed())
        });
        to_name.push(name);
        to_default.push(default);
    }
    report("start_to_name", to_name);
    report("start_to_default", to_default);
}

fn carrier_to_client() {
    let rig = Rig::with(false, CONFIG);
    let flapper = Flapper::new(&rig);
    let mut client = rig.client(0);
    client.ok(json!({ "op": "register" }));
    settled(&mut client);
    let mut samples = Vec::new();
    for flap_no in 0..100 {
        let down = flap_no % 2 == 0;
        std::thread::sleep(KERNEL_GAP);
        client.ok(json!({ "op": "drain" }));
        writeln_command(&mut client, json!({ "op": "next_event_at" }));
        // The client is waiting: start the clock and flap.
        std::thread::sleep(Duration::from_millis(5));
        let start = flapper.flap(down);
        // Late changes of the last flap (a check ending) may come first.
        let mut answer = client.read();
        while !answer["ok"][0]
            .as_str()
            .is_some_and(|e| e.starts_with("netLost("))
        {
            assert_ne!(answer["ok"][0], "none", "flap {flap_no}: no netLost");
            answer = client.ok_answer(json!({ "op": "next_event_at" }));
        }
        let at = &answer["ok"][1];
        samples.push(Duration::from_nanos(at.as_u64().unwrap() - start));
    }
    report("carrier_to_client", samples);
}

/// Sends a command without reading its answer.
fn writeln_command(client: &mut Client, command: serde_json::Value) {
    use std::io::Write;
    writeln!(client.stdin_mut(), "{command}").unwrap();
    client.stdin_mut().flush().unwrap();
}

fn fan_out() {
    let rig = Rig::with(false, CONFIG);
    let flapper = Flapper::new(&rig);
    let mut clients: Vec<Client> = (0..100).map(|_| rig.client(0)).collect();
    for client in &mut clients {
        assert_eq!(
            client.ok(json!({ "op": "register", "count": 100 })),
            json!({ "registered": 100 })
        );
    }
    settled(&mut clients[0]);
    let mut samples = Vec::new();
    for round in 0..10 {
        std::thread::sleep(KERNEL_GAP);
        for client in &mut clients {
            client.ok(json!({ "op": "drain" }));
        }
        for client in &mut clients {
            writeln_command(client, json!({ "op": "await_switch" }));
        }
        std::thread::sleep(Duration::from_millis(50));
        let start = flapper.flap(round % 2 == 0);
        let last = clients
            .iter_mut()
            .map(|client| {
                let answer = client.read();
                answer["ok"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("round {round}: {answer}"))
            })
            .max()
            .unwrap();
        samples.push(Duration::from_nanos(last - start));
    }
    report("fan_out_100x100", samples);
}

fn round_trips() {
    let rig = Rig::with(false, CONFIG);
    let address = rig.bus.address().to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let samples = runtime.block_on(async {
        let connection = zbus::connection::Builder::address(address.as_str())
            .unwrap()
            .build()
            .await
            .unwrap();
        let proxy = netcore_bus::Netcore1Proxy::new(&connection).await.unwrap();
        let mut samples = Vec::new();
        for _ in 0..2000 {
            let started = Instant::now();
            proxy.get_default_net().await.unwrap();
            samples.push(started.elapsed());
        }
        samples
    });
    let total: Duration = samples.iter().sum();
    println!(
        "  get_default_net calls per second: {:.0}",
        samples.len() as f64 / total.as_secs_f64()
    );
    report("get_default_net_round_trip", samples);
}

fn idle_memory() {
    // The built-in configuration: all five bearers (three find no peer here).
    let config = "[ethernet]\nallow = [\"up*\"]\n";
    let mut rig = Rig::with(false, config);
    rig.kill_daemon();
    let pid = rig.spawn_daemon();
    std::thread::sleep(Duration::from_secs(2));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.trim_start_matches(name).trim().to_owned())
            .unwrap_or_default()
    };
    println!(
        "  netcored idle: VmRSS {} (anonymous {}, file {})",
        field("VmRSS:"),
        field("RssAnon:"),
        field("RssFile:")
    );
}

fn main() {
    if std::env::var_os(CLIENT_ENV).is_some() {
        client_main();
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !is_root() {
        println!("netcored benchmarks: {SKIP_MESSAGE}");
        return;
    }
    println!("netcored:");
    start_times();
    carrier_to_client();
    round_trips();
    idle_memory();
    fan_out();
}
