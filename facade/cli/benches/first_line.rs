//! From starting `netcorectl --embedded monitor --json` (the release build, on this
//! host, observing) until its first line (the networks): median and p99 of 20 starts.
//! The median goes where `cargo xtask bench` finds it (`target/criterion/netcorectl`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut samples: Vec<Duration> = (0..20)
        .map(|_| {
            let started = Instant::now();
            let mut child = Command::new(env!("CARGO_BIN_EXE_netcorectl"))
                .args(["--embedded", "monitor", "--json", "--count", "0"])
                .env_remove("NETCORE_CONFIG")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("netcorectl starts");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let elapsed = started.elapsed();
            assert!(line.contains("networks"), "{line}");
            let _ = child.wait();
            elapsed
        })
        .collect();
    samples.sort();
    let median = samples[samples.len() / 2];
    let p99 = samples[samples.len() - 1];
    println!("netcorectl monitor, start to first line: median {median:.3?}, p99 {p99:.3?}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/criterion/netcorectl/monitor_first_line/new");
    if std::fs::create_dir_all(&dir).is_ok() {
        let json = format!(
            "{{\"median\":{{\"point_estimate\":{}}}}}",
            median.as_nanos()
        );
        let _ = std::fs::write(dir.join("estimates.json"), json);
    }
}
