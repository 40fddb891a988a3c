//! `cargo xtask`: the project's tasks.
//!
//! - `test`: every test of the workspace: unit, crate integration and, as root, the
//!   system suites (installing the packages they need);
//! - `integration`: the system suites alone (network namespaces; need root, else
//!   skipped with the reason printed, never passed);
//! - `bench`: every criterion benchmark, then a table of the medians;
//! - `daemon`: netcored on a private system bus, for development: it prints the
//!   bus's address for `netcorectl` and apps in other shells, and stops on Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// A system suite: a cargo test target that builds network namespaces and needs root.
struct SystemSuite {
    /// The package holding the test target.
    package: &'static str,
    /// The test target's name.
    test: &'static str,
}

/// The system suites `cargo xtask integration` runs, in order. `cargo xtask test`
/// runs them too, as part of the workspace's tests.
const SYSTEM_SUITES: &[SystemSuite] = &[
    SystemSuite {
        package: "netcore-link",
        test: "netns",
    },
    SystemSuite {
        package: "netcore-bearer-ethernet",
        test: "netns",
    },
    SystemSuite {
        package: "netcore-bearer-wifi",
        test: "netns",
    },
    SystemSuite {
        package: "netcore-bearer-vpn",
        test: "netns",
    },
    SystemSuite {
        package: "netcore-bearer-cellular",
        test: "modemmanager",
    },
    SystemSuite {
        package: "netcore-bearer-bluetooth",
        test: "bluez",
    },
    SystemSuite {
        package: "netcore-dns",
        test: "netns",
    },
    SystemSuite {
        package: "netcore-probe",
        test: "netns",
    },
    SystemSuite {
        package: "netcore-facade",
        test: "system_ethernet",
    },
    SystemSuite {
        package: "netcore-facade",
        test: "system_wifi",
    },
    SystemSuite {
        package: "netcore-facade",
        test: "system_vpn",
    },
    SystemSuite {
        package: "netcorectl",
        test: "system_monitor",
    },
    SystemSuite {
        package: "netcored",
        test: "system_daemon",
    },
    SystemSuite {
        package: "netcored",
        test: "system_apps",
    },
];

/// Debian packages the system suites use: namespaces, veth and tc (iproute2), DNS
/// servers in the upstream namespaces (dnsmasq), packet loss and silent routers
/// where the kernel has no netem (nftables), a real Wi-Fi peer (wpasupplicant), ping
/// through a VPN (iputils-ping), private D-Bus buses with python-dbusmock's
/// ModemManager and BlueZ (dbus, python3-dbus, python3-gi; the suites install
/// python-dbusmock from PyPI).
const SYSTEM_PACKAGES: &[&str] = &[
    "iproute2",
    "dnsmasq-base",
    "nftables",
    "wpasupplicant",
    "iputils-ping",
    "dbus",
    "python3-dbus",
    "python3-gi",
];

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "test" => test(),
        "integration" => integration(),
        "bench" => bench(),
        "daemon" => daemon(),
        _ => {
            eprintln!("usage: cargo xtask <test|integration|bench|daemon>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask {task}: {message}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("+ cargo {}", args.join(" "));
    let status = Command::new(cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}

fn test() -> Result<(), String> {
    if is_root() {
        install_packages()?;
    } else {
        println!(
            "test: not root: the system suites (network namespaces) print that they are \
             skipped; run as root to run them"
        );
    }
    // The example programs, as programs: netcored's suite runs them against a daemon.
    cargo(&["build", "--workspace", "--examples"])?;
    cargo(&["test", "--workspace", "--all-targets"])?;
    cargo(&["test", "--workspace", "--doc"])
}

/// Installs the missing [`SYSTEM_PACKAGES`] with apt.
fn install_packages() -> Result<(), String> {
    let missing: Vec<&str> = SYSTEM_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg")
                .args(["-s", p])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("+ apt-get install {}", missing.join(" "));
    let update = Command::new("apt-get").args(["update", "-qq"]).status();
    if !update.is_ok_and(|s| s.success()) {
        return Err("apt-get update failed".into());
    }
    let install = Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    if install.is_ok_and(|s| s.success()) {
        Ok(())
    } else {
        Err(format!("apt-get install {} failed", missing.join(" ")))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn integration() -> Result<(), String> {
    if !is_root() {
        println!(
            "integration: SKIPPED, not passed: the system suites create network namespaces \
             and need root (run as root to run them)"
        );
        return Ok(());
    }
    install_packages()?;
    cargo(&["build", "--workspace", "--examples"])?;
    for suite in SYSTEM_SUITES {
        cargo(&[
            "test",
            "--package",
            suite.package,
            "--test",
            suite.test,
            "--",
            "--test-threads=1",
        ])?;
    }
    Ok(())
}

/// Builds netcored and the PAC worker, starts a private system bus in
/// `target/xtask-daemon` and netcored on it (observing this host: the configuration
/// is `$NETCORE_CONFIG` when set, else the defaults, without `manage`), and waits.
fn daemon() -> Result<(), String> {
    cargo(&[
        "build",
        "-p",
        "netcored",
        "-p",
        "netcore-proxy",
        "--bin",
        "netcored",
        "--bin",
        "netcore-pac-worker",
    ])?;
    let dir = workspace_root().join("target").join("xtask-daemon");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let socket = dir.join("bus");
    let _ = std::fs::remove_file(&socket);
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
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
            socket.display()
        ),
    )
    .map_err(|e| format!("{}: {e}", config.display()))?;
    let mut bus = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .args(["--nofork", "--nopidfile"])
        .spawn()
        .map_err(|e| format!("cannot start dbus-daemon (package dbus): {e}"))?;
    let address = format!("unix:path={}", socket.display());
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    println!(
        "netcored on a private bus; in another shell:
"
    );
    println!("  export DBUS_SYSTEM_BUS_ADDRESS={address}");
    println!(
        "  cargo run -p netcorectl -- status
"
    );
    let status = Command::new(workspace_root().join("target/debug/netcored"))
        .args(["--bus", &address])
        .status();
    let _ = bus.kill();
    let _ = bus.wait();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("netcored ended: {status}")),
        Err(e) => Err(format!("cannot run netcored: {e}")),
    }
}

fn bench() -> Result<(), String> {
    cargo(&["bench", "--workspace"])?;
    let criterion = workspace_root().join("target").join("criterion");
    let mut rows = Vec::new();
    collect_estimates(&criterion, &criterion, &mut rows);
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    println!("\n{:<60} {:>14}", "benchmark", "median");
    for (name, median_ns) in &rows {
        println!("{name:<60} {:>14}", format_ns(*median_ns));
    }
    let ratios = baseline_ratios(&rows);
    if !ratios.is_empty() {
        println!(
            "\n{:<60} {:>14}",
            "netcore vs its plain baseline (speed)", "ratio"
        );
        for (group, ratio) in ratios {
            println!("{group:<60} {ratio:>13.2}x");
        }
    }
    Ok(())
}

/// For each group with a `netcore_*` and a `plain_*` benchmark (the same work through
/// netcore and through the plain library), the plain time over netcore's: 1.0 is as
/// fast as the baseline, 0.9 is 10 % slower.
fn baseline_ratios(rows: &[(String, f64)]) -> Vec<(String, f64)> {
    let split = |name: &str| {
        name.rsplit_once('/')
            .map(|(group, bench)| (group.to_owned(), bench.to_owned()))
    };
    let mut ratios = Vec::new();
    for (name, netcore_ns) in rows {
        let Some((group, bench)) = split(name) else {
            continue;
        };
        if !bench.starts_with("netcore_") || *netcore_ns <= 0.0 {
            continue;
        }
        let plain = rows.iter().find(|(other, _)| {
            split(other).is_some_and(|(g, b)| g == group && b.starts_with("plain_"))
        });
        if let Some((_, plain_ns)) = plain {
            ratios.push((group, plain_ns / netcore_ns));
        }
    }
    ratios
}

/// Finds every `new/estimates.json` below `dir` and reads its median.
fn collect_estimates(root: &Path, dir: &Path, rows: &mut Vec<(String, f64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let estimates = path.join("new").join("estimates.json");
        if let Some(median) = read_median(&estimates) {
            let name = path
                .strip_prefix(root)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            rows.push((name, median));
        } else if path.file_name().is_some_and(|n| n != "report") {
            collect_estimates(root, &path, rows);
        }
    }
}

fn read_median(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn format_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_pair_netcore_with_the_plain_baseline_of_its_group() {
        let rows = vec![
            ("engine/default_switch".to_owned(), 2e6),
            ("tcp_bulk/netcore_socket".to_owned(), 2.0e6),
            ("tcp_bulk/plain_tokio".to_owned(), 1.8e6),
            ("udp/netcore_socket".to_owned(), 1.0e6),
        ];
        let ratios = baseline_ratios(&rows);
        assert_eq!(ratios.len(), 1, "{ratios:?}");
        assert_eq!(ratios[0].0, "tcp_bulk");
        assert!((ratios[0].1 - 0.9).abs() < 1e-9);
    }
}
