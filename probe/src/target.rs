//! The network a check runs on, and name resolution through it.

use std::net::IpAddr;
use std::sync::Arc;

use netcore::{ConnectionProperties, Error, FamilyType, NetAddress, NetHandle, Resolve, Result};
use netcore_dns::{DnsConfig, DnsService};

/// The network a validation runs on: its handle, interface and DNS servers, and
/// optionally the resolver to use for it.
#[derive(Clone)]
pub struct NetworkTarget {
    /// The network's handle; resolution through a given [`Resolve`] asks for it.
    pub net: NetHandle,
    /// The interface all probe sockets are bound to (`SO_BINDTODEVICE`); an empty
    /// name leaves them unbound.
    pub interface: String,
    /// The network's DNS servers (its `ConnectionProperties::dnses`), used when no
    /// resolver is given.
    pub dns_servers: Vec<NetAddress>,
    /// The resolver for probe host names. When `None`, a resolver of this crate's own
    /// asks [`Self::dns_servers`] over sockets bound to [`Self::interface`].
    pub resolver: Option<Arc<dyn Resolve>>,
}

impl std::fmt::Debug for NetworkTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkTarget")
            .field("net", &self.net)
            .field("interface", &self.interface)
            .field("dns_servers", &self.dns_servers)
            .field("resolver", &self.resolver.as_ref().map(|_| "dyn Resolve"))
            .finish()
    }
}

impl NetworkTarget {
    /// A target with no DNS servers and no resolver (enough when the probe URLs hold
    /// addresses).
    pub fn new(net: NetHandle, interface: impl Into<String>) -> Self {
        Self {
            net,
            interface: interface.into(),
            dns_servers: Vec::new(),
            resolver: None,
        }
    }

    /// Sets the network's DNS servers.
    pub fn with_dns_servers(mut self, servers: Vec<NetAddress>) -> Self {
        self.dns_servers = servers;
        self
    }

    /// Sets the resolver for probe host names (the facade passes netcore-dns's service).
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// The addresses of `host`: itself when it is an address, else what the resolver
    /// answers.
    pub(crate) async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>> {
        if let Some(ip) = literal_address(host) {
            return Ok(vec![ip]);
        }
        match &self.resolver {
            Some(resolver) => resolver.resolve(self.net, host, FamilyType::All).await,
            None => {
                self.own_resolver()?
                    .resolve(self.net, host, FamilyType::All)
                    .await
            }
        }
    }

    /// A netcore-dns service knowing only this network, so lookups go to its servers
    /// over sockets bound to its interface.
    fn own_resolver(&self) -> Result<DnsService> {
        let service = DnsService::new(DnsConfig::default());
        let net = if self.net == NetHandle::NONE {
            NetHandle::new(i64::from(NetHandle::FIRST_ID))?
        } else {
            self.net
        };
        let properties = ConnectionProperties {
            interface_name: self.interface.clone(),
            dnses: self.dns_servers.clone(),
            ..Default::default()
        };
        service.set_network(net, &properties)?;
        service.set_default_network(net);
        Ok(service)
    }
}

/// `host` as an address, accepting the bracketed IPv6 form of URLs.
pub(crate) fn literal_address(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Resolves a diagnostics destination (a name or an address) to one address, the
/// first the resolver gives.
pub(crate) async fn resolve_destination(
    destination: &str,
    resolver: Option<&dyn Resolve>,
    net: NetHandle,
) -> Result<IpAddr> {
    let destination = destination.trim();
    if destination.is_empty() {
        return Err(Error::invalid("the destination is empty"));
    }
    if let Some(ip) = literal_address(destination) {
        return Ok(ip);
    }
    let Some(resolver) = resolver else {
        return Err(Error::Internal(format!(
            "no resolver to look up {destination:?}"
        )));
    };
    let addresses = resolver.resolve(net, destination, FamilyType::All).await?;
    addresses.into_iter().next().ok_or_else(|| Error::Resolve {
        host: destination.to_owned(),
        failure: netcore::ResolveFailure::NotFound,
    })
}
