//! System suite (needs root): netcored on a private bus, in a device namespace with
//! two Ethernet uplinks, serving client processes that run as other uids.
//!
//! The clients are this same test program started again (with
//! `NETCORED_TEST_CLIENT` set) under `setpriv` as another user: each reads one JSON
//! command a line on stdin, calls the public API through netcored
//! (`NetManager::connect`) and answers one JSON line on stdout.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use netcore_link::testing::{NetNs, is_root};
use serde_json::{Value, json};

/// The environment variable that makes this program a client.
const CLIENT_ENV: &str = "NETCORED_TEST_CLIENT";

/// The uids of the three apps: accounts of the system (the bus accepts only users it
/// can look up), other than root. The first may also set the PAC URL, the second
/// has what an ordinary app has, the third lacks GET_NETWORK_INFO.
fn app_uids() -> [u32; 3] {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let uids: Vec<u32> = passwd
        .lines()
        .filter_map(|line| line.split(':').nth(2)?.parse().ok())
        .filter(|&uid| uid != 0 && uid < 65_534)
        .take(3)
        .collect();
    uids.try_into()
        .expect("three accounts besides root in /etc/passwd")
}

/// The first app (it may set the PAC URL), the second (an ordinary app), the third
/// (without GET_NETWORK_INFO).
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

/// The uid of app `n`.
fn app(n: usize) -> u32 {
    app_uids()[n]
}

fn policy() -> String {
    let [a, b, _] = app_uids();
    format!(
        "default = [\"INTERNET\"]\n[uid]\n{a} = [\"GET_NETWORK_INFO\", \"SET_PAC_URL\"]\n{b} = [\"GET_NETWORK_INFO\"]\n"
    )
}

const CONFIG: &str = r#"builtin_wifi = false
builtin_cellular = false
builtin_bluetooth = false
[engine]
linger_secs = 1
[ethernet]
allow = ["up*"]
[ethernet.interfaces.up0]
quality = 90
[ethernet.interfaces.up1]
quality = 50
"#;

// ----- the client side -----

/// Runs the client: one command a line on stdin, one answer a line on stdout.
fn client_main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(async {
        let manager = match netcore_facade::NetManager::connect().await {
            Ok(manager) => manager,
            Err(e) => {
                println!("{}", json!({ "err": e.code(), "msg": e.to_string() }));
                return;
            }
        };
        println!("{}", json!({ "ok": "connected" }));
        let mut connections = Vec::new();
        let stdin = std::io::stdin();
        for line in stdin.lock().lines().map_while(Result::ok) {
            let command: Value = serde_json::from_str(&line).expect("a JSON command");
            let answer = match client_command(&manager, &mut connections, &command).await {
                Ok(value) => json!({ "ok": value }),
                Err(e) => json!({ "err": e.code(), "msg": e.to_string() }),
            };
            println!("{answer}");
            if command["op"] == "exit" {
                return;
            }
        }
    });
}

async fn client_command(
    manager: &netcore_facade::NetManager,
    connections: &mut Vec<netcore_facade::NetConnection>,
    command: &Value,
) -> netcore::Result<Value> {
    use netcore::{HttpProxy, NetHandle};
    let net = |v: &Value| NetHandle::new(v.as_i64().unwrap_or(0));
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Ok(match command["op"].as_str().unwrap_or_default() {
        "default_net" => json!(manager.get_default_net().await?.net_id()),
        "all_nets" => json!(
            manager
                .get_all_nets()
                .await?
                .iter()
                .map(|n| n.net_id())
                .collect::<Vec<_>>()
        ),
        "set_app_net" => {
            manager.set_app_net(net(&command["net"])?).await?;
            json!(null)
        }
        "app_net" => json!(manager.get_app_net().await?.net_id()),
        "add_rule" => {
            let ips: Vec<String> = command["ips"]
                .as_array()
                .map(|a| a.iter().map(text).collect())
                .unwrap_or_default();
            manager
                .add_custom_dns_rule(&text(&command["host"]), &ips)
                .await?;
            json!(null)
        }
        "resolve" => json!(
            manager
                .get_addresses_by_name(&text(&command["host"]))
                .await?
                .iter()
                .map(|a| a.ip().to_string())
                .collect::<Vec<_>>()
        ),
        "set_app_proxy" => {
            let proxy = HttpProxy::new(&text(&command["host"]), 3128, Vec::new())?;
            manager.set_app_http_proxy(proxy).await?;
            json!(null)
        }
        "default_proxy" => json!(manager.get_default_http_proxy().await?.map(|p| p.host)),
        "set_pac_file_url" => {
            manager.set_pac_file_url(&text(&command["url"])).await?;
            json!(null)
        }
        "register" => {
            let count = command["count"].as_u64().unwrap_or(1);
            for registered in 0..count {
                let mut connection = manager.create_net_connection(None, 0);
                if let Err(e) = connection.register().await {
                    return Ok(json!({ "registered": registered, "err": e.code() }));
                }
                connections.push(connection);
            }
            json!({ "registered": count })
        }
        "next_event" => {
            let connection = connections
                .first_mut()
                .ok_or_else(|| netcore::Error::invalid("no connection"))?;
            let wait = Duration::from_millis(command["timeout_ms"].as_u64().unwrap_or(10_000));
            match tokio::time::timeout(wait, connection.next_event()).await {
                Ok(Some(event)) => json!(format!(
                    "{}({})",
                    event.name(),
                    event.net_handle().unwrap_or(NetHandle::NONE)
                )),
                Ok(None) => json!("ended"),
                Err(_) => json!("none"),
            }
        }
        "own_name" => {
            let owned = async {
                let connection = zbus::Connection::system().await?;
                connection.request_name(netcore_bus::BUS_NAME).await
            };
            json!(owned.await.is_ok())
        }
        "exit" => json!(null),
        other => return Err(netcore::Error::invalid(format!("unknown op {other:?}"))),
    })
}

// ----- the test side -----

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A client process running as some uid.
struct Client {
    _process: Process,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Client {
    /// Starts `program` (a copy of this test) as `uid` on the bus at `address`.
    fn start(program: &Path, uid: u32, address: &str) -> Self {
        let mut child = Command::new("setpriv")
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={uid}"))
            .arg("--clear-groups")
            .arg(program)
            .env(CLIENT_ENV, "1")
            .env("DBUS_SYSTEM_BUS_ADDRESS", address)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("setpriv runs (util-linux)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut client = Self {
            _process: Process(child),
            stdin,
            stdout,
        };
        let hello = client.read();
        assert_eq!(hello["ok"], "connected", "client {uid}: {hello}");
        client
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("an answer");
        assert!(!line.is_empty(), "the client ended");
        serde_json::from_str(&line).expect("a JSON answer")
    }

    /// Sends `command`; the whole answer.
    fn ask(&mut self, command: Value) -> Value {
        writeln!(self.stdin, "{command}").expect("the client reads");
        self.stdin.flush().unwrap();
        self.read()
    }

    /// Sends `command`; the value of a successful answer.
    fn ok(&mut self, command: Value) -> Value {
        let answer = self.ask(command.clone());
        assert!(answer.get("err").is_none(), "{command}: {answer}");
        answer["ok"].clone()
    }

    /// Sends `command`; the code of the error it must give.
    fn err(&mut self, command: Value) -> i64 {
        let answer = self.ask(command.clone());
        answer["err"]
            .as_i64()
            .unwrap_or_else(|| panic!("{command} did not fail: {answer}"))
    }

    /// The next event of the client's first connection, as `name(netId)`.
    fn next_event(&mut self) -> String {
        self.ok(json!({ "op": "next_event" }))
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// The device namespace with `up0` (preferred) and `up1`, each to an upstream
/// namespace.
struct Topology {
    dev: NetNs,
    uplinks: Vec<NetNs>,
}

fn topology() -> Topology {
    let dev = NetNs::create().unwrap();
    let mut uplinks = Vec::new();
    for (i, prefix) in ["198.51.100", "203.0.113"].iter().enumerate() {
        let up = NetNs::create().unwrap();
        let (name, gw) = (format!("up{i}"), format!("gw{i}"));
        dev.add_veth_to(&name, &gw, &up).unwrap();
        dev.ip(&["addr", "add", &format!("{prefix}.2/24"), "dev", &name])
            .unwrap();
        up.ip(&["addr", "add", &format!("{prefix}.1/24"), "dev", &gw])
            .unwrap();
        uplinks.push(up);
    }
    Topology { dev, uplinks }
}

/// A private system bus: dbus-daemon on a socket in a directory of the test. With
/// `strict`, its policy is the one of a distribution's system bus (Debian's
/// `system.conf`: nobody owns or calls a name unless a policy file allows it) plus
/// netcored's own policy file from `dist/`; else everyone may do everything.
struct Bus {
    _process: Process,
    address: String,
}

impl Bus {
    fn start(dir: &Path, strict: bool) -> Self {
        let socket = dir.join("bus");
        let policy = if strict {
            format!(
                r#"<policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <include>{}/dist/org.netcore.Netcore1.conf</include>"#,
                env!("CARGO_MANIFEST_DIR")
            )
        } else {
            r#"<policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>"#
                .to_owned()
        };
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  {policy}
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(!line.trim().is_empty(), "dbus-daemon printed no address");
        Self {
            _process: Process(child),
            address: line.trim().to_owned(),
        }
    }

    fn address(&self) -> &str {
        &self.address
    }
}

/// Everything a scenario needs: the bus, the topology, the daemon, the client
/// program.
struct Rig {
    // Dropped in this order: the daemon before its bus.
    daemon: Option<Process>,
    bus: Bus,
    topology: Topology,
    program: PathBuf,
    dir: tempfile::TempDir,
}

impl Rig {
    fn start() -> Self {
        Self::on_bus(false)
    }

    /// With a system bus's policy and netcored's policy file.
    fn on_bus(strict: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Other uids reach the bus's socket and run the client program here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bus = Bus::start(dir.path(), strict);
        std::fs::write(dir.path().join("netcored.toml"), CONFIG).unwrap();
        std::fs::write(dir.path().join("policy.toml"), policy()).unwrap();
        let program = dir.path().join("client");
        std::fs::copy(std::env::current_exe().unwrap(), &program).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut rig = Self {
            dir,
            bus,
            topology: topology(),
            daemon: None,
            program,
        };
        rig.start_daemon();
        rig
    }

    /// Starts netcored in the device namespace and waits until it owns its name.
    fn start_daemon(&mut self) {
        let child = Command::new("ip")
            .args(["netns", "exec", self.topology.dev.name()])
            .arg(env!("CARGO_BIN_EXE_netcored"))
            .arg("--bus")
            .arg(self.bus.address())
            .arg("--config")
            .arg(self.dir.path().join("netcored.toml"))
            .arg("--policy")
            .arg(self.dir.path().join("policy.toml"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("netcored starts");
        self.daemon = Some(Process(child));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.name_owned() {
            assert!(Instant::now() < deadline, "netcored did not take its name");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn name_owned(&self) -> bool {
        Command::new("busctl")
            .arg(format!("--address={}", self.bus.address()))
            .args(["status", netcore_bus::BUS_NAME])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Kills netcored at once (SIGKILL).
    fn kill_daemon(&mut self) {
        self.daemon = None;
    }

    fn client(&self, uid: u32) -> Client {
        Client::start(&self.program, uid, self.bus.address())
    }
}

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
