//! What netcored's system suite and benchmarks share: a private system bus, the
//! device namespace with two Ethernet uplinks, netcored in it, and client processes
//! running as other uids.
//!
//! The clients are the calling program started again (with `NETCORED_TEST_CLIENT`
//! set), under `setpriv` as another user: each reads one JSON command a line on
//! stdin, calls the public API through netcored (`NetManager::connect`) and answers
//! one JSON line on stdout.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use netcore_link::testing::NetNs;
use serde_json::{Value, json};

/// The environment variable that makes this program a client.
pub const CLIENT_ENV: &str = "NETCORED_TEST_CLIENT";

/// The uids of the three apps: accounts of the system (the bus accepts only users it
/// can look up), other than root. The first may also set the PAC URL, the second
/// has what an ordinary app has, the third lacks GET_NETWORK_INFO.
pub fn app_uids() -> [u32; 3] {
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
pub const A: usize = 0;
pub const B: usize = 1;
pub const C: usize = 2;

/// The uid of app `n`.
pub fn app(n: usize) -> u32 {
    app_uids()[n]
}

pub fn policy() -> String {
    let [a, b, _] = app_uids();
    format!(
        "default = [\"INTERNET\"]\n[uid]\n{a} = [\"GET_NETWORK_INFO\", \"SET_PAC_URL\"]\n{b} = [\"GET_NETWORK_INFO\"]\n"
    )
}

pub const CONFIG: &str = r#"builtin_wifi = false
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
pub fn client_main() {
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
        // The seed's *Sync form, from a thread of the client's multi-threaded runtime.
        "default_net_sync" => json!(netcore_facade::blocking::get_default_net(manager)?.net_id()),
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
        "next_event_at" => {
            let connection = connections
                .first_mut()
                .ok_or_else(|| netcore::Error::invalid("no connection"))?;
            match tokio::time::timeout(Duration::from_secs(10), connection.next_event()).await {
                Ok(Some(event)) => json!([
                    format!(
                        "{}({})",
                        event.name(),
                        event.net_handle().unwrap_or(NetHandle::NONE)
                    ),
                    monotonic_ns()
                ]),
                _ => json!(["none", monotonic_ns()]),
            }
        }
        "await_switch" => {
            // Every connection gets netLost then netAvailable: when the last did.
            // They come in one batch, so waiting for them one after the other costs
            // nothing and spares 100 futures polled together.
            let mut last = 0;
            for connection in connections.iter_mut() {
                let mut lost = false;
                loop {
                    match tokio::time::timeout(Duration::from_secs(10), connection.next_event())
                        .await
                    {
                        Ok(Some(netcore::engine::NetEvent::Lost(_))) => lost = true,
                        Ok(Some(netcore::engine::NetEvent::Available(_))) if lost => {
                            last = monotonic_ns();
                            break;
                        }
                        Ok(Some(_)) => {}
                        _ => {
                            return Err(netcore::Error::Internal("a switch did not arrive".into()));
                        }
                    }
                }
            }
            json!(last)
        }
        "drain" => {
            for connection in connections.iter_mut() {
                while connection.try_next_event().is_some() {}
            }
            json!(null)
        }
        // Plain sockets and getaddrinfo, as any program: what per-app networking
        // must steer without the program knowing.
        "connect" => {
            let addr: std::net::SocketAddr = text(&command["addr"]).parse().unwrap();
            let socket = tokio::net::TcpSocket::new_v4().map_err(io_error)?;
            json!(talk(socket, addr).await)
        }
        "connect_for" => {
            // Connection after connection for `ms`: what each reached.
            let addr: std::net::SocketAddr = text(&command["addr"]).parse().unwrap();
            let until = Instant::now() + Duration::from_millis(command["ms"].as_u64().unwrap_or(0));
            let mut results = Vec::new();
            while Instant::now() < until {
                let socket = tokio::net::TcpSocket::new_v4().map_err(io_error)?;
                results.push(talk(socket, addr).await);
            }
            json!(results)
        }
        "interface" => json!(
            manager
                .get_connection_properties(net(&command["net"])?)
                .await?
                .interface_name
        ),
        "connect_bound" => {
            let addr: std::net::SocketAddr = text(&command["addr"]).parse().unwrap();
            let socket = tokio::net::TcpSocket::new_v4().map_err(io_error)?;
            manager
                .network(net(&command["net"])?)
                .bind_socket(&socket)?;
            json!(talk(socket, addr).await)
        }
        "lookup" => {
            let host = text(&command["host"]);
            let found = tokio::task::spawn_blocking(move || {
                use std::net::ToSocketAddrs;
                (host.as_str(), 0).to_socket_addrs()
            })
            .await
            .expect("getaddrinfo ran");
            match found {
                Ok(addresses) => {
                    let mut ips: Vec<String> = addresses.map(|a| a.ip().to_string()).collect();
                    ips.dedup();
                    json!(ips)
                }
                Err(e) => json!(format!("failed: {e}")),
            }
        }
        "bind_not_socket" => {
            // What a misbehaving client could send: a descriptor that is no socket.
            let file = std::fs::File::open("/dev/null").map_err(io_error)?;
            let connection = zbus::Connection::system()
                .await
                .map_err(|e| netcore::Error::Service(e.to_string()))?;
            let proxy = netcore_bus::Netcore1Proxy::new(&connection)
                .await
                .map_err(|e| netcore::Error::Service(e.to_string()))?;
            use std::os::fd::AsFd;
            proxy
                .bind_socket(net(&command["net"])?.net_id(), file.as_fd().into())
                .await
                .map_err(netcore_bus::error_from_bus)?;
            json!(null)
        }
        "establish_vpn" => {
            let address =
                netcore::LinkAddress::new(text(&command["address"]).parse().unwrap(), 24)?;
            let mut spec = netcore_bearer_vpn::VpnSpec::new(address);
            spec.routes = vec![(std::net::Ipv4Addr::UNSPECIFIED.into(), 0)];
            spec.allowed_apps = command["allowed"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_u64())
                        .map(|u| u as u32)
                        .collect()
                })
                .unwrap_or_default();
            let tunnel = manager.establish_vpn(spec).await?;
            let name = tunnel.name().to_owned();
            let seen = std::sync::Arc::clone(&VPN_PACKETS);
            tokio::spawn(async move {
                let mut packet = vec![0u8; 2048];
                while let Ok(len) = tunnel.recv(&mut packet).await {
                    // IPv4 packets to the upstreams' server.
                    if len >= 20 && packet[0] >> 4 == 4 && packet[16..20] == [192, 0, 2, 80] {
                        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            });
            json!(name)
        }
        "vpn_packets" => json!(VPN_PACKETS.load(std::sync::atomic::Ordering::SeqCst)),
        "exit" => json!(null),
        other => return Err(netcore::Error::invalid(format!("unknown op {other:?}"))),
    })
}

/// The packets to the upstreams' server that came out of the client's VPN.
static VPN_PACKETS: std::sync::LazyLock<std::sync::Arc<std::sync::atomic::AtomicUsize>> =
    std::sync::LazyLock::new(Default::default);

fn io_error(e: std::io::Error) -> netcore::Error {
    netcore::Error::Internal(e.to_string())
}

/// Connects `socket` to `addr` and reads what the server says (the name of the
/// upstream it runs in), or how it failed: `timeout`, `refused`, `unreachable`.
async fn talk(socket: tokio::net::TcpSocket, addr: std::net::SocketAddr) -> String {
    use tokio::io::AsyncReadExt;
    let connected = tokio::time::timeout(Duration::from_millis(1500), socket.connect(addr)).await;
    let mut stream = match connected {
        Err(_) => return "timeout".into(),
        Ok(Err(e)) => {
            return match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "refused".into(),
                std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::HostUnreachable => {
                    "unreachable".into()
                }
                _ => format!("failed: {e}"),
            };
        }
        Ok(Ok(stream)) => stream,
    };
    let mut reply = String::new();
    match tokio::time::timeout(Duration::from_secs(2), stream.read_to_string(&mut reply)).await {
        Ok(Ok(_)) => reply,
        _ => "no reply".into(),
    }
}

/// CLOCK_MONOTONIC in nanoseconds: comparable between processes.
pub fn monotonic_ns() -> u64 {
    let now =
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("the monotonic clock");
    u64::try_from(now.tv_sec()).unwrap_or(0) * 1_000_000_000
        + u64::try_from(now.tv_nsec()).unwrap_or(0)
}

// ----- the test side -----

/// A child process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A client process running as some uid.
pub struct Client {
    _process: Process,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Client {
    /// Starts `program` (a copy of this test) as `uid` on the bus at `address`.
    pub fn start(program: &Path, uid: u32, address: &str) -> Self {
        Self::start_in(None, program, uid, address)
    }

    /// Starts `program` as `uid` on the bus at `address`, in the network namespace
    /// `netns` when given (with its `/etc/netns/<name>` files, as `ip netns exec`
    /// does).
    pub fn start_in(netns: Option<&str>, program: &Path, uid: u32, address: &str) -> Self {
        let mut command = match netns {
            Some(name) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", name, "setpriv"]);
                command
            }
            None => Command::new("setpriv"),
        };
        let mut child = command
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

    /// Where commands go, to send one without waiting for its answer.
    pub fn stdin_mut(&mut self) -> &mut ChildStdin {
        &mut self.stdin
    }

    pub fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("an answer");
        assert!(!line.is_empty(), "the client ended");
        serde_json::from_str(&line).expect("a JSON answer")
    }

    /// Sends `command`; the whole answer.
    pub fn ask(&mut self, command: Value) -> Value {
        writeln!(self.stdin, "{command}").expect("the client reads");
        self.stdin.flush().unwrap();
        self.read()
    }

    /// Sends `command`; the whole answer, which must be a success.
    pub fn ok_answer(&mut self, command: Value) -> Value {
        let answer = self.ask(command.clone());
        assert!(answer.get("err").is_none(), "{command}: {answer}");
        answer
    }

    /// Sends `command`; the value of a successful answer.
    pub fn ok(&mut self, command: Value) -> Value {
        let answer = self.ask(command.clone());
        assert!(answer.get("err").is_none(), "{command}: {answer}");
        answer["ok"].clone()
    }

    /// Sends `command`; the code of the error it must give.
    pub fn err(&mut self, command: Value) -> i64 {
        let answer = self.ask(command.clone());
        answer["err"]
            .as_i64()
            .unwrap_or_else(|| panic!("{command} did not fail: {answer}"))
    }

    /// The next event of the client's first connection, as `name(netId)`.
    pub fn next_event(&mut self) -> String {
        self.ok(json!({ "op": "next_event" }))
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// The device namespace with `up0` (preferred) and `up1`, each to an upstream
/// namespace.
pub struct Topology {
    pub dev: NetNs,
    pub uplinks: Vec<NetNs>,
}

pub fn topology() -> Topology {
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
pub struct Bus {
    _process: Process,
    address: String,
}

impl Bus {
    pub fn start(dir: &Path, strict: bool) -> Self {
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

    pub fn address(&self) -> &str {
        &self.address
    }
}

/// Everything a scenario needs: the bus, the topology, the daemon, the client
/// program.
pub struct Rig {
    // Dropped in this order: the daemon before its bus.
    pub daemon: Option<Process>,
    pub bus: Bus,
    pub topology: Topology,
    pub program: PathBuf,
    pub dir: tempfile::TempDir,
    /// `/etc/netns/<device namespace>`, when the configuration names it: the files
    /// `ip netns exec` gives the processes of the namespace (resolv.conf).
    pub etc_netns: Option<PathBuf>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.daemon = None;
        if let Some(dir) = &self.etc_netns {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Rig {
    pub fn start() -> Self {
        Self::on_bus(false)
    }

    /// With a system bus's policy and netcored's policy file.
    pub fn on_bus(strict: bool) -> Self {
        Self::with(strict, CONFIG)
    }

    /// With netcored's configuration `config`.
    pub fn with(strict: bool, config: &str) -> Self {
        Self::with_policy(strict, config, &policy())
    }

    /// With netcored's configuration `config` and policy `policy`.
    pub fn with_policy(strict: bool, config: &str, policy: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Other uids reach the bus's socket and run the client program here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bus = Bus::start(dir.path(), strict);
        let topology = topology();
        let etc_netns = config.contains("/etc/netns/{DEV}").then(|| {
            let dir = PathBuf::from(format!("/etc/netns/{}", topology.dev.name()));
            std::fs::create_dir_all(&dir).unwrap();
            dir
        });
        // `{DEV}` in the configuration: the device namespace's name.
        let config = config.replace("{DEV}", topology.dev.name());
        std::fs::write(dir.path().join("netcored.toml"), config).unwrap();
        std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
        let program = dir.path().join("client");
        std::fs::copy(std::env::current_exe().unwrap(), &program).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut rig = Self {
            dir,
            bus,
            topology,
            daemon: None,
            program,
            etc_netns,
        };
        rig.start_daemon();
        rig
    }

    /// Starts netcored in the device namespace and waits until it owns its name.
    pub fn start_daemon(&mut self) {
        self.spawn_daemon();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.name_owned() {
            assert!(Instant::now() < deadline, "netcored did not take its name");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts netcored in the device namespace; returns its pid at once.
    pub fn spawn_daemon(&mut self) -> u32 {
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
        let pid = child.id();
        self.daemon = Some(Process(child));
        pid
    }

    pub fn name_owned(&self) -> bool {
        Command::new("busctl")
            .arg(format!("--address={}", self.bus.address()))
            .args(["status", netcore_bus::BUS_NAME])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Kills netcored at once (SIGKILL).
    pub fn kill_daemon(&mut self) {
        self.daemon = None;
    }

    /// Stops netcored as systemd does (SIGTERM) and waits until it has ended.
    pub fn stop_daemon(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &daemon.0.id().to_string()])
                .status();
            let _ = daemon.0.wait();
        }
    }

    pub fn client(&self, uid: u32) -> Client {
        Client::start(&self.program, uid, self.bus.address())
    }

    /// A client running as `uid` inside the device namespace.
    pub fn client_in_device(&self, uid: u32) -> Client {
        Client::start_in(
            Some(self.topology.dev.name()),
            &self.program,
            uid,
            self.bus.address(),
        )
    }
}
