//! Queries and programming: a request/reply rtnetlink connection.

use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::route::{RouteProtocol, RouteScope};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleUidRange};
use rtnetlink::{IpVersion, LinkUnspec, RouteMessageBuilder};

use crate::convert;
use crate::error::{LinkError, Result};
use crate::state::{LinkState, ip_neigh_table};
use crate::sysfs::SysfsNet;
use crate::types::*;

/// Aborts a spawned task when dropped.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A connection to the kernel's routing netlink for queries (links, addresses,
/// routes, neighbours, rules, counters) and programming (addresses, routes, rules,
/// link up/down).
///
/// It works in the network namespace of the thread that created it. It must be
/// created inside a tokio runtime, which drives the socket until the client is
/// dropped.
#[derive(Debug)]
pub struct LinkClient {
    handle: rtnetlink::Handle,
    sysfs: SysfsNet,
    _connection: AbortOnDrop,
}

impl LinkClient {
    /// Opens a connection, reading sysfs facts from `/sys/class/net`.
    pub fn connect() -> Result<Self> {
        Self::connect_with(SysfsNet::default())
    }

    /// Opens a connection, reading sysfs facts from `sysfs`.
    pub fn connect_with(sysfs: SysfsNet) -> Result<Self> {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(|e| LinkError::Socket(e.to_string()))?;
        let task = tokio::spawn(connection);
        Ok(Self {
            handle,
            sysfs,
            _connection: AbortOnDrop(task),
        })
    }

    pub(crate) fn from_parts(
        handle: rtnetlink::Handle,
        sysfs: SysfsNet,
        task: AbortOnDrop,
    ) -> Self {
        Self {
            handle,
            sysfs,
            _connection: task,
        }
    }

    /// Stops the socket's task, as if the socket had failed.
    #[cfg(test)]
    pub(crate) fn abort_connection(&self) {
        self._connection.0.abort();
    }

    /// Every link.
    pub async fn links(&self) -> Result<Vec<Link>> {
        let mut stream = self.handle.link().get().execute();
        let mut links = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| LinkError::kernel("list links", e))?
        {
            links.extend(convert::link(&msg, &self.sysfs));
        }
        Ok(links)
    }

    /// The link named `name`; [`LinkError::NoSuchLink`] when there is none.
    pub async fn link_by_name(&self, name: &str) -> Result<Link> {
        if name.is_empty() || name.len() > 15 {
            return Err(LinkError::NoSuchLink(format!(
                "{name:?} is not a valid interface name"
            )));
        }
        self.links()
            .await?
            .into_iter()
            .find(|l| l.name == name)
            .ok_or_else(|| LinkError::NoSuchLink(name.to_owned()))
    }

    /// The index of the link named `name`.
    pub async fn index_of(&self, name: &str) -> Result<u32> {
        Ok(self.link_by_name(name).await?.index)
    }

    /// Every address of every link.
    pub async fn addresses(&self) -> Result<Vec<Address>> {
        let mut stream = self.handle.address().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| LinkError::kernel("list addresses", e))?
        {
            out.extend(convert::address(&msg));
        }
        Ok(out)
    }

    /// The addresses of the link named `name`.
    pub async fn addresses_of(&self, name: &str) -> Result<Vec<Address>> {
        let index = self.index_of(name).await?;
        Ok(self
            .addresses()
            .await?
            .into_iter()
            .filter(|a| a.index == index)
            .collect())
    }

    /// Every IPv4 and IPv6 route of every table.
    pub async fn routes(&self) -> Result<Vec<Route>> {
        let mut out = Vec::new();
        for message in [
            RouteMessageBuilder::<std::net::Ipv4Addr>::new().build(),
            RouteMessageBuilder::<std::net::Ipv6Addr>::new().build(),
        ] {
            let mut stream = self.handle.route().get(message).execute();
            while let Some(msg) = stream
                .try_next()
                .await
                .map_err(|e| LinkError::kernel("list routes", e))?
            {
                out.extend(convert::routes(&msg));
            }
        }
        Ok(out)
    }

    /// The routes of `table` leaving through the link named `name`.
    pub async fn routes_of(&self, name: &str, table: u32) -> Result<Vec<Route>> {
        let index = self.index_of(name).await?;
        Ok(self
            .routes()
            .await?
            .into_iter()
            .filter(|r| r.index == Some(index) && r.table == table)
            .collect())
    }

    /// Every IPv4 and IPv6 neighbour entry.
    pub async fn neighbours(&self) -> Result<Vec<Neighbour>> {
        let mut stream = self.handle.neighbours().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| LinkError::kernel("list neighbours", e))?
        {
            out.extend(convert::neighbour(&msg));
        }
        Ok(out)
    }

    /// The neighbour table as the seed's `NetIpMacInfo` list (getIpNeighTable).
    pub async fn ip_neigh_table(&self) -> Result<Vec<netcore::NetIpMacInfo>> {
        let links = self.links().await?;
        let neighbours = self.neighbours().await?;
        Ok(ip_neigh_table(links.iter(), neighbours.iter()))
    }

    /// The traffic counters of the link named `name`.
    pub async fn counters(&self, name: &str) -> Result<LinkCounters> {
        Ok(self.link_by_name(name).await?.counters)
    }

    /// Everything at once, as a [`LinkState`].
    pub async fn snapshot(&self) -> Result<LinkState> {
        let mut state = LinkState::new();
        for link in self.links().await? {
            state.apply(&LinkEvent::LinkChanged(link));
        }
        for address in self.addresses().await? {
            state.apply(&LinkEvent::AddressAdded(address));
        }
        for route in self.routes().await? {
            state.apply(&LinkEvent::RouteAdded(route));
        }
        for neighbour in self.neighbours().await? {
            state.apply(&LinkEvent::NeighbourChanged(neighbour));
        }
        Ok(state)
    }

    /// Every policy routing rule of both families.
    pub async fn rules(&self) -> Result<Vec<Rule>> {
        let mut out = Vec::new();
        for version in [IpVersion::V4, IpVersion::V6] {
            let mut stream = self.handle.rule().get(version).execute();
            while let Some(msg) = stream
                .try_next()
                .await
                .map_err(|e| LinkError::kernel("list rules", e))?
            {
                out.extend(convert::rule(&msg));
            }
        }
        Ok(out)
    }

    /// Adds `address/prefix_len` to the link named `interface`.
    pub async fn add_address(
        &self,
        interface: &str,
        address: IpAddr,
        prefix_len: u8,
    ) -> Result<()> {
        check_prefix(address, prefix_len)?;
        let index = self.index_of(interface).await?;
        self.handle
            .address()
            .add(index, address, prefix_len)
            .execute()
            .await
            .map_err(|e| {
                LinkError::kernel(
                    format!("add address {address}/{prefix_len} on {interface}"),
                    e,
                )
            })
    }

    /// Removes `address/prefix_len` from the link named `interface`.
    pub async fn remove_address(
        &self,
        interface: &str,
        address: IpAddr,
        prefix_len: u8,
    ) -> Result<()> {
        check_prefix(address, prefix_len)?;
        let index = self.index_of(interface).await?;
        let mut add = self.handle.address().add(index, address, prefix_len);
        let message = add.message_mut().clone();
        self.handle
            .address()
            .del(message)
            .execute()
            .await
            .map_err(|e| {
                LinkError::kernel(
                    format!("remove address {address}/{prefix_len} from {interface}"),
                    e,
                )
            })
    }

    async fn route_message(
        &self,
        spec: &RouteSpec,
    ) -> Result<rtnetlink::packet_route::route::RouteMessage> {
        check_prefix(spec.destination, spec.prefix_len)?;
        if let Some(gateway) = spec.gateway
            && gateway.is_ipv4() != spec.destination.is_ipv4()
        {
            return Err(LinkError::InvalidArgument(format!(
                "gateway {gateway} is not of the family of {}",
                spec.destination
            )));
        }
        let index = self.index_of(&spec.interface).await?;
        let mut builder = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(spec.destination, spec.prefix_len)
            .map_err(invalid)?
            .output_interface(index)
            .table_id(spec.table);
        if let Some(gateway) = spec.gateway {
            builder = builder.gateway(gateway).map_err(invalid)?;
        }
        if let Some(metric) = spec.metric {
            builder = builder.priority(metric);
        }
        Ok(builder.build())
    }

    /// Installs a route.
    pub async fn add_route(&self, spec: &RouteSpec) -> Result<()> {
        let message = self.route_message(spec).await?;
        self.handle
            .route()
            .add(message)
            .execute()
            .await
            .map_err(|e| LinkError::kernel(format!("add route {spec:?}"), e))
    }

    /// Installs a route, replacing the one of the same destination, table and metric
    /// if there is one (in one step: no moment without a route).
    pub async fn replace_route(&self, spec: &RouteSpec) -> Result<()> {
        let message = self.route_message(spec).await?;
        self.handle
            .route()
            .add(message)
            .replace()
            .execute()
            .await
            .map_err(|e| LinkError::kernel(format!("replace route {spec:?}"), e))
    }

    /// Removes the route to `destination/prefix_len` of `table`, whatever its
    /// interface (which may be gone).
    pub async fn remove_route_in(
        &self,
        table: u32,
        destination: IpAddr,
        prefix_len: u8,
    ) -> Result<()> {
        check_prefix(destination, prefix_len)?;
        let message = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(destination, prefix_len)
            .map_err(invalid)?
            .table_id(table)
            // Whatever its scope and whoever made it.
            .scope(RouteScope::NoWhere)
            .protocol(RouteProtocol::Unspec)
            .build();
        self.handle
            .route()
            .del(message)
            .execute()
            .await
            .map_err(|e| {
                LinkError::kernel(
                    format!("remove route {destination}/{prefix_len} of table {table}"),
                    e,
                )
            })
    }

    /// Removes a route.
    pub async fn remove_route(&self, spec: &RouteSpec) -> Result<()> {
        let message = self.route_message(spec).await?;
        self.handle
            .route()
            .del(message)
            .execute()
            .await
            .map_err(|e| LinkError::kernel(format!("remove route {spec:?}"), e))
    }

    fn rule_request(&self, rule: &Rule) -> Result<rtnetlink::RuleAddRequest> {
        if let Some((start, end)) = rule.uid_range
            && start > end
        {
            return Err(LinkError::InvalidArgument(format!(
                "uid range {start}..={end} is empty"
            )));
        }
        let mut request = self.handle.rule().add().priority(rule.priority);
        request = if rule.unreachable {
            request.action(RuleAction::Unreachable)
        } else {
            request.table_id(rule.table).action(RuleAction::ToTable)
        };
        if let Some(mark) = rule.fwmark {
            request = request.fw_mark(mark);
        }
        if let Some(name) = &rule.input_interface {
            request = request.input_interface(name.clone());
        }
        if let Some(name) = &rule.output_interface {
            request = request.output_interface(name.clone());
        }
        let message = request.message_mut();
        if let Some(mask) = rule.fwmask {
            message.attributes.push(RuleAttribute::FwMask(mask));
        }
        if let Some(length) = rule.suppress_prefix_length {
            message
                .attributes
                .push(RuleAttribute::SuppressPrefixLen(length));
        }
        message.header.family = match rule.family {
            IpFamily::V4 => AddressFamily::Inet,
            IpFamily::V6 => AddressFamily::Inet6,
        };
        if let Some((start, end)) = rule.uid_range {
            message
                .attributes
                .push(RuleAttribute::UidRange(RuleUidRange { start, end }));
        }
        Ok(request)
    }

    /// Adds a policy routing rule.
    pub async fn add_rule(&self, rule: &Rule) -> Result<()> {
        self.rule_request(rule)?
            .execute()
            .await
            .map_err(|e| LinkError::kernel(format!("add rule {rule:?}"), e))
    }

    /// Removes a policy routing rule.
    pub async fn remove_rule(&self, rule: &Rule) -> Result<()> {
        let message = self.rule_request(rule)?.message_mut().clone();
        self.handle
            .rule()
            .del(message)
            .execute()
            .await
            .map_err(|e| LinkError::kernel(format!("remove rule {rule:?}"), e))
    }

    /// Removes the link with index `index` (a TUN or veth device netcore created).
    pub async fn delete_link(&self, index: u32) -> Result<()> {
        self.handle
            .link()
            .del(index)
            .execute()
            .await
            .map_err(|e| LinkError::kernel(format!("delete link {index}"), e))
    }

    /// Sets the link named `interface` administratively up or down.
    pub async fn set_link_up(&self, interface: &str, up: bool) -> Result<()> {
        let index = self.index_of(interface).await?;
        let builder = LinkUnspec::new_with_index(index);
        let message = if up { builder.up() } else { builder.down() }.build();
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(|e| {
                LinkError::kernel(
                    format!("set {interface} {}", if up { "up" } else { "down" }),
                    e,
                )
            })
    }
}

fn invalid(e: impl std::fmt::Display) -> LinkError {
    LinkError::InvalidArgument(e.to_string())
}

fn check_prefix(address: IpAddr, prefix_len: u8) -> Result<()> {
    let max = if address.is_ipv4() { 32 } else { 128 };
    if prefix_len > max {
        return Err(LinkError::InvalidArgument(format!(
            "prefix length {prefix_len} is more than {max} for {address}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked_per_family() {
        assert!(check_prefix("10.0.0.1".parse().unwrap(), 32).is_ok());
        assert!(check_prefix("10.0.0.1".parse().unwrap(), 33).is_err());
        assert!(check_prefix("fd00::1".parse().unwrap(), 128).is_ok());
        assert!(check_prefix("fd00::1".parse().unwrap(), 129).is_err());
    }
}
