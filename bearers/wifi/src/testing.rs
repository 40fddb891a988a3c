//! An in-process fake wpa_supplicant for tests without root (feature `testing`).
//!
//! [`FakeWpa`] serves one interface's control socket in a directory of its own
//! ([`TempDir`]) on the caller's tokio runtime: it answers PING, ATTACH, DETACH,
//! STATUS, SIGNAL_POLL, LIST_NETWORKS, SELECT_NETWORK, RECONNECT and DISCONNECT
//! from a small state, sends `CTRL-EVENT-CONNECTED` / `CTRL-EVENT-DISCONNECTED` to
//! attached clients when that state changes, records every command, and can
//! terminate (with `CTRL-EVENT-TERMINATING`) or vanish (socket removed, no word).
//!
//! [`WpaSupplicant`] runs the real one (`-D wired`) in a network namespace, for
//! system tests and benchmarks as root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::UnixDatagram;
use tokio::task::JoinHandle;

/// A fresh directory under the temporary directory, removed with its contents on
/// drop.
pub use tempfile::TempDir;

/// The fake's state; change it through [`FakeWpa`]'s methods.
#[derive(Debug, Clone, Default)]
pub struct FakeState {
    /// The configured networks: (id, SSID).
    pub networks: Vec<(u32, String)>,
    /// The connected network id; `None` when disconnected.
    pub current: Option<u32>,
    /// The last selected network id (what RECONNECT connects).
    pub selected: Option<u32>,
    /// The RSSI SIGNAL_POLL reports while connected; `None`: it answers FAIL.
    pub rssi: Option<i32>,
    /// When set, STATUS answers this text instead.
    pub status_override: Option<String>,
    /// Every command received, in order.
    pub commands: Vec<String>,
    /// The paths of attached clients.
    pub monitors: Vec<PathBuf>,
}

impl FakeState {
    fn status(&self) -> String {
        if let Some(text) = &self.status_override {
            return text.clone();
        }
        let mut text = String::new();
        if let Some(id) = self.current {
            let ssid = self.ssid(id).unwrap_or_default();
            text.push_str(&format!(
                "bssid=02:00:00:00:01:00\nfreq=2412\nssid={ssid}\nid={id}\nmode=station\nkey_mgmt=NONE\nwpa_state=COMPLETED\n"
            ));
        } else {
            text.push_str("wpa_state=DISCONNECTED\n");
        }
        text.push_str("address=02:00:00:00:00:01\n");
        text
    }

    fn ssid(&self, id: u32) -> Option<String> {
        self.networks
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, s)| s.clone())
    }
}

/// A fake wpa_supplicant serving `DIR/INTERFACE`; stops (and removes its socket)
/// when dropped.
#[derive(Debug)]
pub struct FakeWpa {
    path: PathBuf,
    socket: Arc<UnixDatagram>,
    state: Arc<Mutex<FakeState>>,
    task: JoinHandle<()>,
}

const CONNECTED_EVENT: &str = "<3>CTRL-EVENT-CONNECTED - Connection to 02:00:00:00:01:00 completed";
const DISCONNECTED_EVENT: &str =
    "<3>CTRL-EVENT-DISCONNECTED bssid=02:00:00:00:01:00 reason=3 locally_generated=1";

impl FakeWpa {
    /// Serves `dir/interface` with `state`. Must be called inside a tokio runtime.
    pub fn start(dir: &Path, interface: &str, state: FakeState) -> std::io::Result<Self> {
        let path = dir.join(interface);
        let _ = std::fs::remove_file(&path);
        let socket = Arc::new(UnixDatagram::bind(&path)?);
        let state = Arc::new(Mutex::new(state));
        let task = tokio::spawn(serve(socket.clone(), state.clone()));
        Ok(Self {
            path,
            socket,
            state,
            task,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        lock(&self.state)
    }

    /// A copy of the state.
    pub fn state(&self) -> FakeState {
        self.lock().clone()
    }

    /// The commands received so far.
    pub fn commands(&self) -> Vec<String> {
        self.lock().commands.clone()
    }

    /// How many clients are attached.
    pub fn attached(&self) -> usize {
        self.lock().monitors.len()
    }

    /// Connects network `id` (known or not) and tells attached clients.
    pub async fn connect(&self, id: u32) {
        {
            let mut state = self.lock();
            state.current = Some(id);
            state.selected = Some(id);
        }
        self.send_event(&format!("{CONNECTED_EVENT} [id={id} id_str=]"))
            .await;
    }

    /// Disconnects and tells attached clients.
    pub async fn disconnect(&self) {
        self.lock().current = None;
        self.send_event(DISCONNECTED_EVENT).await;
    }

    /// Sets the RSSI that SIGNAL_POLL reports (`None`: FAIL). No event is sent.
    pub fn set_rssi(&self, rssi: Option<i32>) {
        self.lock().rssi = rssi;
    }

    /// Makes STATUS answer `text` (`None`: the real status).
    pub fn set_status_override(&self, text: Option<&str>) {
        self.lock().status_override = text.map(str::to_owned);
    }

    /// Sends `bytes` to every attached client, as an event.
    pub async fn send_raw(&self, bytes: &[u8]) {
        let monitors = self.lock().monitors.clone();
        for monitor in monitors {
            let _ = self.socket.send_to(bytes, &monitor).await;
        }
    }

    /// Sends `text` to every attached client.
    pub async fn send_event(&self, text: &str) {
        self.send_raw(text.as_bytes()).await;
    }

    /// Sends `CTRL-EVENT-TERMINATING` and stops.
    pub async fn terminate(self) {
        self.send_event("<2>CTRL-EVENT-TERMINATING").await;
    }

    /// Stops without a word: the socket is closed and removed.
    pub fn vanish(self) {
        drop(self);
    }
}

impl Drop for FakeWpa {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

fn lock(state: &Mutex<FakeState>) -> MutexGuard<'_, FakeState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn serve(socket: Arc<UnixDatagram>, state: Arc<Mutex<FakeState>>) {
    let mut buffer = vec![0u8; 4096];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buffer).await else {
            return;
        };
        let Some(from) = from.as_pathname().map(Path::to_owned) else {
            continue;
        };
        let command = String::from_utf8_lossy(&buffer[..n]).into_owned();
        let (reply, event) = answer(&mut lock(&state), &command, &from);
        let _ = socket.send_to(reply.as_bytes(), &from).await;
        if let Some(event) = event {
            let monitors = lock(&state).monitors.clone();
            for monitor in monitors {
                let _ = socket.send_to(event.as_bytes(), &monitor).await;
            }
        }
    }
}

/// The reply to `command`, and the event it causes.
fn answer(state: &mut FakeState, command: &str, from: &Path) -> (String, Option<String>) {
    state.commands.push(command.to_owned());
    let mut words = command.split(' ');
    let name = words.next().unwrap_or_default();
    let id = words.next().and_then(|w| w.parse::<u32>().ok());
    let ok = || "OK\n".to_owned();
    match name {
        "PING" => ("PONG\n".into(), None),
        "ATTACH" => {
            state.monitors.push(from.to_owned());
            (ok(), None)
        }
        "DETACH" => {
            state.monitors.retain(|m| m != from);
            (ok(), None)
        }
        "STATUS" => (state.status(), None),
        "SIGNAL_POLL" => match (state.current, state.rssi) {
            (Some(_), Some(rssi)) => (
                format!("RSSI={rssi}\nLINKSPEED=65\nNOISE=9999\nFREQUENCY=2412\n"),
                None,
            ),
            _ => ("FAIL\n".into(), None),
        },
        "LIST_NETWORKS" => {
            let mut text = "network id / ssid / bssid / flags\n".to_owned();
            for (id, ssid) in &state.networks {
                let flags = if state.current == Some(*id) {
                    "[CURRENT]"
                } else {
                    ""
                };
                text.push_str(&format!("{id}\t{ssid}\tany\t{flags}\n"));
            }
            (text, None)
        }
        "SELECT_NETWORK" => match id.filter(|id| state.ssid(*id).is_some()) {
            Some(id) => {
                state.current = Some(id);
                state.selected = Some(id);
                (ok(), Some(format!("{CONNECTED_EVENT} [id={id} id_str=]")))
            }
            None => ("FAIL\n".into(), None),
        },
        "RECONNECT" => match state.selected.or(state.networks.first().map(|n| n.0)) {
            Some(id) if state.current.is_none() => {
                state.current = Some(id);
                (ok(), Some(format!("{CONNECTED_EVENT} [id={id} id_str=]")))
            }
            _ => (ok(), None),
        },
        "DISCONNECT" => {
            let was = state.current.take();
            (ok(), was.map(|_| DISCONNECTED_EVENT.to_owned()))
        }
        _ => ("UNKNOWN COMMAND\n".into(), None),
    }
}

/// Whether `wpa_supplicant` and `wpa_cli` can be run, installing Debian's
/// `wpasupplicant` package with apt-get when they cannot.
pub fn wpa_supplicant_installed() -> bool {
    let present = || {
        ["wpa_supplicant", "wpa_cli"].iter().all(|tool| {
            Command::new(tool)
                .arg("-v")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
    };
    if present() {
        return true;
    }
    let installed = Command::new("apt-get")
        .args(["install", "-y", "wpasupplicant"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    installed && present()
}

/// A real wpa_supplicant with the `wired` driver on an interface of a network
/// namespace, its control sockets in `DIR/ctrl`, its log in `DIR/wpa.log`; killed
/// (SIGKILL) when dropped.
#[derive(Debug)]
pub struct WpaSupplicant {
    child: Child,
    dir: PathBuf,
    interface: String,
}

/// The SSID of the network [`WpaSupplicant`] configures (network id 0).
pub const WIRED_SSID: &str = "netcore-test";

impl WpaSupplicant {
    /// Starts `wpa_supplicant -D wired -i INTERFACE` in the namespace `netns` (with
    /// `ip netns exec`) with an open network (`key_mgmt=NONE`, `ap_scan=0`), and waits
    /// up to 10 s for `wpa_state=COMPLETED`.
    pub fn start(netns: &str, interface: &str, dir: &Path) -> std::io::Result<Self> {
        let config = dir.join("wpa.conf");
        let control = dir.join("ctrl");
        std::fs::write(
            &config,
            format!(
                "ctrl_interface={}\nap_scan=0\nnetwork={{\n key_mgmt=NONE\n eapol_flags=0\n ssid=\"{WIRED_SSID}\"\n}}\n",
                control.display()
            ),
        )?;
        let log = std::fs::File::create(dir.join("wpa.log"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", netns, "wpa_supplicant", "-D", "wired"])
            .args(["-i", interface, "-c"])
            .arg(&config)
            .arg("-C")
            .arg(&control)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let wpa = Self {
            child,
            dir: dir.to_owned(),
            interface: interface.to_owned(),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !wpa.cli("status").contains("wpa_state=COMPLETED") {
            if std::time::Instant::now() > deadline {
                return Err(std::io::Error::other(format!(
                    "wpa_supplicant did not reach COMPLETED: {}",
                    std::fs::read_to_string(dir.join("wpa.log")).unwrap_or_default()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(wpa)
    }

    /// The control socket directory (`DIR/ctrl`).
    pub fn control_dir(&self) -> PathBuf {
        self.dir.join("ctrl")
    }

    /// `wpa_cli -p DIR/ctrl -i INTERFACE COMMAND`: its standard output (empty when
    /// wpa_cli cannot run).
    pub fn cli(&self, command: &str) -> String {
        Command::new("wpa_cli")
            .arg("-p")
            .arg(self.control_dir())
            .args(["-i", &self.interface, command])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for WpaSupplicant {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
