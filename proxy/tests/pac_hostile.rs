//! Hostile PAC scripts: each gives a clear 2100002 error in bounded time, and the next
//! call works.

mod common;

use std::time::{Duration, Instant};

use netcore_proxy::PacEvaluator;

const SCRIPT: &str = r#"
function FindProxyForURL(url, host) {
  if (host == "loop") { while (true) {} }
  if (host == "nested") { for (var i = 0; i < 1e6; i++) { for (var j = 0; j < 1e5; j++) {} } }
  if (host == "recurse") { var f = function (n) { return f(n + 1) + 1; }; return f(0); }
  if (host == "repeat") { return "PROXY " + 'x'.repeat(1e9) + ":1"; }
  if (host == "double") { var s = "x"; while (true) { s = s + s; } }
  if (host == "eval") { eval("while (true) {}"); }
  if (host == "number") { return 42; }
  if (host == "throw") { throw new Error("boom"); }
  if (host == "long") { return 'x'.repeat(100000); }
  if (host == "garbage") { return "PROXY"; }
  if (host == "local") { return "PROXY 127.0.0.1:3128"; }
  return "PROXY ok.corp:3128";
}
"#;

async fn assert_fails_then_recovers(evaluator: &PacEvaluator, host: &str, message_part: &str) {
    let started = Instant::now();
    let error = evaluator
        .find_proxy(&format!("http://{host}/"))
        .await
        .expect_err(host);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{host} took {:?}",
        started.elapsed()
    );
    assert_eq!(error.code(), 2_100_002, "{host}: {error}");
    assert!(
        error.to_string().contains(message_part),
        "{host}: {error:?} should mention {message_part:?}"
    );
    let next = evaluator.find_proxy("http://fine/").await.unwrap().unwrap();
    assert_eq!(next.to_string(), "PROXY ok.corp:3128", "after {host}");
}

#[tokio::test]
async fn hostile_calls_fail_clearly_and_the_next_call_works() {
    let (evaluator, _) = common::evaluator();
    evaluator.load(SCRIPT).await.unwrap();
    assert_fails_then_recovers(&evaluator, "loop", "PAC").await;
    assert_fails_then_recovers(&evaluator, "nested", "longer than 200 ms").await;
    assert_fails_then_recovers(&evaluator, "recurse", "PAC script").await;
    assert_fails_then_recovers(&evaluator, "repeat", "PAC").await;
    assert_fails_then_recovers(&evaluator, "double", "PAC").await;
    assert_fails_then_recovers(&evaluator, "eval", "PAC").await;
    assert_fails_then_recovers(&evaluator, "number", "instead of a string").await;
    assert_fails_then_recovers(&evaluator, "throw", "boom").await;
    assert_fails_then_recovers(&evaluator, "long", "more than").await;
    assert_fails_then_recovers(&evaluator, "garbage", "exactly one host:port").await;
    assert_fails_then_recovers(&evaluator, "local", "no usable entry").await;
}

#[tokio::test]
async fn hostile_or_broken_scripts_are_refused_at_load_and_keep_the_old_one() {
    let (evaluator, _) = common::evaluator();
    evaluator
        .load(r#"function FindProxyForURL(u, h) { return "PROXY old:1"; }"#)
        .await
        .unwrap();
    for (script, part) in [
        ("while (true) {}", "PAC"),
        (
            "for (var i = 0; i < 1e6; i++) { for (var j = 0; j < 1e5; j++) {} }",
            "longer than",
        ),
        ("function FindProxyForURL(u, h) { return ", "failed to load"),
        ("var x = 1;", "neither FindProxyForURL"),
        ("var s = 'x'.repeat(1e9);", "PAC"),
    ] {
        let started = Instant::now();
        let error = evaluator.load(script).await.expect_err(script);
        assert!(started.elapsed() < Duration::from_secs(5), "{script}");
        assert_eq!(error.code(), 2_100_002, "{script}: {error}");
        assert!(error.to_string().contains(part), "{script}: {error}");
        let old = evaluator.find_proxy("http://a/").await.unwrap().unwrap();
        assert_eq!(old.to_string(), "PROXY old:1");
    }
}

#[tokio::test]
async fn a_script_over_the_size_cap_is_refused() {
    let (evaluator, _) = common::evaluator();
    let script = format!(
        "function FindProxyForURL(u, h) {{ return \"DIRECT\"; }} // {}",
        "x".repeat(1 << 20)
    );
    assert_eq!(evaluator.load(&script).await.unwrap_err().code(), 2_100_001);
    assert_eq!(evaluator.find_proxy("http://a/").await.unwrap(), None);
}

#[tokio::test]
async fn the_address_space_limit_stops_a_script_that_hoards_memory() {
    let mut config = common::config();
    config.memory_limit_bytes = 256 << 20;
    config.call_deadline = Duration::from_secs(10);
    let evaluator = PacEvaluator::with_clock(config, common::resolver(), common::clock());
    evaluator
        .load(
            r#"function FindProxyForURL(url, host) {
                 if (host == "hoard") {
                   var s = "xy", kept = [];
                   for (var i = 0; i < 40; i++) { s = s + s + i; kept.push(s); }
                   return "PROXY kept" + kept.length + ":1";
                 }
                 return "DIRECT";
               }"#,
        )
        .await
        .unwrap();
    let error = evaluator.find_proxy("http://hoard/").await.unwrap_err();
    assert_eq!(error.code(), 2_100_002);
    assert!(error.to_string().contains("worker died"), "{error}");
    let next = evaluator.find_proxy("http://fine/").await.unwrap().unwrap();
    assert_eq!(next.to_string(), "DIRECT");
}

#[tokio::test]
async fn a_misbehaving_worker_is_bounded() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("netcore-proxy-fake-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body, part) in [
        // Announces a 4 GiB frame: refused before anything is allocated.
        (
            "huge",
            r"printf '\377\377\377\377'; sleep 5",
            "over the limit",
        ),
        // A frame that is not a message.
        (
            "garbage",
            r"printf '\000\000\000\002{x'; sleep 5",
            "malformed message",
        ),
        // Exits at once.
        ("exit", "exit 0", "PAC worker"),
        // Says nothing.
        ("silent", "sleep 5", "longer than"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut config = netcore_proxy::PacConfig::default();
        config.worker_path = Some(path);
        config.load_deadline = Duration::from_millis(500);
        let evaluator = PacEvaluator::with_clock(config, common::resolver(), common::clock());
        let started = Instant::now();
        let error = evaluator
            .load("function FindProxyForURL(u, h) { return 'DIRECT'; }")
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "{name}");
        assert_eq!(error.code(), 2_100_002, "{name}: {error}");
        assert!(error.to_string().contains(part), "{name}: {error}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
