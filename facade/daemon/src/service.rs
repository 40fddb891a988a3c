//! The D-Bus interface `org.netcore.Netcore1`: the connection API of seed 001 for the
//! apps on the bus. Every call finds its caller from the bus, checks the seed's
//! permission for it in [`Caller::require`], and acts for the caller's app.

use std::os::fd::AsFd;
use std::sync::Arc;

use netcore::{
    Error, FamilyType, HttpProxy, NetAddress, NetHandle, NetSpecifier, ProtocolType, QueryOptions,
    TraceRouteOptions,
};
use netcore_bus::{BusError, from_json, to_json};
use netcore_runtime::Runtime;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;

use crate::clients::{Client, Clients};
use crate::policy::Permission::{
    self, AccessNetTraceInfo, GetIpMacInfo, GetNetworkInfo, Internet, ManageSettings, ManageVpn,
    SetNetExtAttribute, SetPacUrl,
};

/// A method's result: what it returns, or a netcore error on the bus.
type Result<T> = std::result::Result<T, BusError>;

/// The object netcored serves.
pub struct Service {
    runtime: Runtime,
    clients: Arc<Clients>,
}

impl Service {
    /// The service of `runtime` to `clients`.
    pub fn new(runtime: Runtime, clients: Arc<Clients>) -> Self {
        Self { runtime, clients }
    }

    /// The caller of the call `header` belongs to, once it is known to hold
    /// `needed` for `call`.
    async fn caller(
        &self,
        header: &Header<'_>,
        call: &str,
        needed: &[Permission],
    ) -> netcore::Result<Arc<Client>> {
        let client = self.clients.client(header.sender()).await?;
        client.caller.require(call, needed)?;
        Ok(client)
    }
}

/// A netId argument: 0 is [`NetHandle::NONE`]; an id no network can have is 2100001.
fn net(net_id: u32) -> netcore::Result<NetHandle> {
    NetHandle::new(i64::from(net_id))
}

fn proxy_json(proxy: Option<&HttpProxy>) -> String {
    proxy.map(to_json).unwrap_or_default()
}

#[zbus::interface(name = "org.netcore.Netcore1")]
impl Service {
    /// The version of netcored.
    #[zbus(property)]
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    /// `getDefaultNet`: the default network's netId, 0 when none (GET_NETWORK_INFO).
    async fn get_default_net(&self, #[zbus(header)] header: Header<'_>) -> Result<u32> {
        self.caller(&header, "getDefaultNet", &[GetNetworkInfo])
            .await?;
        Ok(self.runtime.read(|e| e.default_net()).net_id())
    }

    /// `hasDefaultNet` (GET_NETWORK_INFO).
    async fn has_default_net(&self, #[zbus(header)] header: Header<'_>) -> Result<bool> {
        self.caller(&header, "hasDefaultNet", &[GetNetworkInfo])
            .await?;
        Ok(self.runtime.read(|e| e.has_default_net()))
    }

    /// `getAllNets` (GET_NETWORK_INFO).
    async fn get_all_nets(&self, #[zbus(header)] header: Header<'_>) -> Result<Vec<u32>> {
        self.caller(&header, "getAllNets", &[GetNetworkInfo])
            .await?;
        Ok(self
            .runtime
            .read(|e| e.all_nets())
            .into_iter()
            .map(NetHandle::net_id)
            .collect())
    }

    /// `getNetCapabilities`: JSON `NetCapabilities` (GET_NETWORK_INFO).
    async fn get_net_capabilities(
        &self,
        #[zbus(header)] header: Header<'_>,
        net_id: u32,
    ) -> Result<String> {
        self.caller(&header, "getNetCapabilities", &[GetNetworkInfo])
            .await?;
        let net = net(net_id)?;
        let caps = self.runtime.read(|e| e.net_capabilities(net))?;
        Ok(to_json(&*caps))
    }

    /// `getConnectionProperties`: JSON `ConnectionProperties` (GET_NETWORK_INFO).
    async fn get_connection_properties(
        &self,
        #[zbus(header)] header: Header<'_>,
        net_id: u32,
    ) -> Result<String> {
        self.caller(&header, "getConnectionProperties", &[GetNetworkInfo])
            .await?;
        let net = net(net_id)?;
        let properties = self.runtime.read(|e| e.connection_properties(net))?;
        Ok(to_json(&*properties))
    }

    /// `isDefaultNetMetered` (GET_NETWORK_INFO).
    async fn is_default_net_metered(&self, #[zbus(header)] header: Header<'_>) -> Result<bool> {
        self.caller(&header, "isDefaultNetMetered", &[GetNetworkInfo])
            .await?;
        Ok(self.runtime.read(|e| e.is_default_net_metered()))
    }

    /// `setAppNet`: binds the calling app to `net_id`, 0 unbinds (INTERNET).
    async fn set_app_net(&self, #[zbus(header)] header: Header<'_>, net_id: u32) -> Result<()> {
        let client = self.caller(&header, "setAppNet", &[Internet]).await?;
        let (app, net) = (client.caller.app, net(net_id)?);
        Ok(self.runtime.set_app_net(app, net).await?)
    }

    /// `getAppNet`: the calling app's network, 0 when unbound.
    async fn get_app_net(&self, #[zbus(header)] header: Header<'_>) -> Result<u32> {
        let client = self.caller(&header, "getAppNet", &[]).await?;
        let app = client.caller.app;
        Ok(self.runtime.read(|e| e.app_net(app)).net_id())
    }

    /// `NetHandle.bindSocket` (INTERNET): `socket` is the app's own IPv4 or IPv6
    /// socket, which netcored binds to network `net_id` and, in manage mode, marks
    /// for the network's table. A VPN is only for the apps it covers.
    async fn bind_socket(
        &self,
        #[zbus(header)] header: Header<'_>,
        net_id: u32,
        socket: zbus::zvariant::OwnedFd,
    ) -> Result<()> {
        let client = self.caller(&header, "bindSocket", &[Internet]).await?;
        let net = net(net_id)?;
        Ok(self
            .runtime
            .bind_socket(client.caller.app, net, socket.as_fd())?)
    }

    /// `reportNetConnected` (GET_NETWORK_INFO and INTERNET).
    async fn report_net_connected(
        &self,
        #[zbus(header)] header: Header<'_>,
        net_id: u32,
    ) -> Result<()> {
        self.caller(&header, "reportNetConnected", &[GetNetworkInfo, Internet])
            .await?;
        let net = net(net_id)?;
        Ok(self
            .runtime
            .input(|e, now| e.report_net_connected(net, now))?)
    }

    /// `reportNetDisconnected` (GET_NETWORK_INFO and INTERNET).
    async fn report_net_disconnected(
        &self,
        #[zbus(header)] header: Header<'_>,
        net_id: u32,
    ) -> Result<()> {
        self.caller(
            &header,
            "reportNetDisconnected",
            &[GetNetworkInfo, Internet],
        )
        .await?;
        let net = net(net_id)?;
        Ok(self
            .runtime
            .input(|e, now| e.report_net_disconnected(net, now))?)
    }

    /// `setNetExtAttribute` (SET_NET_EXT_ATTRIBUTE).
    async fn set_net_ext_attribute(
        &self,
        #[zbus(header)] header: Header<'_>,
        net_id: u32,
        attribute: &str,
    ) -> Result<()> {
        self.caller(&header, "setNetExtAttribute", &[SetNetExtAttribute])
            .await?;
        let net = net(net_id)?;
        Ok(self
            .runtime
            .input(|e, _| e.set_net_ext_attribute(net, attribute))?)
    }

    /// `getNetExtAttribute` (GET_NETWORK_INFO).
    async fn get_net_ext_attribute(
        &self,
        #[zbus(header)] header: Header<'_>,
        net_id: u32,
    ) -> Result<String> {
        self.caller(&header, "getNetExtAttribute", &[GetNetworkInfo])
            .await?;
        let net = net(net_id)?;
        Ok(self.runtime.read(|e| e.net_ext_attribute(net))?)
    }

    /// `NetConnection.register` (GET_NETWORK_INFO): `connection` is the client's own
    /// id for it, carried by its `NetEvent` signals; `specifier` is a JSON
    /// `NetSpecifier`, "" for the default network.
    async fn register(
        &self,
        #[zbus(header)] header: Header<'_>,
        connection: u64,
        specifier: &str,
        timeout_ms: u32,
    ) -> Result<()> {
        let client = self.caller(&header, "register", &[GetNetworkInfo]).await?;
        let spec = match specifier {
            "" => None,
            json => Some(from_json::<NetSpecifier>("specifier", json)?),
        };
        Ok(self
            .clients
            .register(&client, connection, spec, timeout_ms)?)
    }

    /// `NetConnection.unregister` of the client's connection `connection`.
    async fn unregister(&self, #[zbus(header)] header: Header<'_>, connection: u64) -> Result<()> {
        let client = self.caller(&header, "unregister", &[]).await?;
        Ok(self.clients.unregister(&client, connection)?)
    }

    /// Every network: JSON snapshots (GET_NETWORK_INFO).
    async fn get_networks(&self, #[zbus(header)] header: Header<'_>) -> Result<String> {
        self.caller(&header, "getNetworks", &[GetNetworkInfo])
            .await?;
        let snapshots: Vec<_> = self.runtime.read(|e| {
            e.all_nets()
                .into_iter()
                .filter_map(|net| e.snapshot(net).ok())
                .collect()
        });
        Ok(to_json(&snapshots))
    }

    /// One network: a JSON snapshot (GET_NETWORK_INFO).
    async fn get_network(&self, #[zbus(header)] header: Header<'_>, net_id: u32) -> Result<String> {
        self.caller(&header, "getNetwork", &[GetNetworkInfo])
            .await?;
        let net = net(net_id)?;
        Ok(to_json(&self.runtime.read(|e| e.snapshot(net))?))
    }

    /// Starts `WatchEvent` signals to the caller; returns `[networks, defaultNet]`
    /// now, as JSON (GET_NETWORK_INFO).
    async fn watch(&self, #[zbus(header)] header: Header<'_>) -> Result<String> {
        let client = self.caller(&header, "watch", &[GetNetworkInfo]).await?;
        Ok(self.clients.watch(&client)?)
    }

    /// Stops the caller's `WatchEvent` signals.
    async fn unwatch(&self, #[zbus(header)] header: Header<'_>) -> Result<()> {
        let client = self.caller(&header, "unwatch", &[]).await?;
        self.clients.unwatch(&client);
        Ok(())
    }

    /// What became of each plugin file: JSON `[path, name or reason, loaded]`
    /// (GET_NETWORK_INFO).
    async fn plugins(&self, #[zbus(header)] header: Header<'_>) -> Result<String> {
        self.caller(&header, "plugins", &[GetNetworkInfo]).await?;
        let plugins: Vec<(String, String, bool)> = self
            .runtime
            .plugins()
            .into_iter()
            .map(|p| match p.outcome {
                Ok(name) => (p.path.display().to_string(), name, true),
                Err(why) => (p.path.display().to_string(), why, false),
            })
            .collect();
        Ok(to_json(&plugins))
    }

    /// The seed numbers of the bearer types that run (GET_NETWORK_INFO).
    async fn bearer_types(&self, #[zbus(header)] header: Header<'_>) -> Result<Vec<u32>> {
        self.caller(&header, "bearerTypes", &[GetNetworkInfo])
            .await?;
        Ok(self
            .runtime
            .bearer_types()
            .iter()
            .map(|t| u32::from(t.value()))
            .collect())
    }

    /// Forgets the calling app's requests, binding, DNS rules, proxy and VPNs.
    async fn remove_app(&self, #[zbus(header)] header: Header<'_>) -> Result<()> {
        let client = self.caller(&header, "removeApp", &[]).await?;
        self.runtime.remove_app(client.caller.app).await;
        Ok(())
    }

    /// `getAddressesByNameWithOptions` on `net_id` (0: the app's network, else the
    /// default), `family` 0 all, 1 IPv4, 2 IPv6: JSON `NetAddress`es (INTERNET).
    async fn get_addresses_by_name(
        &self,
        #[zbus(header)] header: Header<'_>,
        net_id: u32,
        host: &str,
        family: u32,
    ) -> Result<String> {
        let client = self
            .caller(&header, "getAddressesByName", &[Internet])
            .await?;
        let family = FamilyType::try_from(i64::from(family))?;
        let net = (net_id != 0).then(|| net(net_id)).transpose()?;
        let addresses = self
            .runtime
            .get_addresses_by_name(client.caller.app, net, host, QueryOptions { family })
            .await?;
        Ok(to_json(&addresses))
    }

    /// `NetHandle.getAddressByName`: JSON `NetAddress` (INTERNET).
    async fn get_address_by_name(
        &self,
        #[zbus(header)] header: Header<'_>,
        net_id: u32,
        host: &str,
    ) -> Result<String> {
        let client = self
            .caller(&header, "getAddressByName", &[Internet])
            .await?;
        let net = (net_id != 0).then(|| net(net_id)).transpose()?;
        let address = self
            .runtime
            .get_address_by_name(client.caller.app, net, host)
            .await?;
        Ok(to_json(&address))
    }

    /// `addCustomDnsRule` for the calling app (INTERNET).
    async fn add_custom_dns_rule(
        &self,
        #[zbus(header)] header: Header<'_>,
        host: &str,
        addresses: Vec<String>,
    ) -> Result<()> {
        let client = self
            .caller(&header, "addCustomDnsRule", &[Internet])
            .await?;
        Ok(self
            .runtime
            .dns()
            .add_custom_dns_rule(client.caller.app, host, &addresses)?)
    }

    /// `removeCustomDnsRule` (INTERNET).
    async fn remove_custom_dns_rule(
        &self,
        #[zbus(header)] header: Header<'_>,
        host: &str,
    ) -> Result<()> {
        let client = self
            .caller(&header, "removeCustomDnsRule", &[Internet])
            .await?;
        Ok(self
            .runtime
            .dns()
            .remove_custom_dns_rule(client.caller.app, host)?)
    }

    /// `clearCustomDnsRules` (INTERNET).
    async fn clear_custom_dns_rules(&self, #[zbus(header)] header: Header<'_>) -> Result<()> {
        let client = self
            .caller(&header, "clearCustomDnsRules", &[Internet])
            .await?;
        self.runtime.dns().clear_custom_dns_rules(client.caller.app);
        Ok(())
    }

    /// `setAppHttpProxy`: the calling app's proxy (JSON `HttpProxy`).
    async fn set_app_http_proxy(
        &self,
        #[zbus(header)] header: Header<'_>,
        proxy: &str,
    ) -> Result<()> {
        let client = self.caller(&header, "setAppHttpProxy", &[]).await?;
        let proxy: HttpProxy = from_json("proxy", proxy)?;
        self.runtime
            .proxies()
            .set_app_http_proxy(client.caller.app, proxy)?;
        self.proxy_changed_now().await;
        Ok(())
    }

    /// `getDefaultHttpProxy`: JSON `HttpProxy`, "" when none.
    async fn get_default_http_proxy(&self, #[zbus(header)] header: Header<'_>) -> Result<String> {
        let client = self.caller(&header, "getDefaultHttpProxy", &[]).await?;
        let proxies = self.runtime.proxies();
        Ok(proxy_json(proxies.default_http_proxy(client.caller.app)))
    }

    /// Sets the global proxy (JSON `HttpProxy`, "" clears it) (MANAGE_SETTINGS).
    async fn set_global_http_proxy(
        &self,
        #[zbus(header)] header: Header<'_>,
        proxy: &str,
    ) -> Result<()> {
        self.caller(&header, "setGlobalHttpProxy", &[ManageSettings])
            .await?;
        let proxy: Option<HttpProxy> = match proxy {
            "" => None,
            json => Some(from_json("proxy", json)?),
        };
        self.runtime.proxies().set_global_http_proxy(proxy)?;
        self.proxy_changed_now().await;
        Ok(())
    }

    /// The proxy the calling app's request to `url` goes through (JSON, "" direct).
    async fn http_proxy_for_url(
        &self,
        #[zbus(header)] header: Header<'_>,
        url: &str,
    ) -> Result<String> {
        let client = self.caller(&header, "httpProxyForUrl", &[]).await?;
        let proxies = self.runtime.proxies();
        Ok(proxy_json(proxies.proxy_for_url(client.caller.app, url)))
    }

    /// `setPacFileUrl` (SET_PAC_URL).
    async fn set_pac_file_url(&self, #[zbus(header)] header: Header<'_>, url: &str) -> Result<()> {
        self.caller(&header, "setPacFileUrl", &[SetPacUrl]).await?;
        Ok(self.runtime.pac().set_pac_file_url(url).await?)
    }

    /// `getPacFileUrl`.
    async fn get_pac_file_url(&self, #[zbus(header)] header: Header<'_>) -> Result<String> {
        self.caller(&header, "getPacFileUrl", &[]).await?;
        Ok(self.runtime.pac().pac_file_url())
    }

    /// `findProxyForUrl`.
    async fn find_proxy_for_url(
        &self,
        #[zbus(header)] header: Header<'_>,
        url: &str,
    ) -> Result<String> {
        self.caller(&header, "findProxyForUrl", &[]).await?;
        Ok(self.runtime.pac().find_proxy_for_url(url).await?)
    }

    /// `setPacUrl` (SET_PAC_URL).
    async fn set_pac_url(&self, #[zbus(header)] header: Header<'_>, url: &str) -> Result<()> {
        self.caller(&header, "setPacUrl", &[SetPacUrl]).await?;
        Ok(self.runtime.pac().set_pac_url(url)?)
    }

    /// `getPacUrl`.
    async fn get_pac_url(&self, #[zbus(header)] header: Header<'_>) -> Result<String> {
        self.caller(&header, "getPacUrl", &[]).await?;
        Ok(self.runtime.pac().pac_url()?)
    }

    /// `getIpNeighTable`: JSON `NetIpMacInfo`s (GET_NETWORK_INFO and GET_IP_MAC_INFO).
    async fn get_ip_neigh_table(&self, #[zbus(header)] header: Header<'_>) -> Result<String> {
        self.caller(&header, "getIpNeighTable", &[GetNetworkInfo, GetIpMacInfo])
            .await?;
        let client = netcore_link::LinkClient::connect().map_err(Error::from)?;
        let table = client.ip_neigh_table().await.map_err(Error::from)?;
        Ok(to_json(&table))
    }

    /// `getSystemNetPortStates`: JSON `NetPortStatesInfo` (GET_IP_MAC_INFO).
    async fn get_system_net_port_states(
        &self,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<String> {
        self.caller(&header, "getSystemNetPortStates", &[GetIpMacInfo])
            .await?;
        let states = blocking(netcore_link::ports::system_net_port_states).await?;
        Ok(to_json(&states))
    }

    /// Establishes a VPN for the calling app (MANAGE_VPN): `spec` is a JSON
    /// `VpnSpec`. Returns the TUN device's descriptor, which carries the VPN's
    /// packets, and the interface's name. The VPN ends when the app closes every
    /// copy of the descriptor or leaves the bus.
    async fn establish_vpn(
        &self,
        #[zbus(header)] header: Header<'_>,
        spec: &str,
    ) -> Result<(zbus::zvariant::OwnedFd, String)> {
        let client = self.caller(&header, "establishVpn", &[ManageVpn]).await?;
        let spec: netcore_bearer_vpn::VpnSpec = from_json("spec", spec)?;
        let tunnel = self
            .runtime
            .vpn()
            .establish(client.caller.app, spec)
            .await?;
        let name = tunnel.name().to_owned();
        let fd = tunnel
            .into_owned_fd()
            .map_err(|e| netcore::Error::Internal(format!("the tunnel's descriptor: {e}")))?;
        Ok((fd.into(), name))
    }

    /// `getConnectOwnerUid` (GET_NETWORK_INFO; only for an app that runs a VPN,
    /// else 2100301): `local` and `remote` are JSON `NetAddress`es.
    async fn get_connect_owner_uid(
        &self,
        #[zbus(header)] header: Header<'_>,
        protocol: u32,
        local: &str,
        remote: &str,
    ) -> Result<i64> {
        let client = self
            .caller(&header, "getConnectOwnerUid", &[GetNetworkInfo])
            .await?;
        self.runtime.vpn().require_vpn_app(client.caller.app)?;
        let protocol = ProtocolType::try_from(i64::from(protocol))?;
        let local: NetAddress = from_json("local", local)?;
        let remote: NetAddress = from_json("remote", remote)?;
        let sockets = blocking(netcore_link::ports::dump_sockets).await?;
        Ok(netcore_link::ports::connect_owner_uid(
            &sockets, protocol, &local, &remote,
        ))
    }

    /// `queryProbeResult`: JSON `ProbeResultInfo` (INTERNET).
    async fn query_probe_result(
        &self,
        #[zbus(header)] header: Header<'_>,
        destination: &str,
        duration: i64,
    ) -> Result<String> {
        self.caller(&header, "queryProbeResult", &[Internet])
            .await?;
        let result = self
            .runtime
            .diagnostics()
            .query_probe_result(destination, duration)
            .await?;
        Ok(to_json(&result))
    }

    /// `queryTraceRoute` (`options`: JSON `TraceRouteOptions` or ""): JSON
    /// `TraceRouteInfo`s (INTERNET and ACCESS_NET_TRACE_INFO).
    async fn query_trace_route(
        &self,
        #[zbus(header)] header: Header<'_>,
        destination: &str,
        options: &str,
    ) -> Result<String> {
        self.caller(&header, "queryTraceRoute", &[Internet, AccessNetTraceInfo])
            .await?;
        let options: Option<TraceRouteOptions> = match options {
            "" => None,
            json => Some(from_json("options", json)?),
        };
        let hops = self
            .runtime
            .diagnostics()
            .query_trace_route(destination, options)
            .await?;
        Ok(to_json(&hops))
    }

    /// Events of the client's connections, in order per connection: each its
    /// connection id and the index of its JSON `NetEvent` in `payloads` (an event
    /// that several connections get is written once); sent to that client alone.
    #[zbus(signal)]
    pub async fn net_events(
        emitter: &SignalEmitter<'_>,
        events: Vec<(u64, u32)>,
        payloads: Vec<String>,
    ) -> zbus::Result<()>;

    /// Events of any network (JSON `NetEvent`s), in order, sent to each watching
    /// client alone.
    #[zbus(signal)]
    pub async fn watch_events(emitter: &SignalEmitter<'_>, events: Vec<String>)
    -> zbus::Result<()>;

    /// The client's connection `connection` ended on netcored's side with `error`
    /// (JSON): it fell too far behind, and is no longer registered.
    #[zbus(signal)]
    pub async fn connection_ended(
        emitter: &SignalEmitter<'_>,
        connection: u64,
        error: String,
    ) -> zbus::Result<()>;

    /// The proxy settings changed: clients read theirs again.
    #[zbus(signal)]
    pub async fn proxy_changed(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
}

impl Service {
    /// Tells the runtime's followers and every client that the proxies changed.
    async fn proxy_changed_now(&self) {
        self.runtime.proxy_changed();
        self.clients.broadcast_proxy_changed().await;
    }
}

/// Runs a blocking kernel query off the async threads.
async fn blocking<T: Send + 'static>(
    query: impl FnOnce() -> netcore::Result<T> + Send + 'static,
) -> netcore::Result<T> {
    tokio::task::spawn_blocking(query)
        .await
        .map_err(|e| Error::Internal(format!("kernel query failed: {e}")))?
}
