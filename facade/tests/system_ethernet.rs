//! System suite (needs root): the runtime in a device namespace with the Ethernet
//! bearer loaded from its plugin `.so`, two upstream namespaces behind veth pairs,
//! each running dnsmasq. (`netcorectl monitor --json` seeing a link flap is
//! netcorectl's own system test.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use netcore::NetHandle;
use netcore::engine::NetEvent;
use netcore::engine::NetworkSnapshot;
use netcore_facade::{Config, NetConnection, NetManager};
use netcore_link::testing::{NetNs, skip_unless_root};
use netcore_plugin::testing::build_plugins;
use netcore_runtime::routing::DEFAULT_TABLE;

/// Builds the Ethernet plugin and the fixture plugins once, in their own target
/// folder (cargo locks the one running this test).
fn built_plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let packages = [
            "-p",
            "netcore-bearer-ethernet",
            "--features",
            "netcore-bearer-ethernet/plugin",
            "-p",
            "netcore-fixture-panicking-plugin",
            "-p",
            "netcore-fixture-bad-abi-plugin",
        ];
        build_plugins(workspace, &packages).expect("the plugins build")
    })
}

/// A plugin directory with the Ethernet plugin, one that panics and one of another
/// ABI version.
fn plugin_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netcore-system-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in [
        "libnetcore_bearer_ethernet.so",
        "libnetcore_fixture_panicking_plugin.so",
        "libnetcore_fixture_bad_abi_plugin.so",
    ] {
        std::fs::copy(built_plugins().join(file), dir.join(file)).unwrap();
    }
    dir
}

fn config_toml(plugins: &Path) -> String {
    format!(
        r#"builtin_ethernet = false
[engine]
linger_secs = 1
[plugins]
dir = "{}"
[plugins.config.ethernet]
allow = ["up*"]
[plugins.config.ethernet.interfaces.up0]
dns = ["198.51.100.1"]
quality = 90
[plugins.config.ethernet.interfaces.up1]
dns = ["203.0.113.1"]
quality = 50
"#,
        plugins.display()
    )
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The device namespace with `up0` and `up1`, each wired to an upstream namespace
/// whose gateway runs dnsmasq.
struct Topology {
    dev: NetNs,
    uplinks: Vec<NetNs>,
    _dns: Vec<Process>,
}

const UPLINKS: [(&str, &str, &str); 2] =
    [("up0", "198.51.100", "1500"), ("up1", "203.0.113", "1400")];

fn topology() -> Topology {
    let dev = NetNs::create().unwrap();
    let mut uplinks = Vec::new();
    let mut dns = Vec::new();
    for (i, (name, prefix, mtu)) in UPLINKS.iter().enumerate() {
        let up = NetNs::create().unwrap();
        let gw = format!("gw{i}");
        dev.add_veth_to(name, &gw, &up).unwrap();
        dev.ip(&["link", "set", name, "mtu", mtu]).unwrap();
        up.ip(&["link", "set", &gw, "mtu", mtu]).unwrap();
        dev.ip(&["addr", "add", &format!("{prefix}.2/24"), "dev", name])
            .unwrap();
        up.ip(&["addr", "add", &format!("{prefix}.1/24"), "dev", &gw])
            .unwrap();
        let metric = (100 + i * 100).to_string();
        dev.ip(&[
            "route",
            "add",
            "default",
            "via",
            &format!("{prefix}.1"),
            "dev",
            name,
            "metric",
            &metric,
        ])
        .unwrap();
        dns.push(dnsmasq(&up, &format!("{prefix}.1")));
        uplinks.push(up);
    }
    Topology {
        dev,
        uplinks,
        _dns: dns,
    }
}

fn dnsmasq(ns: &NetNs, address: &str) -> Process {
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            "dnsmasq",
            "--keep-in-foreground",
            "--no-resolv",
        ])
        .args([
            "--no-hosts",
            "--bind-interfaces",
            "--pid-file=",
            "--user=root",
        ])
        .arg(format!("--listen-address={address}"))
        .arg(format!("--address=/netcore.test/{address}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq runs (cargo xtask test installs dnsmasq-base)");
    Process(child)
}

async fn eventually<T: std::fmt::Debug>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..1000 {
        if let Some(value) = check() {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Every network of the manager's embedded runtime, now.
fn snapshots(manager: &NetManager) -> Vec<NetworkSnapshot> {
    manager.runtime().expect("an embedded runtime").read(|e| {
        e.all_nets()
            .into_iter()
            .filter_map(|net| e.snapshot(net).ok())
            .collect()
    })
}

fn network_on(manager: &NetManager, interface: &str) -> Option<NetworkSnapshot> {
    snapshots(manager)
        .into_iter()
        .find(|n| n.properties.interface_name == interface)
}

/// The events of `connection` until `netAvailable` of a network on `interface`,
/// then its capabilities and properties, as `name(interface)` strings.
async fn events_until_available(
    manager: &NetManager,
    connection: &mut NetConnection,
    interface: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut remaining = None;
    while remaining != Some(0) {
        let event = tokio::time::timeout(Duration::from_secs(10), connection.next_event())
            .await
            .unwrap_or_else(|_| panic!("no event within 10 s after {seen:?}"))
            .unwrap();
        let iface = event
            .net_handle()
            .and_then(|h| snapshots(manager).into_iter().find(|n| n.handle == h))
            .map(|n| n.properties.interface_name.clone())
            .unwrap_or_else(|| "gone".into());
        if matches!(event, NetEvent::Available(_)) && iface == interface {
            remaining = Some(3);
        }
        if let Some(r) = remaining.as_mut() {
            *r -= 1;
        }
        seen.push(format!("{}({iface})", event.name()));
    }
    seen
}

#[test]
fn ethernet_plugin_follows_the_links_of_a_device() {
    if skip_unless_root() {
        return;
    }
    let plugins = plugin_dir("engine");
    let topo = topology();
    let config = Config::from_toml(&config_toml(&plugins)).unwrap();
    let dev = &topo.dev;
    dev.run_async(|| async {
        let manager = NetManager::embedded(config).await.unwrap();

        // The plugins: Ethernet and the panicking one load; the other ABI is refused
        // with both versions named.
        let report = manager.plugins().await.unwrap();
        let outcome = |file: &str| {
            report
                .iter()
                .find(|p| p.path.file_name().unwrap() == file)
                .unwrap_or_else(|| panic!("{file} not in {report:?}"))
                .outcome
                .clone()
        };
        assert_eq!(
            outcome("libnetcore_bearer_ethernet.so"),
            Ok("ethernet".into())
        );
        assert_eq!(
            outcome("libnetcore_fixture_panicking_plugin.so"),
            Ok("panicking".into())
        );
        let refused = outcome("libnetcore_fixture_bad_abi_plugin.so").unwrap_err();
        assert!(
            refused.contains("plugin ABI version 2, host ABI version 1"),
            "{refused}"
        );

        // Both networks with their interface, addresses, routes, DNS and MTU.
        for (name, prefix, mtu) in UPLINKS {
            let n = eventually(name, || network_on(&manager, name)).await;
            let p = &n.properties;
            let addresses: Vec<String> = p
                .link_addresses
                .iter()
                .filter(|a| a.address().ip().is_ipv4())
                .map(|a| format!("{}/{}", a.address().ip(), a.prefix_length()))
                .collect();
            assert_eq!(addresses, vec![format!("{prefix}.2/24")]);
            let default = p
                .routes
                .iter()
                .find(|r| r.is_default_route && r.gateway.ip().is_ipv4());
            let gateway = default.map(|r| r.gateway.ip().to_string());
            assert_eq!(
                gateway,
                Some(format!("{prefix}.1")),
                "{name}: {:?}",
                p.routes
            );
            let dns: Vec<String> = p.dnses.iter().map(|d| d.ip().to_string()).collect();
            assert_eq!(dns, vec![format!("{prefix}.1")]);
            assert_eq!(p.mtu.to_string(), mtu);
            assert!(p.is_ipv4_link_valid);
        }

        // The default follows the configured quality: up0 (90) over up1 (50).
        eventually("up0 as default", || {
            network_on(&manager, "up0").filter(|n| n.is_default)
        })
        .await;
        let mut connection = manager.create_net_connection(None, 0);
        connection.register().await.unwrap();
        let first = events_until_available(&manager, &mut connection, "up0").await;
        assert_eq!(
            first,
            [
                "netAvailable(up0)",
                "netCapabilitiesChange(up0)",
                "netConnectionPropertiesChange(up0)"
            ]
        );

        // Cutting up0's carrier: netLost of up0, then netAvailable of up1.
        topo.uplinks[0].ip(&["link", "set", "gw0", "down"]).unwrap();
        let cut = events_until_available(&manager, &mut connection, "up1").await;
        let lost = cut
            .iter()
            .position(|e| e.starts_with("netLost"))
            .expect("netLost");
        assert_eq!(
            cut[lost..],
            [
                "netLost(gone)",
                "netAvailable(up1)",
                "netCapabilitiesChange(up1)",
                "netConnectionPropertiesChange(up1)"
            ]
        );
        assert!(cut[..lost].iter().all(|e| e.contains("Change")), "{cut:?}");
        assert!(network_on(&manager, "up0").is_none());

        // Restoring it switches back.
        topo.uplinks[0].ip(&["link", "set", "gw0", "up"]).unwrap();
        let back = events_until_available(&manager, &mut connection, "up0").await;
        let lost = back
            .iter()
            .position(|e| e.starts_with("netLost"))
            .expect("netLost");
        assert_eq!(back[lost..lost + 2], ["netLost(up1)", "netAvailable(up0)"]);

        // Deleting an interface removes its network; adding one adds it.
        let up1 = network_on(&manager, "up1").unwrap().handle;
        dev.ip(&["link", "del", "up1"]).unwrap();
        eventually("up1 gone", || {
            (!snapshots(&manager).iter().any(|n| n.handle == up1)).then_some(())
        })
        .await;
        dev.add_veth("up7", "peer7").unwrap();
        let up7 = eventually("up7", || network_on(&manager, "up7")).await;
        assert!(
            up7.handle.net_id() > up1.net_id(),
            "netIds are never reused"
        );
        assert_ne!(manager.get_default_net().await.unwrap(), NetHandle::NONE);
        connection.unregister().await.unwrap();
    })
    .unwrap();
    std::fs::remove_dir_all(plugins).ok();
}

#[test]
fn manage_mode_routes_through_the_default_networks_table() {
    if skip_unless_root() {
        return;
    }
    let plugins = plugin_dir("manage");
    let topo = topology();
    let mut config = Config::from_toml(&config_toml(&plugins)).unwrap();
    config.manage = true;
    let default_table = DEFAULT_TABLE.to_string();
    // (`ip` fails on a table that does not exist yet.)
    let route = || {
        topo.dev
            .ip(&["-4", "route", "show", "default", "table", &default_table])
            .unwrap_or_default()
    };
    let rules = || topo.dev.ip(&["-4", "rule", "show"]).unwrap();
    // What a killed netcored left in the band goes; what is outside it stays.
    let stale_table = (DEFAULT_TABLE + 4242).to_string();
    for args in [
        &[
            "rule",
            "add",
            "priority",
            "12345",
            "uidrange",
            "5-5",
            "lookup",
            &stale_table,
        ][..],
        &["rule", "add", "priority", "11999", "lookup", "main"],
        &[
            "route",
            "add",
            "10.77.0.0/16",
            "dev",
            "up0",
            "table",
            &stale_table,
        ],
    ] {
        topo.dev.ip(args).unwrap();
    }
    topo.dev
        .run_async(|| async {
            let manager = NetManager::embedded(config).await.unwrap();
            eventually("netcore's route via up0", || {
                route().contains("via 198.51.100.1 dev up0").then_some(())
            })
            .await;
            let wanted = [
                "12000:\tfrom all oif up0 lookup",
                "12800:\tfrom all lookup main suppress_prefixlength 0",
                &format!("12900:\tfrom all lookup {default_table}"),
                "11999:\tfrom all lookup main",
            ];
            let shown = eventually("netcore's rules", || {
                let shown = rules();
                wanted.iter().all(|w| shown.contains(w)).then_some(shown)
            })
            .await;
            assert!(!shown.contains("12345"), "{shown}");
            let stale = topo
                .dev
                .ip(&["route", "show", "table", &stale_table])
                .unwrap_or_default();
            assert!(stale.trim().is_empty(), "{stale}");
            // The host's traffic follows the default network.
            let get = topo.dev.ip(&["-4", "route", "get", "192.0.2.99"]).unwrap();
            assert!(get.contains("via 198.51.100.1 dev up0"), "{get}");

            topo.uplinks[0].ip(&["link", "set", "gw0", "down"]).unwrap();
            eventually("netcore's route moved to up1", || {
                let r = route();
                (r.contains("via 203.0.113.1 dev up1") && !r.contains("up0")).then_some(())
            })
            .await;
            // The routes netcore did not make stay.
            let all = topo.dev.ip(&["-4", "route", "show", "default"]).unwrap();
            assert!(all.contains("metric 200"), "{all}");
            drop(manager);
            eventually("netcore's rules gone once it stopped", || {
                (!rules().contains("12900:")).then_some(())
            })
            .await;
        })
        .unwrap();
    std::fs::remove_dir_all(plugins).ok();
}
