//! `netcorectl` end to end, as a spawned process on this host (observe only).

use std::process::Command;

use serde_json::Value;

fn netcorectl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_netcorectl"))
        .args(args)
        .env_remove("NETCORE_CONFIG")
        .output()
        .expect("netcorectl runs")
}

/// The host's interfaces that are up with carrier and not loopback.
fn host_interfaces_with_carrier() -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir("/sys/class/net").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let carrier = std::fs::read_to_string(entry.path().join("carrier")).unwrap_or_default();
        let wireless = entry.path().join("wireless").exists();
        if name != "lo" && carrier.trim() == "1" && !wireless && !name.starts_with("docker") {
            names.push(name);
        }
    }
    names
}

#[test]
fn monitor_json_starts_with_the_host_networks() {
    let out = netcorectl(&["monitor", "--json", "--count", "0"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let networks = first["networks"].as_array().unwrap();
    let mut interfaces: Vec<String> = networks
        .iter()
        .map(|n| {
            assert!(n["netHandle"]["netId"].as_u64().unwrap() >= 100);
            assert_eq!(n["netCap"]["bearerTypes"], serde_json::json!([3]));
            n["connectionProperties"]["interfaceName"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    interfaces.sort();
    let mut expected = host_interfaces_with_carrier();
    expected.sort();
    assert_eq!(
        interfaces, expected,
        "every wired interface with carrier, no other"
    );
    let default = first["defaultNet"]["netId"].as_u64().unwrap();
    let flagged: Vec<u64> = networks
        .iter()
        .filter(|n| n["isDefault"] == Value::Bool(true))
        .map(|n| n["netHandle"]["netId"].as_u64().unwrap())
        .collect();
    if default == 0 {
        assert!(flagged.is_empty());
    } else {
        assert_eq!(flagged, vec![default]);
    }
}

#[test]
fn list_and_show_agree() {
    let out = netcorectl(&["list", "--json"]);
    assert!(out.status.success());
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    for n in list.as_array().unwrap() {
        let id = n["netHandle"]["netId"].as_u64().unwrap().to_string();
        let shown = netcorectl(&["show", &id, "--json"]);
        assert!(shown.status.success());
        let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
        assert_eq!(
            shown["connectionProperties"]["interfaceName"],
            n["connectionProperties"]["interfaceName"]
        );
    }
}

#[test]
fn bad_input_is_one_line_with_the_seed_code() {
    for (args, code) in [
        (&["show", "7"][..], "2100001"),
        (&["show", "99999"][..], "2100001"),
    ] {
        let out = netcorectl(args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(
            lines[0].starts_with(&format!("netcorectl: error {code}: ")),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"));
    }
    let bad_config = std::env::temp_dir().join(format!("netcore-bad-{}.toml", std::process::id()));
    std::fs::write(&bad_config, "[engine]\nprofile = \"phone\"\n").unwrap();
    let out = netcorectl(&["--config", bad_config.to_str().unwrap(), "list"]);
    std::fs::remove_file(&bad_config).ok();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("netcorectl: error 2100001: "),
        "{stderr}"
    );
    assert!(stderr.contains("phone"));
}

#[test]
fn idna_resolve_and_proxy_commands() {
    let out = netcorectl(&["idna", "ascii", "www.示例.com"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "www.xn--fsq092h.com"
    );
    let out = netcorectl(&["idna", "unicode", "www.xn--fsq092h.com", "--flag", "9"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .starts_with("netcorectl: error 2100001: ")
    );
    let out = netcorectl(&["resolve", "a.test", "--family", "3"]);
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .starts_with("netcorectl: error 2100001: ")
    );
    let out = netcorectl(&["resolve", "127.0.0.1"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "127.0.0.1");

    let pac = std::env::temp_dir().join(format!("netcorectl-{}.pac", std::process::id()));
    std::fs::write(
        &pac,
        "function FindProxyForURL(u, h) { return isPlainHostName(h) ? 'DIRECT' : 'PROXY p.test:81'; }",
    )
    .unwrap();
    let pac_arg = pac.to_str().unwrap();
    let out = netcorectl(&["proxy", "http://intranet/", "--pac", pac_arg]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "DIRECT");
    let out = netcorectl(&["proxy", "http://www.example.test/", "--pac", pac_arg]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "PROXY p.test:81"
    );
    std::fs::remove_file(&pac).ok();
    let out = netcorectl(&["proxy", "http://www.example.test/"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "DIRECT");
}

#[test]
fn probe_and_traceroute_commands() {
    let out = netcorectl(&["probe", "127.0.0.1", "--duration", "1", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["lossRate"], 0);
    assert_eq!(result["rtt"].as_array().unwrap().len(), 4);
    let out = netcorectl(&["traceroute", "127.0.0.1", "--json", "--max-jumps", "2"]);
    let hops: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hops[0]["address"], "127.0.0.1");
    for args in [
        &["probe", "127.0.0.1", "--duration", "1001"][..],
        &["traceroute", "127.0.0.1", "--max-jumps", "0"][..],
    ] {
        let out = netcorectl(args);
        assert!(!out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.starts_with("netcorectl: error 2100001: "),
            "{stderr}"
        );
    }
}
