//! VPN bearer: TUN-backed networks established by VPN apps.
//!
//! A VPN app asks [`VpnBearer::establish`] for a VPN with a [`VpnSpec`]: addresses,
//! routes, DNS servers, MTU, and the apps it covers (allowed) or leaves out
//! (disallowed). netcore creates a TUN device (with [`tun_rs`], no packet
//! information header), gives it the MTU and addresses and brings it up, and
//! installs the routes through it, all through [`netcore_link`]; the app gets a
//! [`VpnTunnel`], which owns the device's file descriptor ([`std::os::fd::AsFd`],
//! [`VpnTunnel::into_owned_fd`] to pass it on) and can move packets itself
//! ([`VpnTunnel::recv`], [`VpnTunnel::send`]).
//!
//! [`VpnBearer`] implements [`netcore::Bearer`]: it reports each VPN as a network of
//! type [`netcore::NetBearType::Vpn`] keyed by the TUN interface's name, with
//! INTERNET and without NOT_VPN (so the engine never makes it the default network,
//! as the seed says of `getDefaultNet`), with addresses, routes and MTU from the
//! kernel ([`netcore_link::properties::connection_properties`]) and the spec's DNS
//! servers. The network goes (`Gone`) when the tunnel is closed or dropped, or, for
//! a descriptor handed on, when the kernel removes the device because its last
//! descriptor closed (the app closed it or exited).
//!
//! For the facade: [`VpnBearer::owner_of`], [`VpnBearer::vpn_apps`] and
//! [`VpnBearer::require_vpn_app`] (2100301 for an app that runs no VPN, the check of
//! `getConnectOwnerUid`), and [`VpnBearer::covered_apps`] /
//! [`VpnBearer::vpns_covering`] for per-app routing.
//!
//! Errors use netcore's codes: 2100001 for a bad spec or a name in use, 201 without
//! the right to create TUN devices, 2100002 when the kernel refuses, 2101022 past
//! the configured number of VPNs.
//!
//! ```no_run
//! # async fn demo() -> netcore::Result<()> {
//! use netcore::{Bearer, LinkAddress, ReportSink};
//! use netcore_bearer_vpn::{VpnBearer, VpnSpec};
//! let bearer = VpnBearer::new(Default::default())?;
//! let runner = bearer.clone();
//! tokio::spawn(async move { runner.run(ReportSink::new(|e| println!("{e:?}"))).await });
//! let mut spec = VpnSpec::new(LinkAddress::new("10.99.0.1".parse().unwrap(), 24)?);
//! spec.routes.push(("10.98.0.0".parse().unwrap(), 24));
//! let app = netcore::AppId::from_uid(10_123);
//! let tunnel = bearer.establish(app, spec).await?;
//! assert_eq!(bearer.owner_of(tunnel.name()), Some(app));
//! let mut packet = [0u8; 2048];
//! let len = tunnel.recv(&mut packet).await.map_err(|e| netcore::Error::Service(e.to_string()))?;
//! # let _ = len;
//! tunnel.close();
//! # Ok(())
//! # }
//! ```
//!
//! As a plugin (feature `plugin`, the cdylib), the configuration is the JSON form of
//! [`VpnConfig`]; VPNs are established in-process, so a plugin instance reports
//! only the VPNs established through its own [`VpnBearer`].

mod bearer;
pub mod config;
#[cfg(feature = "plugin")]
mod plugin;
mod registry;
pub mod spec;
#[cfg(feature = "testing")]
pub mod testing;
mod tunnel;

pub use bearer::VpnBearer;
pub use config::VpnConfig;
pub use registry::VpnInfo;
pub use spec::{CoveredApps, VpnSpec};
pub use tunnel::VpnTunnel;
