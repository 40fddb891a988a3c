//! The plugin ABI with real shared libraries: the fixtures in `netcore/fixtures` are
//! built as cdylibs and loaded through `dlopen`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use netcore::{ActivationRequest, Bearer, BearerEvent, NetBearType, NetworkInfo, ReportSink};
use netcore_plugin::testing::build_plugins;
use netcore_plugin::{load_plugin, load_plugins};
use serde_json::json;

/// Builds the fixture plugins (once) and returns the folder holding them. They go
/// to their own target folder: the one running this test is locked by cargo.
fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .unwrap();
        build_plugins(
            workspace,
            &[
                "-p",
                "netcore-fixture-sim-plugin",
                "-p",
                "netcore-fixture-panicking-plugin",
                "-p",
                "netcore-fixture-bad-abi-plugin",
            ],
        )
        .expect("the fixture plugins build")
    })
}

fn fixture(name: &str) -> PathBuf {
    fixtures().join(format!("libnetcore_fixture_{name}_plugin.so"))
}

fn recording_sink() -> (ReportSink, Arc<Mutex<Vec<BearerEvent>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = seen.clone();
    (
        ReportSink::new(move |e| sink_seen.lock().unwrap().push(e)),
        seen,
    )
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn wifi(interface: &str) -> NetworkInfo {
    NetworkInfo::new(NetBearType::Wifi, interface)
}

#[tokio::test]
async fn a_plugin_reports_activates_and_releases_across_the_abi() {
    let config = json!({
        "networks": [["wlan0", wifi("wlan0")]],
        "on_activate": [["7", "wlan7", wifi("wlan7").with_identifier("7")]],
    });
    let plugin = Arc::new(load_plugin(&fixture("sim"), &config).unwrap());
    assert_eq!(plugin.name(), "scripted-wifi");
    assert_eq!(plugin.bearer_type(), NetBearType::Wifi);

    let (sink, seen) = recording_sink();
    let runner = plugin.clone();
    let run = tokio::spawn(async move { runner.run(sink).await });
    wait_until("the first report", || seen.lock().unwrap().len() == 1).await;
    assert_eq!(
        seen.lock().unwrap()[0],
        BearerEvent::Appeared {
            key: "wlan0".into(),
            info: wifi("wlan0")
        }
    );

    let request = ActivationRequest::new(1, Some("7".into()));
    plugin.activate(request).await.unwrap();
    wait_until("the activated network", || seen.lock().unwrap().len() == 2).await;
    assert!(
        matches!(&seen.lock().unwrap()[1], BearerEvent::Appeared { key, .. } if key == "wlan7")
    );

    let unknown = ActivationRequest::new(2, Some("8".into()));
    let err = plugin.activate(unknown).await.unwrap_err();
    assert_eq!(err.code(), 2100002);
    assert!(err.to_string().contains("no network"), "{err}");

    plugin.release("wlan7").await.unwrap();
    wait_until("the release", || seen.lock().unwrap().len() == 3).await;
    assert_eq!(
        seen.lock().unwrap()[2],
        BearerEvent::Gone {
            key: "wlan7".into()
        }
    );
    assert!(!run.is_finished(), "the bearer keeps running");
}

#[tokio::test]
async fn a_panicking_plugin_becomes_a_failed_bearer_and_the_host_goes_on() {
    let plugin = load_plugin(&fixture("panicking"), &serde_json::Value::Null).unwrap();
    for _ in 0..2 {
        let (sink, _) = recording_sink();
        let err = plugin.run(sink).await.unwrap_err();
        assert!(
            err.to_string().contains("panicked: run always panics"),
            "{err}"
        );
    }
    let request = ActivationRequest::new(1, None);
    let err = plugin.activate(request).await.unwrap_err();
    assert!(
        err.to_string().contains("panicked: activate always panics"),
        "{err}"
    );
    // Another plugin still works.
    let config = json!({ "networks": [["wlan0", wifi("wlan0")]] });
    let healthy = Arc::new(load_plugin(&fixture("sim"), &config).unwrap());
    let (sink, seen) = recording_sink();
    let runner = healthy.clone();
    tokio::spawn(async move { runner.run(sink).await });
    wait_until("the healthy plugin's report", || {
        !seen.lock().unwrap().is_empty()
    })
    .await;
}

#[test]
fn a_plugin_of_another_abi_version_is_refused_naming_both() {
    let err = load_plugin(&fixture("bad_abi"), &serde_json::Value::Null).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("plugin ABI version 2, host ABI version 1"),
        "{text}"
    );
    assert_eq!(err.code(), 2100002);
}

#[test]
fn a_bad_configuration_is_refused_with_the_reason() {
    let err = load_plugin(&fixture("sim"), &json!({ "networks": 5 })).unwrap_err();
    assert!(err.to_string().contains("could not start"), "{err}");
    assert!(err.to_string().contains("script"), "{err}");
}

#[test]
fn foreign_and_corrupt_libraries_are_refused() {
    let dir = std::env::temp_dir().join(format!("netcore-plugins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let corrupt = dir.join("corrupt.so");
    std::fs::write(&corrupt, b"\x7fELF this is not a library").unwrap();
    let err = load_plugin(&corrupt, &serde_json::Value::Null).unwrap_err();
    assert!(err.to_string().contains("cannot load it"), "{err}");

    // The fixture build's own dependency rlib is no plugin; a shared library without
    // the entry symbol is: this test binary's libc.
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
    ]
    .into_iter()
    .map(Path::new)
    .find(|p| p.exists());
    if let Some(libc) = libc {
        let err = load_plugin(libc, &serde_json::Value::Null).unwrap_err();
        assert!(
            err.to_string().contains("exports no netcore_plugin_entry"),
            "{err}"
        );
    }

    for name in ["sim", "panicking", "bad_abi"] {
        let from = fixture(name);
        std::fs::copy(&from, dir.join(from.file_name().unwrap())).unwrap();
    }
    let loaded = load_plugins(&dir, |_| serde_json::Value::Null);
    let outcome: Vec<(String, bool)> = loaded
        .iter()
        .map(|(path, result)| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                result.is_ok(),
            )
        })
        .collect();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        outcome,
        vec![
            ("corrupt.so".into(), false),
            ("libnetcore_fixture_bad_abi_plugin.so".into(), false),
            ("libnetcore_fixture_panicking_plugin.so".into(), true),
            ("libnetcore_fixture_sim_plugin.so".into(), true),
        ]
    );
}
