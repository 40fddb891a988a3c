//! The seed's connection functions (seed 001, `@ohos.net.connection`) on
//! [`NetManager`]. Each function's doc names its seed counterpart, the permission
//! netcored checks for it, and the error codes it can return. They are async, as the
//! seed's promises are; the [`crate::blocking`] module has the `*Sync` twins.
//!
//! Through netcored every function can also fail with 201 (the app lacks the
//! permission named), 2100002 (netcored could not be reached) and 2100003; an
//! embedded runtime grants every call.

use netcore::engine::ConnectionId;
use netcore::{
    ConnectionProperties, Error, NetAddress, NetCapabilities, NetHandle, NetIpMacInfo,
    NetPortStatesInfo, NetSpecifier, ProtocolType, Result,
};
use netcore_bus::{from_json, to_json};

use crate::bus::{Reply, handle, handles};
use crate::connection::NetConnection;
use crate::manager::{Backend, NetManager};

impl NetManager {
    /// `createNetConnection(netSpecifier?, timeout?)`: a connection that, once
    /// registered, follows the network `spec` asks for (the default network when
    /// `None`). `timeout_ms` (with a specifier only; 0 = none) gives
    /// `netUnavailable` when no network came in time.
    pub fn create_net_connection(
        &self,
        spec: Option<NetSpecifier>,
        timeout_ms: u32,
    ) -> NetConnection {
        NetConnection::new(self.clone(), spec, timeout_ms)
    }

    /// The same as [`NetManager::create_net_connection`] with the timeout as the
    /// seed's raw number: anything outside the uint32 range is 401.
    pub fn create_net_connection_checked(
        &self,
        spec: Option<NetSpecifier>,
        timeout_ms: i64,
    ) -> Result<NetConnection> {
        let timeout = u32::try_from(timeout_ms).map_err(|_| {
            Error::Parameter(format!("timeout {timeout_ms} is not a uint32 number of ms"))
        })?;
        Ok(self.create_net_connection(spec, timeout))
    }

    pub(crate) fn next_connection_id(&self) -> ConnectionId {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.next_connection_id(),
            Backend::Bus(bus) => ConnectionId(bus.next_connection_id()),
        }
    }

    /// `getDefaultNet` (GET_NETWORK_INFO): the default network (never a VPN, always
    /// with INTERNET), or netId 0 when there is none.
    pub async fn get_default_net(&self) -> Result<NetHandle> {
        match &self.backend {
            Backend::Embedded(runtime) => Ok(runtime.read(|e| e.default_net())),
            Backend::Bus(bus) => handle(
                bus.acting_for(self.app)?
                    .proxy()
                    .get_default_net()
                    .await
                    .reply()?,
            ),
        }
    }

    /// `hasDefaultNet` (GET_NETWORK_INFO).
    pub async fn has_default_net(&self) -> Result<bool> {
        match &self.backend {
            Backend::Embedded(runtime) => Ok(runtime.read(|e| e.has_default_net())),
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .has_default_net()
                .await
                .reply(),
        }
    }

    /// `getAllNets` (GET_NETWORK_INFO): every connected network.
    pub async fn get_all_nets(&self) -> Result<Vec<NetHandle>> {
        match &self.backend {
            Backend::Embedded(runtime) => Ok(runtime.read(|e| e.all_nets())),
            Backend::Bus(bus) => handles(
                bus.acting_for(self.app)?
                    .proxy()
                    .get_all_nets()
                    .await
                    .reply()?,
            ),
        }
    }

    /// `getNetCapabilities` (GET_NETWORK_INFO). Errors: 2100001 (unknown network).
    pub async fn get_net_capabilities(&self, net: NetHandle) -> Result<NetCapabilities> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime
                .read(|e| e.net_capabilities(net))
                .map(|caps| (*caps).clone()),
            Backend::Bus(bus) => {
                let json = bus
                    .acting_for(self.app)?
                    .proxy()
                    .get_net_capabilities(net.net_id())
                    .await
                    .reply()?;
                from_json("capabilities", &json)
            }
        }
    }

    /// `getConnectionProperties` (GET_NETWORK_INFO). Errors: 2100001 (unknown
    /// network).
    pub async fn get_connection_properties(&self, net: NetHandle) -> Result<ConnectionProperties> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime
                .read(|e| e.connection_properties(net))
                .map(|props| (*props).clone()),
            Backend::Bus(bus) => {
                let json = bus
                    .acting_for(self.app)?
                    .proxy()
                    .get_connection_properties(net.net_id())
                    .await
                    .reply()?;
                from_json("properties", &json)
            }
        }
    }

    /// `isDefaultNetMetered` (GET_NETWORK_INFO): whether the default network lacks
    /// NOT_METERED (false without a default network).
    pub async fn is_default_net_metered(&self) -> Result<bool> {
        match &self.backend {
            Backend::Embedded(runtime) => Ok(runtime.read(|e| e.is_default_net_metered())),
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .is_default_net_metered()
                .await
                .reply(),
        }
    }

    /// `setAppNet` (INTERNET): binds this app to `net`; netId 0 unbinds. Errors:
    /// 2100001 (unknown network).
    pub async fn set_app_net(&self, net: NetHandle) -> Result<()> {
        let app = self.app;
        match &self.backend {
            Backend::Embedded(runtime) => runtime.set_app_net(app, net).await,
            Backend::Bus(bus) => bus
                .acting_for(app)?
                .proxy()
                .set_app_net(net.net_id())
                .await
                .reply(),
        }
    }

    /// `getAppNet`: the network this app is bound to, or netId 0.
    pub async fn get_app_net(&self) -> Result<NetHandle> {
        let app = self.app;
        match &self.backend {
            Backend::Embedded(runtime) => Ok(runtime.read(|e| e.app_net(app))),
            Backend::Bus(bus) => handle(bus.acting_for(app)?.proxy().get_app_net().await.reply()?),
        }
    }

    /// `reportNetConnected` (GET_NETWORK_INFO and INTERNET): this app reached the
    /// internet through `net` (after a portal login, say); netcore checks it again
    /// now. Errors: 2100001 (unknown network).
    pub async fn report_net_connected(&self, net: NetHandle) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.input(|e, now| e.report_net_connected(net, now)),
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .report_net_connected(net.net_id())
                .await
                .reply(),
        }
    }

    /// `reportNetDisconnected` (GET_NETWORK_INFO and INTERNET): this app could not
    /// reach the internet through `net`; netcore checks it again now. Errors: 2100001
    /// (unknown network).
    pub async fn report_net_disconnected(&self, net: NetHandle) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                runtime.input(|e, now| e.report_net_disconnected(net, now))
            }
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .report_net_disconnected(net.net_id())
                .await
                .reply(),
        }
    }

    /// `setNetExtAttribute` (SET_NET_EXT_ATTRIBUTE). Errors: 2100001 (unknown
    /// network, attribute over 4096 bytes).
    pub async fn set_net_ext_attribute(&self, net: NetHandle, attribute: &str) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                runtime.input(|e, _| e.set_net_ext_attribute(net, attribute))
            }
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .set_net_ext_attribute(net.net_id(), attribute)
                .await
                .reply(),
        }
    }

    /// `getNetExtAttribute` (GET_NETWORK_INFO). Errors: 2100001 (unknown network).
    pub async fn get_net_ext_attribute(&self, net: NetHandle) -> Result<String> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.read(|e| e.net_ext_attribute(net)),
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .get_net_ext_attribute(net.net_id())
                .await
                .reply(),
        }
    }

    /// `getIpNeighTable` (GET_NETWORK_INFO and GET_IP_MAC_INFO): the kernel's IPv4
    /// and IPv6 neighbour entries (IP, MAC, interface). Errors: 2100002, 2100003 (the
    /// kernel could not be asked).
    pub async fn get_ip_neigh_table(&self) -> Result<Vec<NetIpMacInfo>> {
        match &self.backend {
            Backend::Embedded(_) => {
                let client = netcore_link::LinkClient::connect()?;
                Ok(client.ip_neigh_table().await?)
            }
            Backend::Bus(bus) => {
                let json = bus
                    .acting_for(self.app)?
                    .proxy()
                    .get_ip_neigh_table()
                    .await
                    .reply()?;
                from_json("neighbours", &json)
            }
        }
    }

    /// `getSystemNetPortStates` (GET_IP_MAC_INFO): every TCP socket (with its remote
    /// side and state) and UDP socket of the system, with owner uid and pid, from the
    /// kernel's sock_diag. Errors: 2100003 (the kernel could not be asked).
    pub async fn get_system_net_port_states(&self) -> Result<NetPortStatesInfo> {
        match &self.backend {
            Backend::Embedded(_) => {
                spawn_blocking(netcore_link::ports::system_net_port_states).await
            }
            Backend::Bus(bus) => {
                let json = bus
                    .acting_for(self.app)?
                    .proxy()
                    .get_system_net_port_states()
                    .await
                    .reply()?;
                from_json("port states", &json)
            }
        }
    }

    /// `getConnectOwnerUid` (GET_NETWORK_INFO): the uid of the app that owns the
    /// connection `local` → `remote` (ports of 0 match any port; for UDP the local
    /// side alone decides when nothing matches both), or -1. Only an app that runs a
    /// VPN ([`NetManager::establish_vpn`]) may ask: anyone else gets 2100301.
    /// Errors: 2100003 (the kernel could not be asked), 2100301.
    pub async fn get_connect_owner_uid(
        &self,
        protocol: ProtocolType,
        local: NetAddress,
        remote: NetAddress,
    ) -> Result<i64> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                runtime.vpn().require_vpn_app(self.app)?;
                let sockets = spawn_blocking(netcore_link::ports::dump_sockets).await?;
                Ok(netcore_link::ports::connect_owner_uid(
                    &sockets, protocol, &local, &remote,
                ))
            }
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .get_connect_owner_uid(
                    u32::from(protocol.value()),
                    &to_json(&local),
                    &to_json(&remote),
                )
                .await
                .reply(),
        }
    }

    /// `queryProbeResult` (INTERNET): one ICMP echo a second to `destination` (a
    /// name, resolved on the default network, or an address) for `duration` seconds
    /// (1 to 1000, else 2100001); loss in percent and RTT `[min, avg, max, stddev]`
    /// in ms. Returns at once with what it has when a probe cannot be sent. Errors:
    /// 2100001, 2100003.
    pub async fn query_probe_result(
        &self,
        destination: &str,
        duration: i64,
    ) -> Result<netcore::ProbeResultInfo> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                runtime
                    .diagnostics()
                    .query_probe_result(destination, duration)
                    .await
            }
            Backend::Bus(bus) => {
                let json = bus
                    .acting_for(self.app)?
                    .proxy()
                    .query_probe_result(destination, duration)
                    .await
                    .reply()?;
                from_json("probe result", &json)
            }
        }
    }

    /// `queryTraceRoute` (INTERNET and ACCESS_NET_TRACE_INFO): the hops to
    /// `destination` (up to `maxJumpNumber`, 1 to 30, default 30; ICMP or UDP; five
    /// probes per hop). Errors: 2100001, 2100003.
    pub async fn query_trace_route(
        &self,
        destination: &str,
        options: Option<netcore::TraceRouteOptions>,
    ) -> Result<Vec<netcore::TraceRouteInfo>> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                runtime
                    .diagnostics()
                    .query_trace_route(destination, options)
                    .await
            }
            Backend::Bus(bus) => {
                let options = options.as_ref().map(to_json).unwrap_or_default();
                let json = bus
                    .acting_for(self.app)?
                    .proxy()
                    .query_trace_route(destination, &options)
                    .await
                    .reply()?;
                from_json("hops", &json)
            }
        }
    }
}

impl NetManager {
    /// Establishes a VPN for this app (a VPN app): netcore creates and configures a
    /// TUN device from `spec` (addresses, routes, DNS servers, MTU, the apps it covers
    /// or excludes) and hands back its tunnel (the device's descriptor). The VPN is a
    /// network (BEARER_VPN, no NOT_VPN, never the default network); it goes when the
    /// tunnel is closed or dropped. Through netcored, the daemon creates the device
    /// and hands its descriptor over the bus (as Android's `VpnService.establish`);
    /// the VPN also ends when this process leaves the bus. Errors: 201 (this process
    /// may not create TUN devices; through netcored, it lacks MANAGE_VPN), 2100001
    /// (invalid spec), 2100002 (the kernel refused), 2101022 (too many VPNs).
    pub async fn establish_vpn(
        &self,
        spec: netcore_bearer_vpn::VpnSpec,
    ) -> Result<netcore_bearer_vpn::VpnTunnel> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.vpn().establish(self.app, spec).await,
            Backend::Bus(bus) => {
                let (fd, name) = bus
                    .acting_for(self.app)?
                    .proxy()
                    .establish_vpn(&to_json(&spec))
                    .await
                    .reply()?;
                netcore_bearer_vpn::VpnTunnel::from_received_fd(fd.into(), name, self.app)
                    .map_err(|e| Error::Internal(format!("the tunnel netcored handed over: {e}")))
            }
        }
    }
}

/// Runs blocking kernel queries off the async threads.
async fn spawn_blocking<T: Send + 'static>(
    query: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(query)
        .await
        .map_err(|e| Error::Internal(format!("kernel query failed: {e}")))?
}
