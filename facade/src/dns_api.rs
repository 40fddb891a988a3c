//! The seed's DNS functions on [`NetManager`], and a network handle's own lookups
//! ([`Network`]).

use netcore::{ConversionProcess, NetAddress, NetHandle, QueryOptions, Result};

use netcore_bus::from_json;

use crate::bus::Reply;
use crate::manager::{Backend, NetManager};

impl NetManager {
    /// `getAddressesByName` (INTERNET): the addresses of `host` (port 0), resolved on this
    /// app's bound network, else on the default network; this app's custom rules
    /// answer first. Errors: 401, 2100001 (invalid host), 2100003 (not found,
    /// timeout, server failure, no network).
    pub async fn get_addresses_by_name(&self, host: &str) -> Result<Vec<NetAddress>> {
        self.get_addresses_by_name_with_options(host, QueryOptions::default())
            .await
    }

    /// `getAddressesByNameWithOptions`: as [`NetManager::get_addresses_by_name`],
    /// with the families of `options` (0 all, 1 IPv4, 2 IPv6).
    pub async fn get_addresses_by_name_with_options(
        &self,
        host: &str,
        options: QueryOptions,
    ) -> Result<Vec<NetAddress>> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                runtime
                    .get_addresses_by_name(self.app, None, host, options)
                    .await
            }
            Backend::Bus(bus) => {
                let family = u32::from(options.family.value());
                let json = bus
                    .acting_for(self.app)?
                    .proxy()
                    .get_addresses_by_name(0, host, family)
                    .await
                    .reply()?;
                from_json("addresses", &json)
            }
        }
    }

    /// `addCustomDnsRule` (INTERNET): this app's lookups of `host` answer `ips` before any server
    /// is asked; no other app sees the rule. Errors: 401 (empty host or list),
    /// 2100001 (invalid host or address, too many rules or addresses).
    pub async fn add_custom_dns_rule<S: AsRef<str>>(&self, host: &str, ips: &[S]) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.dns().add_custom_dns_rule(self.app, host, ips),
            Backend::Bus(bus) => {
                let ips = ips.iter().map(|ip| ip.as_ref().to_owned()).collect();
                bus.acting_for(self.app)?
                    .add_custom_dns_rule(host, ips)
                    .await
            }
        }
    }

    /// `removeCustomDnsRule` (INTERNET). Errors: 401 (empty host), 2100001 (invalid host).
    pub async fn remove_custom_dns_rule(&self, host: &str) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.dns().remove_custom_dns_rule(self.app, host),
            Backend::Bus(bus) => bus.acting_for(self.app)?.remove_custom_dns_rule(host).await,
        }
    }

    /// `clearCustomDnsRules` (INTERNET).
    pub async fn clear_custom_dns_rules(&self) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                runtime.dns().clear_custom_dns_rules(self.app);
                Ok(())
            }
            Backend::Bus(bus) => bus.acting_for(self.app)?.clear_custom_dns_rules().await,
        }
    }

    /// `getDnsAscii`: `host` in ASCII (Punycode) form; `flag` defaults to
    /// NO_CONFIGURATION. Errors: 2100001 (invalid input, a label over 63 bytes).
    pub fn get_dns_ascii(&self, host: &str, flag: Option<ConversionProcess>) -> Result<String> {
        netcore_dns::get_dns_ascii(host, flag.unwrap_or(ConversionProcess::NoConfiguration))
    }

    /// `getDnsUnicode`: `host` in Unicode form. Errors: 2100001.
    pub fn get_dns_unicode(&self, host: &str, flag: Option<ConversionProcess>) -> Result<String> {
        netcore_dns::get_dns_unicode(host, flag.unwrap_or(ConversionProcess::NoConfiguration))
    }

    /// The seed's `NetHandle` methods for the network `net`.
    pub fn network(&self, net: NetHandle) -> Network {
        Network {
            manager: self.clone(),
            net,
        }
    }
}

/// A network as the seed's `NetHandle` object: lookups on that network alone, and
/// sockets bound to it.
#[derive(Debug, Clone)]
pub struct Network {
    manager: NetManager,
    net: NetHandle,
}

impl Network {
    /// The handle.
    pub fn handle(&self) -> NetHandle {
        self.net
    }

    /// `NetHandle.getAddressesByName`: the addresses of `host` resolved with this
    /// network's DNS servers over its interface; this app's custom rules answer
    /// first. Errors: 401, 2100001 (invalid host, unknown network), 2100003.
    pub async fn get_addresses_by_name(&self, host: &str) -> Result<Vec<NetAddress>> {
        let app = self.manager.app;
        match &self.manager.backend {
            Backend::Embedded(runtime) => {
                runtime
                    .get_addresses_by_name(app, Some(self.net), host, QueryOptions::default())
                    .await
            }
            Backend::Bus(bus) => {
                let json = bus
                    .acting_for(app)?
                    .proxy()
                    .get_addresses_by_name(self.net.net_id(), host, 0)
                    .await
                    .reply()?;
                from_json("addresses", &json)
            }
        }
    }

    /// `NetHandle.getAddressByName`: the first address of `host` on this network.
    /// Errors: as [`Network::get_addresses_by_name`].
    pub async fn get_address_by_name(&self, host: &str) -> Result<NetAddress> {
        let app = self.manager.app;
        match &self.manager.backend {
            Backend::Embedded(runtime) => {
                runtime.get_address_by_name(app, Some(self.net), host).await
            }
            Backend::Bus(bus) => {
                let json = bus
                    .acting_for(app)?
                    .proxy()
                    .get_address_by_name(self.net.net_id(), host)
                    .await
                    .reply()?;
                from_json("address", &json)
            }
        }
    }

    /// `NetHandle.bindSocket`: binds `socket` to this network, so that its traffic
    /// leaves through this network only. Works on netcore's sockets and on std and
    /// tokio TCP and UDP sockets; best before the socket connects or sends.
    ///
    /// Embedded, the socket is bound to the network's interface. Through netcored,
    /// its descriptor goes to the daemon, which checks that this app may use the
    /// network and binds and marks the socket (netcore's own sockets must be bound
    /// or connected first). Errors: 2100001 (unknown network, interface gone, not an
    /// IP socket), 201 (this process may not bind to an interface, or may not use
    /// this network), 2100003 (closed socket).
    pub fn bind_socket(&self, socket: &dyn netcore_socket::BindToInterface) -> Result<()> {
        match &self.manager.backend {
            Backend::Embedded(runtime) => {
                let properties = runtime.read(|e| e.connection_properties(self.net))?;
                socket.bind_to_interface(&properties.interface_name)
            }
            Backend::Bus(bus) => {
                let proxy = bus.acting_for(self.manager.app)?.proxy();
                socket.with_fd(&mut |fd| {
                    crate::blocking::wait(&self.manager, async {
                        proxy
                            .bind_socket(self.net.net_id(), fd.into())
                            .await
                            .reply()
                    })
                })
            }
        }
    }
}
