//! The network a check runs on, and name resolution through it.

use std::net::IpAddr;
use std::sync::Arc;

use netcore::{Error, FamilyType, NetHandle, Resolve, Result};

/// The network a validation runs on: its handle and interface, and the resolver
/// that looks its probe host names up on it.
#[derive(Clone)]
pub struct NetworkTarget {
    /// The network's handle; the resolver is asked for names on it.
    pub net: NetHandle,
    /// The interface all probe sockets are bound to (`SO_BINDTODEVICE`); an empty
    /// name leaves them unbound.
    pub interface: String,
    /// Resolves probe host names on [`Self::net`] (the runtime passes its DNS
    /// service, which asks the network's own servers over its interface). Without
    /// one, only probe URLs holding addresses can be checked.
    pub resolver: Option<Arc<dyn Resolve>>,
}

impl std::fmt::Debug for NetworkTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkTarget")
            .field("net", &self.net)
            .field("interface", &self.interface)
            .field("resolver", &self.resolver.as_ref().map(|_| "dyn Resolve"))
            .finish()
    }
}

impl NetworkTarget {
    /// A target without a resolver (enough when the probe URLs hold addresses).
    pub fn new(net: NetHandle, interface: impl Into<String>) -> Self {
        Self {
            net,
            interface: interface.into(),
            resolver: None,
        }
    }

    /// Sets the resolver for probe host names.
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// The addresses of `host`: itself when it is an address, else what the resolver
    /// answers on this network. A name without a resolver is 2100003.
    pub(crate) async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>> {
        if let Some(ip) = literal_address(host) {
            return Ok(vec![ip]);
        }
        match &self.resolver {
            Some(resolver) => resolver.resolve(self.net, host, FamilyType::All).await,
            None => Err(Error::Internal(format!(
                "no resolver to look up {host:?} on network {}",
                self.net
            ))),
        }
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
