//! System suite (needs root): netcored on a private bus, in a device namespace with
//! two Ethernet uplinks, serving client processes that run as other uids (see
//! `support`).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netcore_link::testing::is_root;
use serde_json::{Value, json};
use support::{A, B, C, CLIENT_ENV, Rig, app, client_main};

fn two_apps_share_networks_but_not_their_state() {
    let rig = Rig::start();
    let mut a = rig.client(app(A));
    let mut b = rig.client(app(B));
    let mut c = rig.client(app(C));
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.ok(json!({ "op": "all_nets" })).as_array().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "both uplinks as networks");
        std::thread::sleep(Duration::from_millis(50));
    }
    // One daemon, one set of netIds.
    let nets = a.ok(json!({ "op": "all_nets" }));
    assert_eq!(b.ok(json!({ "op": "all_nets" })), nets);
    let default = a.ok(json!({ "op": "default_net" }));
    assert_eq!(b.ok(json!({ "op": "default_net" })), default);
    assert_eq!(b.ok(json!({ "op": "default_net_sync" })), default);
    // Permissions: C lacks GET_NETWORK_INFO, B lacks SET_PAC_URL.
    assert_eq!(c.err(json!({ "op": "default_net" })), 201);
    assert_eq!(c.err(json!({ "op": "all_nets" })), 201);
    let pac = rig.dir.path().join("proxy.pac");
    std::fs::write(&pac, "function FindProxyForURL(u, h) { return 'DIRECT'; }").unwrap();
    std::fs::set_permissions(&pac, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = format!("file://{}", pac.display());
    assert_eq!(b.err(json!({ "op": "set_pac_file_url", "url": url })), 201);
    // Every app's own settings, never another's.
    a.ok(json!({ "op": "add_rule", "host": "intranet.test", "ips": ["192.0.2.7"] }));
    a.ok(json!({ "op": "set_app_proxy", "host": "proxy.a.test" }));
    let first = nets[0].clone();
    a.ok(json!({ "op": "set_app_net", "net": first }));
    assert_eq!(
        a.ok(json!({ "op": "resolve", "host": "intranet.test" })),
        json!(["192.0.2.7"])
    );
    assert_eq!(
        b.err(json!({ "op": "resolve", "host": "intranet.test" })),
        2100003
    );
    assert_eq!(
        a.ok(json!({ "op": "default_proxy" })),
        json!("proxy.a.test")
    );
    assert_eq!(b.ok(json!({ "op": "default_proxy" })), json!(null));
    assert_eq!(a.ok(json!({ "op": "app_net" })), first);
    assert_eq!(b.ok(json!({ "op": "app_net" })), json!(0));
    // A uid with SET_PAC_URL may set it.
    a.ok(json!({ "op": "set_pac_file_url", "url": url }));
    println!("two_apps_share_networks_but_not_their_state: ok");
}

fn a_carrier_cut_reaches_the_client_in_order() {
    let rig = Rig::start();
    let mut a = rig.client(app(A));
    a.ok(json!({ "op": "register" }));
    let first = a.next_event();
    assert!(first.starts_with("netAvailable("), "{first}");
    // Wait until the preferred uplink is the default (both may come one by one).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut current = first;
    while a.ok(json!({ "op": "all_nets" })).as_array().unwrap().len() < 2
        || format!("netAvailable({})", a.ok(json!({ "op": "default_net" }))) != current
    {
        assert!(Instant::now() < deadline, "up0 as the default");
        let event = a.ok(json!({ "op": "next_event", "timeout_ms": 100 }));
        if event
            .as_str()
            .is_some_and(|e| e.starts_with("netAvailable("))
        {
            current = event.as_str().unwrap().to_owned();
        }
    }
    let up0 = current
        .trim_start_matches("netAvailable(")
        .trim_end_matches(')')
        .to_owned();
    rig.topology.uplinks[0]
        .ip(&["link", "set", "gw0", "down"])
        .unwrap();
    let mut events = Vec::new();
    while !events
        .iter()
        .any(|e: &String| e.starts_with("netAvailable("))
    {
        let event = a.next_event();
        assert_ne!(event, "none", "no event after the carrier cut: {events:?}");
        events.push(event);
    }
    let lost = events
        .iter()
        .position(|e| e == &format!("netLost({up0})"))
        .unwrap_or_else(|| panic!("netLost({up0}) in {events:?}"));
    assert!(
        events[lost + 1].starts_with("netAvailable("),
        "netLost then netAvailable: {events:?}"
    );
    println!("a_carrier_cut_reaches_the_client_in_order: ok");
}

fn the_request_quota_is_per_app_and_freed_when_its_client_leaves() {
    let rig = Rig::start();
    let mut a = rig.client(app(A));
    let mut b = rig.client(app(B));
    let full = a.ok(json!({ "op": "register", "count": 2001 }));
    assert_eq!(full, json!({ "registered": 2000, "err": 2101022 }));
    assert_eq!(
        b.ok(json!({ "op": "register", "count": 1 })),
        json!({ "registered": 1 })
    );
    a.ok(json!({ "op": "exit" }));
    drop(a);
    // The same app's next client has its 2000 slots again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = rig.client(app(A));
        let answer = again.ok(json!({ "op": "register", "count": 2000 }));
        if answer == json!({ "registered": 2000 }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slots were not freed: {answer}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("the_request_quota_is_per_app_and_freed_when_its_client_leaves: ok");
}

fn clients_recover_when_the_daemon_is_killed() {
    let mut rig = Rig::start();
    let mut a = rig.client(app(A));
    a.ok(json!({ "op": "add_rule", "host": "intranet.test", "ips": ["192.0.2.7"] }));
    a.ok(json!({ "op": "register" }));
    let available = a.next_event();
    assert!(available.starts_with("netAvailable("), "{available}");
    // Under load: the client keeps asking while the daemon dies.
    rig.kill_daemon();
    let mut events = Vec::new();
    while !events.iter().any(|e: &String| e.starts_with("netLost(")) {
        let event = a.next_event();
        assert_ne!(event, "none", "no netLost when the daemon died: {events:?}");
        events.push(event);
    }
    let started = Instant::now();
    assert_eq!(a.err(json!({ "op": "default_net" })), 2100002);
    assert!(started.elapsed() < Duration::from_secs(5), "a call hung");
    rig.start_daemon();
    // The client registers again by itself: a network becomes available.
    let mut again = Vec::new();
    while !again
        .iter()
        .any(|e: &String| e.starts_with("netAvailable("))
    {
        let event = a.next_event();
        assert_ne!(
            event, "none",
            "no netAvailable after the restart: {again:?}"
        );
        again.push(event);
    }
    // And its rule is back.
    assert_eq!(
        a.ok(json!({ "op": "resolve", "host": "intranet.test" })),
        json!(["192.0.2.7"])
    );
    println!("clients_recover_when_the_daemon_is_killed: ok");
}

fn bad_input_gets_errors_and_others_are_served() {
    let rig = Rig::start();
    let mut b = rig.client(app(B));
    let address = rig.bus.address().to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (flood, stop) = runtime.block_on(async move {
        let connection = zbus::connection::Builder::address(address.as_str())
            .unwrap()
            .build()
            .await
            .unwrap();
        let call = |member: &'static str, body: Value| {
            let connection = connection.clone();
            async move {
                let reply = match body {
                    Value::String(s) => {
                        connection
                            .call_method(
                                Some(netcore_bus::BUS_NAME),
                                netcore_bus::OBJECT_PATH,
                                Some(netcore_bus::INTERFACE),
                                member,
                                &(s,),
                            )
                            .await
                    }
                    _ => {
                        connection
                            .call_method(
                                Some(netcore_bus::BUS_NAME),
                                netcore_bus::OBJECT_PATH,
                                Some(netcore_bus::INTERFACE),
                                member,
                                &(),
                            )
                            .await
                    }
                };
                match reply {
                    Err(zbus::Error::MethodError(name, _, _)) => name.to_string(),
                    Err(e) => format!("{e}"),
                    Ok(_) => "ok".to_owned(),
                }
            }
        };
        // Wrong signature, unknown method, oversized and malformed arguments.
        let wrong = call("Register", json!("not a number")).await;
        assert!(wrong.starts_with("org.freedesktop."), "{wrong}");
        let unknown = call("FlyToTheMoon", json!(null)).await;
        assert!(unknown.contains("UnknownMethod"), "{unknown}");
        let huge = call("SetAppHttpProxy", json!("x".repeat(1 << 20))).await;
        assert!(huge.ends_with("Error.InvalidValue"), "{huge}");
        let broken = call("SetAppHttpProxy", json!("{\"host\":")).await;
        assert!(broken.ends_with("Error.Parameter"), "{broken}");
        let long_host = call("FindProxyForUrl", json!("h".repeat(100_000))).await;
        assert!(!long_host.is_empty());
        // A flood of calls from one client, going on while the other is served.
        let flood_connection = connection.clone();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let flood = tokio::spawn(async move {
            let mut sent = 0u64;
            loop {
                // The bus lets a connection wait for 128 replies at most.
                let calls = (0..100).map(|_| {
                    flood_connection.call_method(
                        Some(netcore_bus::BUS_NAME),
                        netcore_bus::OBJECT_PATH,
                        Some(netcore_bus::INTERFACE),
                        "GetAllNets",
                        &(),
                    )
                });
                let _ = futures::future::join_all(calls).await;
                sent += 100;
                if stop_rx.try_recv().is_ok() {
                    return sent;
                }
            }
        });
        (flood, stop_tx)
    });
    // The other client is served within a second, call after call, for 3 s.
    let flooding = Instant::now();
    while flooding.elapsed() < Duration::from_secs(3) {
        let started = Instant::now();
        b.ok(json!({ "op": "all_nets" }));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a call took {:?} during the flood",
            started.elapsed()
        );
    }
    let _ = stop.send(());
    let sent = runtime.block_on(flood).unwrap();
    assert!(sent > 1000, "the flood sent {sent} calls");
    b.ok(json!({ "op": "default_net" }));
    println!("bad_input_gets_errors_and_others_are_served: ok ({sent} flood calls)");
}

fn the_bus_policy_lets_root_own_the_name_and_every_app_call() {
    let rig = Rig::on_bus(true);
    let mut b = rig.client(app(B));
    assert!(b.ok(json!({ "op": "default_net" })).is_u64());
    assert_eq!(b.ok(json!({ "op": "own_name" })), json!(false));
    println!("the_bus_policy_lets_root_own_the_name_and_every_app_call: ok");
}

/// The example programs of netcore-facade run unchanged against netcored: in the
/// host's namespace, they show the device namespace's uplinks, which only the
/// daemon sees.
fn the_examples_run_against_the_daemon() {
    let rig = Rig::start();
    let mut a = rig.client(app(A));
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.ok(json!({ "op": "all_nets" })).as_array().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "both uplinks as networks");
        std::thread::sleep(Duration::from_millis(50));
    }
    let examples = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(2)
        .unwrap()
        .join("examples");
    for (example, expected) in [
        ("list_networks", "on up0"),
        ("default_capabilities", "interface up0"),
        ("check_internet", ""),
        ("connection_profile", "on up0"),
    ] {
        let program = examples.join(example);
        assert!(
            program.exists(),
            "{} is not built: `cargo xtask test` builds it (or cargo build -p netcore-facade --examples)",
            program.display()
        );
        let out = Command::new(&program)
            .env("DBUS_SYSTEM_BUS_ADDRESS", rig.bus.address())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{example}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(expected), "{example}: {stdout}");
    }
    println!("the_examples_run_against_the_daemon: ok");
}

fn main() {
    if std::env::var_os(CLIENT_ENV).is_some() {
        client_main();
        return;
    }
    // `cargo test` lists tests with `--list`; this suite is one program.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !is_root() {
        println!("system_daemon: {}", netcore_link::testing::SKIP_MESSAGE);
        return;
    }
    let bus_installed = Command::new("dbus-daemon")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        bus_installed,
        "the suite needs dbus-daemon (package dbus; `cargo xtask test` installs it)"
    );
    // Nothing here may hang CI: a client that never answers ends the suite.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(300));
        eprintln!("system_daemon: still running after 300 s: a client or netcored hangs");
        std::process::exit(1);
    });
    the_bus_policy_lets_root_own_the_name_and_every_app_call();
    two_apps_share_networks_but_not_their_state();
    a_carrier_cut_reaches_the_client_in_order();
    the_request_quota_is_per_app_and_freed_when_its_client_leaves();
    clients_recover_when_the_daemon_is_killed();
    bad_input_gets_errors_and_others_are_served();
    the_examples_run_against_the_daemon();
}
