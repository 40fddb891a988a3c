//! System suite (needs root): a VPN app establishes a VPN through the public API (a
//! real TUN device in a namespace); it is a network, never the default, and only its
//! app may ask who owns a connection (getConnectOwnerUid).

use std::time::Duration;

use netcore::AppId;
use netcore::{LinkAddress, NetBearType, NetCap, NetHandle, ProtocolType};
use netcore_facade::{Config, NetManager, VpnSpec};
use netcore_link::testing::{NetNs, skip_unless_root};

async fn vpn_network(manager: &NetManager) -> Option<NetHandle> {
    for net in manager.get_all_nets().await.ok()? {
        let caps = manager.get_net_capabilities(net).await.ok()?;
        if caps.bearer_types == [NetBearType::Vpn] {
            return Some(net);
        }
    }
    None
}

#[test]
fn a_vpn_app_establishes_a_vpn_network() {
    if skip_unless_root() {
        return;
    }
    let ns = NetNs::create().unwrap();
    ns.run_async(|| async {
        let manager = NetManager::builder(Config::default()).start().unwrap();
        let vpn_app = manager.for_app(AppId::from_uid(4321));
        let other_app = manager.for_app(AppId::from_uid(4322));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let local = client.local_addr().unwrap();
        let remote = listener.local_addr().unwrap();
        let (local, remote) = (
            netcore::NetAddress::new(local.ip(), local.port()),
            netcore::NetAddress::new(remote.ip(), remote.port()),
        );
        let err = vpn_app
            .get_connect_owner_uid(ProtocolType::Tcp, local, remote)
            .await
            .unwrap_err();
        assert_eq!(err.code(), 2100301, "no VPN yet");

        let mut spec = VpnSpec::new(LinkAddress::new("10.99.0.1".parse().unwrap(), 24).unwrap());
        spec.routes.push(("10.98.0.0".parse().unwrap(), 24));
        spec.dns.push("10.99.0.53".parse().unwrap());
        let tunnel = vpn_app.establish_vpn(spec).await.unwrap();

        let mut vpn = None;
        for _ in 0..500 {
            vpn = vpn_network(&manager).await;
            if vpn.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let vpn = vpn.expect("the VPN becomes a network");
        let caps = manager.get_net_capabilities(vpn).await.unwrap();
        assert!(caps.network_cap.contains(NetCap::Internet));
        assert!(!caps.network_cap.contains(NetCap::NotVpn));
        let props = manager.get_connection_properties(vpn).await.unwrap();
        assert_eq!(props.interface_name, tunnel.name());
        assert_eq!(props.dnses[0].ip().to_string(), "10.99.0.53");
        assert_eq!(
            manager.get_default_net().await.unwrap(),
            NetHandle::NONE,
            "never the default"
        );

        // Only the VPN app may ask who owns a connection: this process (root).
        let uid = vpn_app
            .get_connect_owner_uid(ProtocolType::Tcp, local, remote)
            .await
            .unwrap();
        assert_eq!(uid, 0);
        let err = other_app
            .get_connect_owner_uid(ProtocolType::Tcp, local, remote)
            .await
            .unwrap_err();
        assert_eq!(err.code(), 2100301);

        // Bad specs are refused with the seed's code.
        let mut bad = VpnSpec::new(LinkAddress::new("10.97.0.1".parse().unwrap(), 24).unwrap());
        bad.mtu = 100;
        assert_eq!(
            vpn_app.establish_vpn(bad).await.unwrap_err().code(),
            2100001
        );

        tunnel.close();
        for _ in 0..500 {
            if vpn_network(&manager).await.is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            vpn_network(&manager).await.is_none(),
            "closing the tunnel ends the network"
        );
        let err = vpn_app
            .get_connect_owner_uid(ProtocolType::Tcp, local, remote)
            .await
            .unwrap_err();
        assert_eq!(err.code(), 2100301);
    })
    .unwrap();
}
