//! The bearer against an in-process fake wpa_supplicant serving `lo` (no root
//! needed): reports and their order, network id, quality, activation, malformed
//! input, and the peer going away.

use std::net::IpAddr;
use std::time::Duration;

use netcore::{
    ActivationRequest, Bearer, BearerEvent, NetAddress, NetBearType, NetCap, NetworkInfo,
    ReportSink,
};
use netcore_bearer_wifi::testing::{FakeState, FakeWpa, TempDir};
use netcore_bearer_wifi::{WifiBearer, WifiConfig};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A fake wpa_supplicant for `lo` and the bearer running against it.
struct Rig {
    fake: Option<FakeWpa>,
    bearer: WifiBearer,
    events: mpsc::UnboundedReceiver<BearerEvent>,
    run: JoinHandle<netcore::Result<()>>,
    // Last: removed after the fake's socket.
    _dir: TempDir,
}

fn networks() -> Vec<(u32, String)> {
    vec![(0, "netcore-test".into()), (4, "other".into())]
}

impl Rig {
    /// Starts the fake with `state` (none when `None`) and the bearer with the
    /// fake's directory, `lo`, a 100 ms ping and the `extra` JSON fields.
    fn start(state: Option<FakeState>, extra: &str) -> Self {
        let dir = TempDir::new().unwrap();
        let fake = state.map(|s| FakeWpa::start(dir.path(), "lo", s).unwrap());
        let config = WifiConfig::from_json(&format!(
            r#"{{"interfaces":["lo"],"control_dir":{:?},"ping_interval_ms":100{extra}}}"#,
            dir.path()
        ))
        .unwrap();
        let bearer = WifiBearer::new(config).unwrap();
        let (tx, events) = mpsc::unbounded_channel();
        let running = bearer.clone();
        let run = tokio::spawn(async move {
            running
                .run(ReportSink::new(move |event| {
                    let _ = tx.send(event);
                }))
                .await
        });
        Self {
            fake,
            bearer,
            events,
            run,
            _dir: dir,
        }
    }

    fn fake(&self) -> &FakeWpa {
        self.fake.as_ref().expect("no fake")
    }

    async fn next(&mut self, what: &str) -> BearerEvent {
        tokio::time::timeout(TIMEOUT, self.events.recv())
            .await
            .unwrap_or_else(|_| panic!("no report for {what} within {TIMEOUT:?}"))
            .unwrap_or_else(|| panic!("the bearer stopped reporting before {what}"))
    }

    async fn appeared(&mut self, what: &str) -> NetworkInfo {
        match self.next(what).await {
            BearerEvent::Appeared { key, info } if key == "lo" => info,
            other => panic!("expected Appeared of lo for {what}, got {other:?}"),
        }
    }

    async fn gone(&mut self, what: &str) {
        match self.next(what).await {
            BearerEvent::Gone { key } if key == "lo" => {}
            other => panic!("expected Gone of lo for {what}, got {other:?}"),
        }
    }

    /// Waits until the fake has received `command` (the bearer is attached and
    /// idle once it has asked its first PING).
    async fn wait_for_command(&self, command: &str) {
        tokio::time::timeout(TIMEOUT, async {
            while !self.fake().commands().iter().any(|c| c == command) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the bearer never sent {command}"));
    }

    async fn result(&mut self) -> netcore::Result<()> {
        tokio::time::timeout(TIMEOUT, &mut self.run)
            .await
            .expect("run did not return")
            .expect("run panicked")
    }
}

fn connected(id: u32, rssi: Option<i32>) -> FakeState {
    FakeState {
        networks: networks(),
        current: Some(id),
        selected: Some(id),
        rssi,
        ..FakeState::default()
    }
}

#[tokio::test]
async fn connected_network_has_id_quality_capabilities_and_link_properties() {
    let mut rig = Rig::start(Some(connected(4, Some(-61))), r#","dns":["192.0.2.53"]"#);
    let info = rig.appeared("start").await;
    assert_eq!(info.bearer_type, NetBearType::Wifi);
    assert_eq!(info.identifier.as_deref(), Some("4"));
    assert_eq!(info.quality, Some(78));
    let d = &info.details;
    assert_eq!(d.ssid.as_deref(), Some("other"));
    assert_eq!(d.bssid.as_deref(), Some("02:00:00:00:01:00"));
    assert_eq!(d.frequency_mhz, Some(2412));
    assert_eq!(d.security.as_deref(), Some("NONE"));
    assert_eq!(d.rssi_dbm, Some(-61));
    assert_eq!(d.apn, None);
    for cap in [NetCap::Internet, NetCap::NotVpn, NetCap::NotMetered] {
        assert!(info.capabilities.contains(cap), "{cap}");
    }
    let p = &info.properties;
    assert_eq!(p.interface_name, "lo");
    assert_eq!(p.mtu, 65536);
    assert!(
        p.link_addresses
            .iter()
            .any(|a| a.address().ip() == IpAddr::from([127, 0, 0, 1]) && a.prefix_length() == 8),
        "{p:?}"
    );
    assert_eq!(
        p.dnses,
        vec![NetAddress::from("192.0.2.53".parse::<IpAddr>().unwrap())]
    );
    let commands = rig.fake().commands();
    assert_eq!(
        commands[..3],
        ["ATTACH", "STATUS", "SIGNAL_POLL"],
        "{commands:?}"
    );
    assert_eq!(rig.fake().attached(), 1);
}

#[tokio::test]
async fn disconnect_connect_and_signal_changes_are_followed_in_order() {
    let mut rig = Rig::start(Some(connected(0, Some(-50))), "");
    assert_eq!(rig.appeared("start").await.quality, Some(100));

    rig.fake().disconnect().await;
    rig.gone("disconnect").await;

    rig.fake().connect(4).await;
    let info = rig.appeared("connect").await;
    assert_eq!(info.identifier.as_deref(), Some("4"));
    assert_eq!(info.quality, Some(100));

    // The signal is polled with each ping.
    rig.fake().set_rssi(Some(-75));
    match rig.next("signal").await {
        BearerEvent::Changed { key, info } => {
            assert_eq!(key, "lo");
            assert_eq!(info.quality, Some(50));
            assert_eq!(info.identifier.as_deref(), Some("4"));
        }
        other => panic!("expected Changed, got {other:?}"),
    }
    // A driver without signal: no quality.
    rig.fake().set_rssi(None);
    match rig.next("no signal").await {
        BearerEvent::Changed { info, .. } => assert_eq!(info.quality, None),
        other => panic!("expected Changed, got {other:?}"),
    }
}

#[tokio::test]
async fn metered_config_drops_not_metered() {
    let mut rig = Rig::start(Some(connected(0, None)), r#","metered":true"#);
    let info = rig.appeared("start").await;
    assert!(!info.capabilities.contains(NetCap::NotMetered));
    assert!(info.capabilities.contains(NetCap::Internet));
    assert_eq!(info.quality, None);
}

#[tokio::test]
async fn activation_selects_the_network_and_unknown_ids_are_refused() {
    let mut rig = Rig::start(
        Some(FakeState {
            networks: networks(),
            ..FakeState::default()
        }),
        "",
    );
    rig.wait_for_command("PING").await;
    assert!(
        rig.events.try_recv().is_err(),
        "a network while disconnected"
    );

    let request = |id: Option<&str>| ActivationRequest::new(7, id.map(str::to_owned));
    for (id, why) in [
        ("9", "unknown"),
        ("x", "not a wpa_supplicant network id"),
        ("-1", "not a"),
    ] {
        let e = rig.bearer.activate(request(Some(id))).await.unwrap_err();
        assert_eq!(e.code(), 2_100_001, "{id}: {e}");
        assert!(e.to_string().contains(why), "{id}: {e}");
    }
    assert!(
        !rig.fake()
            .commands()
            .iter()
            .any(|c| c.starts_with("SELECT_NETWORK")),
        "an unknown id was selected"
    );

    rig.bearer.activate(request(Some("4"))).await.unwrap();
    assert!(
        rig.fake()
            .commands()
            .contains(&"SELECT_NETWORK 4".to_owned())
    );
    let info = rig.appeared("activation").await;
    assert_eq!(info.identifier.as_deref(), Some("4"));

    // Release keeps Wi-Fi up by default.
    rig.bearer.release("lo").await.unwrap();
    assert!(!rig.fake().commands().contains(&"DISCONNECT".to_owned()));
}

#[tokio::test]
async fn release_disconnects_when_configured_and_activation_reconnects() {
    let mut rig = Rig::start(Some(connected(0, None)), r#","release_disconnects":true"#);
    rig.appeared("start").await;
    rig.bearer.release("lo").await.unwrap();
    assert!(rig.fake().commands().contains(&"DISCONNECT".to_owned()));
    rig.gone("release").await;
    let e = rig.bearer.release("wlan9").await.unwrap_err();
    assert_eq!(e.code(), 2_100_001);

    rig.bearer
        .activate(ActivationRequest::new(1, None))
        .await
        .unwrap();
    assert!(rig.fake().commands().contains(&"RECONNECT".to_owned()));
    assert_eq!(
        rig.appeared("reconnect").await.identifier.as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn malformed_messages_are_ignored() {
    let mut rig = Rig::start(Some(connected(0, Some(-60))), "");
    rig.appeared("start").await;
    let fake = rig.fake();
    fake.send_raw(&[0xff, 0x00, 0xfe]).await;
    fake.send_raw(&vec![b'<'; 20_000]).await;
    fake.send_event("no level here").await;
    // A STATUS reply that does not parse changes nothing.
    fake.set_status_override(Some("garbage without equals\n"));
    fake.send_event("<3>CTRL-EVENT-SCAN-RESULTS ").await;
    rig.wait_for_command("PING").await;
    fake.set_status_override(None);
    // Still attached and following: a disconnect is the next report.
    rig.fake().disconnect().await;
    rig.gone("disconnect after junk").await;
    assert!(!rig.run.is_finished());
}

#[tokio::test]
async fn terminating_peer_gives_gone_then_an_error() {
    let mut rig = Rig::start(Some(connected(0, None)), "");
    rig.appeared("start").await;
    rig.fake.take().unwrap().terminate().await;
    rig.gone("terminating").await;
    let e = rig.result().await.unwrap_err();
    assert_eq!(e.code(), 2_100_002);
    assert!(e.to_string().contains("terminating"), "{e}");
}

#[tokio::test]
async fn vanished_peer_gives_gone_then_an_error_and_a_new_run_attaches_again() {
    let mut rig = Rig::start(Some(connected(0, None)), "");
    rig.appeared("start").await;
    let dir = rig.fake().path().parent().unwrap().to_owned();
    rig.fake.take().unwrap().vanish();
    rig.gone("vanished").await;
    let e = rig.result().await.unwrap_err();
    assert_eq!(e.code(), 2_100_002, "{e}");

    // wpa_supplicant returns: a new run attaches and reports the network again.
    let _fake = FakeWpa::start(&dir, "lo", connected(4, None)).unwrap();
    let (tx, mut events) = mpsc::unbounded_channel();
    let bearer = rig.bearer.clone();
    let run = tokio::spawn(async move {
        bearer
            .run(ReportSink::new(move |event| {
                let _ = tx.send(event);
            }))
            .await
    });
    match tokio::time::timeout(TIMEOUT, events.recv()).await {
        Ok(Some(BearerEvent::Appeared { key, info })) => {
            assert_eq!(key, "lo");
            assert_eq!(info.identifier.as_deref(), Some("4"));
        }
        other => panic!("expected Appeared after the peer returned, got {other:?}"),
    }
    run.abort();
}

#[tokio::test]
async fn missing_peer_is_a_service_error_at_once() {
    let mut rig = Rig::start(None, "");
    let e = rig.result().await.unwrap_err();
    assert_eq!(e.code(), 2_100_002, "{e}");
    assert!(e.to_string().contains("/lo"), "{e}");
    assert!(rig.events.try_recv().is_err());
    let e = rig
        .bearer
        .activate(ActivationRequest::new(1, Some("0".into())))
        .await
        .unwrap_err();
    assert_eq!(e.code(), 2_100_002, "{e}");
}
