//! System test (needs root): `netcorectl monitor --json` in a device namespace with
//! two Ethernet uplinks (veth pairs to namespaces of their own) sees one of them go
//! and come back, with the default network moving as the seed says.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use netcore_link::testing::{NetNs, skip_unless_root};
use serde_json::Value;

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The device namespace with `up0` (preferred by quality) and `up1`, each wired to
/// an upstream namespace holding its gateway.
fn topology() -> (NetNs, Vec<NetNs>) {
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
    (dev, uplinks)
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

#[test]
fn netcorectl_monitor_sees_a_link_flap() {
    if skip_unless_root() {
        return;
    }
    let (dev, uplinks) = topology();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("netcore.toml");
    std::fs::write(&config_path, CONFIG).unwrap();
    let mut monitor = Process(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                dev.name(),
                env!("CARGO_BIN_EXE_netcorectl"),
            ])
            .arg("--config")
            .arg(&config_path)
            .args(["monitor", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = monitor.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                return;
            }
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("a line within 10 s")
    };

    // Wait until up0 is known, from the first line or from an event.
    let mut up0: Option<u64> = None;
    let first = next();
    for n in first["networks"].as_array().cloned().unwrap_or_default() {
        if n["connectionProperties"]["interfaceName"] == "up0" {
            up0 = n["netHandle"]["netId"].as_u64();
        }
    }
    while up0.is_none() {
        let line = next();
        if line["event"] == "netConnectionPropertiesChange"
            && line["data"]["connectionProperties"]["interfaceName"] == "up0"
        {
            up0 = line["data"]["netHandle"]["netId"].as_u64();
        }
    }
    let up0 = up0.unwrap();

    uplinks[0].ip(&["link", "set", "gw0", "down"]).unwrap();
    loop {
        let line = next();
        if line["event"] == "netLost" {
            assert_eq!(line["data"]["netId"].as_u64(), Some(up0));
            assert_ne!(line["defaultNet"]["netId"].as_u64(), Some(up0));
            break;
        }
    }
    uplinks[0].ip(&["link", "set", "gw0", "up"]).unwrap();
    let available = loop {
        let line = next();
        assert_ne!(line["event"], "netLost", "nothing else goes: {line}");
        if line["event"] == "netAvailable" {
            break line;
        }
    };
    let again = available["data"]["netId"].as_u64().unwrap();
    assert!(again > up0, "a new netId for the returning network");
    let props = next();
    let props = if props["event"] == "netCapabilitiesChange" {
        next()
    } else {
        props
    };
    assert_eq!(props["event"], "netConnectionPropertiesChange");
    assert_eq!(
        props["data"]["connectionProperties"]["interfaceName"],
        "up0"
    );
    drop(monitor);
}
