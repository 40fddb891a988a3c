//! The resolver interface that crates needing name resolution (PAC's `dnsResolve`,
//! probes, traceroute) use without depending on `netcore-dns`, which implements it.

use std::net::IpAddr;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{FamilyType, NetHandle};

/// Resolves host names to addresses.
#[async_trait]
pub trait Resolve: Send + Sync {
    /// The addresses of `host` of the families asked for, looked up on `net` (or on
    /// the default network when `net` is [`NetHandle::NONE`]). Fails with
    /// [`crate::Error::Resolve`] when the name cannot be resolved and with
    /// [`crate::Error::InvalidValue`] when `host` is not a valid name.
    async fn resolve(&self, net: NetHandle, host: &str, family: FamilyType) -> Result<Vec<IpAddr>>;
}
