//! System suite of per-app networking (needs root): netcored in manage mode in a
//! device namespace with two uplinks, apps running as other uids inside it that use
//! plain sockets and plain getaddrinfo, never netcore's API for their traffic.
//!
//! Each uplink's namespace has the same server address (192.0.2.80:8080), whose
//! server answers with the uplink's name, and a DNS server at its gateway that
//! answers every name with an address of its own (up0: 10.0.0.1, up1: 10.0.0.2):
//! what an app reaches tells which network its traffic took.

mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A as ARecord;
use hickory_proto::rr::{RData, Record, RecordType};
use netcore_link::testing::{NetNs, is_root};
use serde_json::{Value, json};
use support::{A, B, C, CLIENT_ENV, Client, Rig, app, client_main};

/// The server every uplink has.
const SERVER: &str = "192.0.2.80:8080";

const CONFIG: &str = r#"manage = true
builtin_wifi = false
builtin_cellular = false
builtin_bluetooth = false
[engine]
linger_secs = 1
[ethernet]
allow = ["up*"]
[ethernet.interfaces.up0]
quality = 90
dns = ["198.51.100.1"]
ipv4 = { address = "198.51.100.2", prefix_length = 24, gateway = "198.51.100.1" }
[ethernet.interfaces.up1]
quality = 50
dns = ["203.0.113.1"]
ipv4 = { address = "203.0.113.2", prefix_length = 24, gateway = "203.0.113.1" }
[dns_stub]
listen = ["127.0.0.153:53"]
resolv_conf = "/etc/netns/{DEV}/resolv.conf"
"#;

/// A and B are ordinary apps; C may establish VPNs.
fn policy() -> String {
    format!(
        "default = [\"INTERNET\"]\n[uid]\n{} = [\"GET_NETWORK_INFO\"]\n{} = [\"GET_NETWORK_INFO\"]\n{} = [\"GET_NETWORK_INFO\", \"MANAGE_VPN\"]\n",
        app(A),
        app(B),
        app(C)
    )
}

/// Starts, in each uplink's namespace, the server that names the uplink and the DNS
/// server that answers with the uplink's address.
fn serve_upstreams(uplinks: &[NetNs]) {
    for (i, uplink) in uplinks.iter().enumerate() {
        uplink
            .ip(&["addr", "add", "192.0.2.80/32", "dev", "lo"])
            .unwrap();
        let name = format!("up{i}");
        let _ = uplink.spawn(move || async move {
            let listener = tokio::net::TcpListener::bind(SERVER).await.unwrap();
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                use tokio::io::AsyncWriteExt;
                let _ = stream.write_all(name.as_bytes()).await;
            }
        });
        let gateway = ["198.51.100.1", "203.0.113.1"][i];
        let answer = Ipv4Addr::new(10, 0, 0, i as u8 + 1);
        let _ = uplink.spawn(move || async move {
            let socket = tokio::net::UdpSocket::bind((gateway, 53)).await.unwrap();
            let mut buf = vec![0u8; 4096];
            loop {
                let (len, client) = socket.recv_from(&mut buf).await.unwrap();
                let Ok(query) = Message::from_vec(&buf[..len]) else {
                    continue;
                };
                let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
                reply.metadata.message_type = MessageType::Response;
                reply.metadata.recursion_available = true;
                reply.metadata.response_code = ResponseCode::NoError;
                reply.add_queries(query.queries.iter().cloned());
                if let Some(question) = query.queries.first()
                    && question.query_type() == RecordType::A
                {
                    reply.add_answer(Record::from_rdata(
                        question.name().clone(),
                        60,
                        RData::A(ARecord(answer)),
                    ));
                }
                let _ = socket.send_to(&reply.to_vec().unwrap(), client).await;
            }
        });
    }
}

/// Waits until `check` holds, for at most 15 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The netIds of up0 and up1 once both are networks and up0 is the default.
fn uplinks(client: &mut Client) -> (Value, Value) {
    let mut found = None;
    eventually("both uplinks, up0 the default", || {
        let nets = client.ok(json!({ "op": "all_nets" }));
        let mut by_name = std::collections::BTreeMap::new();
        for net in nets.as_array().unwrap() {
            let answer = client.ask(json!({ "op": "interface", "net": net }));
            if let Some(name) = answer["ok"].as_str() {
                by_name.insert(name.to_owned(), net.clone());
            }
        }
        let (Some(up0), Some(up1)) = (by_name.get("up0"), by_name.get("up1")) else {
            return false;
        };
        if &client.ok(json!({ "op": "default_net" })) != up0 {
            return false;
        }
        found = Some((up0.clone(), up1.clone()));
        true
    });
    found.unwrap()
}

fn connect(client: &mut Client) -> String {
    client
        .ok(json!({ "op": "connect", "addr": SERVER }))
        .as_str()
        .unwrap()
        .to_owned()
}

fn lookup(client: &mut Client, host: &str) -> Value {
    client.ok(json!({ "op": "lookup", "host": host }))
}

/// The rules of netcore's band in the device namespace, IPv4.
fn band_rules(rig: &Rig) -> Vec<String> {
    rig.topology
        .dev
        .ip(&["-4", "rule", "show"])
        .unwrap()
        .lines()
        .filter(|line| {
            line.split(':')
                .next()
                .and_then(|p| p.trim().parse::<u32>().ok())
                .is_some_and(|p| (12_000..13_000).contains(&p))
        })
        .map(str::to_owned)
        .collect()
}

/// Sends `command` to `client` without waiting for the answer.
fn send(client: &mut Client, command: Value) {
    use std::io::Write;
    writeln!(client.stdin_mut(), "{command}").unwrap();
    client.stdin_mut().flush().unwrap();
}

fn per_app_networking() {
    let mut rig = Rig::with_policy(true, CONFIG, &policy());
    serve_upstreams(&rig.topology.uplinks);
    let resolv_conf = format!("/etc/netns/{}/resolv.conf", rig.topology.dev.name());
    eventually("netcored's resolv.conf", || {
        std::fs::read_to_string(&resolv_conf).is_ok_and(|t| t.contains("nameserver 127.0.0.153"))
    });
    let mut a = rig.client_in_device(app(A));
    let mut b = rig.client_in_device(app(B));
    let (_, up1) = uplinks(&mut a);
    eventually("the default network's route", || connect(&mut b) == "up0");

    // setAppNet: A leaves through up1, B through the default; unbound, A follows
    // the default again.
    assert_eq!(connect(&mut a), "up0");
    a.ok(json!({ "op": "set_app_net", "net": up1 }));
    assert_eq!(connect(&mut a), "up1");
    assert_eq!(connect(&mut b), "up0");
    a.ok(json!({ "op": "set_app_net", "net": 0 }));
    assert_eq!(connect(&mut a), "up0");

    // While A binds and unbinds, B never leaves through up1; while the default
    // moves and comes back, A bound to up1 never leaves through anything else.
    send(
        &mut b,
        json!({ "op": "connect_for", "addr": SERVER, "ms": 1500 }),
    );
    let started = Instant::now();
    let mut moves = 0;
    while started.elapsed() < Duration::from_millis(1300) {
        a.ok(json!({ "op": "set_app_net", "net": up1 }));
        a.ok(json!({ "op": "set_app_net", "net": 0 }));
        moves += 1;
    }
    let seen = b.read()["ok"].clone();
    let seen = seen.as_array().unwrap();
    assert!(
        seen.len() >= 10 && seen.iter().all(|r| r == "up0"),
        "B while A moved {moves} times: {seen:?}"
    );
    a.ok(json!({ "op": "set_app_net", "net": up1 }));
    send(
        &mut a,
        json!({ "op": "connect_for", "addr": SERVER, "ms": 5000 }),
    );
    rig.topology.uplinks[0]
        .ip(&["link", "set", "gw0", "down"])
        .unwrap();
    eventually("up1 as the default", || {
        b.ok(json!({ "op": "default_net" })) == up1
    });
    rig.topology.uplinks[0]
        .ip(&["link", "set", "gw0", "up"])
        .unwrap();
    let switched_back = Instant::now();
    uplinks(&mut b);
    assert!(
        switched_back.elapsed() < Duration::from_secs(3),
        "the default came back late"
    );
    let seen = a.read()["ok"].clone();
    let seen = seen.as_array().unwrap();
    assert!(
        seen.len() >= 10 && seen.iter().all(|r| r == "up1"),
        "A while the default moved: {seen:?}"
    );
    uplinks(&mut b);
    // An app bound to a network that went has no network, rather than another.
    rig.topology.uplinks[1]
        .ip(&["link", "set", "gw1", "down"])
        .unwrap();
    eventually("up1 gone", || {
        !b.ok(json!({ "op": "all_nets" }))
            .as_array()
            .unwrap()
            .contains(&up1)
    });
    assert_eq!(connect(&mut a), "unreachable");
    assert_eq!(connect(&mut b), "up0");
    rig.topology.uplinks[1]
        .ip(&["link", "set", "gw1", "up"])
        .unwrap();
    let (_, up1) = uplinks(&mut b);
    a.ok(json!({ "op": "set_app_net", "net": 0 }));
    println!("  setAppNet: ok");

    // bindSocket of another process: the socket leaves through up1, B's others
    // through the default; no binding to a network that is not one, or with a
    // descriptor that is no socket.
    assert_eq!(
        b.ok(json!({ "op": "connect_bound", "net": up1, "addr": SERVER })),
        "up1"
    );
    assert_eq!(connect(&mut b), "up0");
    assert_eq!(
        b.err(json!({ "op": "connect_bound", "net": 4242, "addr": SERVER })),
        2100001
    );
    assert_eq!(
        b.err(json!({ "op": "bind_not_socket", "net": up1 })),
        2100001
    );
    println!("  bindSocket: ok");

    // getaddrinfo: A's custom rule; B's answer from the default network's server;
    // A bound to up1 asks up1's server.
    a.ok(json!({ "op": "add_rule", "host": "www.test", "ips": ["192.0.2.7"] }));
    assert_eq!(lookup(&mut a, "www.test"), json!(["192.0.2.7"]));
    assert_eq!(lookup(&mut b, "www.test"), json!(["10.0.0.1"]));
    a.ok(json!({ "op": "set_app_net", "net": up1 }));
    assert_eq!(lookup(&mut a, "other.test"), json!(["10.0.0.2"]));
    assert_eq!(lookup(&mut b, "other.test"), json!(["10.0.0.1"]));
    println!("  DNS: ok");

    // Killed, netcored leaves its rules; started again, it removes them and the same
    // calls give the same behaviour.
    let before = band_rules(&rig);
    assert!(
        before
            .iter()
            .any(|r| r.contains(&format!("uidrange {0}-{0}", app(A)))),
        "{before:?}"
    );
    rig.kill_daemon();
    assert_eq!(band_rules(&rig), before, "a killed netcored cleans nothing");
    rig.start_daemon();
    let (_, up1) = uplinks(&mut b);
    eventually("the new netcored's rules", || {
        let rules = band_rules(&rig);
        rules.iter().any(|r| r.starts_with("12900:"))
            && !rules.iter().any(|r| r.contains("uidrange"))
    });
    let rules = band_rules(&rig);
    let mut unique = rules.clone();
    unique.dedup();
    assert_eq!(unique, rules, "no rule twice");
    assert_eq!(
        connect(&mut a),
        "up0",
        "A's binding went with the old netcored"
    );
    a.ok(json!({ "op": "set_app_net", "net": up1 }));
    assert_eq!(connect(&mut a), "up1");
    assert_eq!(connect(&mut b), "up0");
    // The client library gave the new netcored A's rule again.
    assert_eq!(lookup(&mut a, "www.test"), json!(["192.0.2.7"]));
    a.ok(json!({ "op": "set_app_net", "net": 0 }));
    println!("  restart: ok");

    // A VPN covering A only: A's packets enter the TUN, B's do not, and the VPN
    // owner's own do not loop into it; only covered apps may bind to it.
    let mut c = rig.client_in_device(app(C));
    let vpn = c.ok(json!({ "op": "establish_vpn", "address": "10.8.0.2", "allowed": [app(A)] }));
    let mut vpn_net = Value::Null;
    eventually("the VPN's network and rule", || {
        let nets = a.ok(json!({ "op": "all_nets" }));
        vpn_net = nets
            .as_array()
            .unwrap()
            .iter()
            .find(|n| a.ask(json!({ "op": "interface", "net": n }))["ok"] == vpn)
            .cloned()
            .unwrap_or(Value::Null);
        !vpn_net.is_null() && band_rules(&rig).iter().any(|r| r.starts_with("12300:"))
    });
    let packets = |c: &mut Client| c.ok(json!({ "op": "vpn_packets" })).as_u64().unwrap();
    assert_eq!(
        connect(&mut a),
        "timeout",
        "A's connection is the VPN's to carry"
    );
    let through_vpn = packets(&mut c);
    assert!(through_vpn >= 1, "A's SYN came out of the TUN");
    assert_eq!(connect(&mut b), "up0");
    assert_eq!(
        connect(&mut c),
        "up0",
        "the owner never loops into its tunnel"
    );
    assert_eq!(
        packets(&mut c),
        through_vpn,
        "neither B's nor the owner's packets"
    );
    assert_eq!(
        b.err(json!({ "op": "connect_bound", "net": vpn_net, "addr": SERVER })),
        201
    );
    // The VPN goes with its app: A follows the default again.
    c.ok(json!({ "op": "exit" }));
    drop(c);
    eventually("the VPN gone", || connect(&mut a) == "up0");
    println!("  VPN: ok");

    // Stopped, netcored takes its rules and its resolv.conf away.
    rig.stop_daemon();
    assert!(band_rules(&rig).is_empty(), "{:?}", band_rules(&rig));
    assert!(
        !std::path::Path::new(&resolv_conf).exists(),
        "resolv.conf removed with netcored"
    );
    println!("per_app_networking: ok");
}

fn main() {
    if std::env::var_os(CLIENT_ENV).is_some() {
        client_main();
        return;
    }
    if !is_root() {
        println!("system_apps: skipped (needs root for namespaces, TUN and other uids)");
        return;
    }
    // A scenario that hangs fails the suite rather than CI's time limit.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(300));
        eprintln!("system_apps: a scenario hung for 300 s");
        std::process::exit(1);
    });
    per_app_networking();
}
