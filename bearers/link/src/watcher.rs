//! Following the kernel: multicast subscriptions, an initial dump, then events.

use std::collections::VecDeque;
use std::time::Instant;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use rtnetlink::MulticastGroup;
use rtnetlink::packet_core::NetlinkMessage;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::{AsyncSocket, SocketAddr};

use crate::client::{AbortOnDrop, LinkClient};
use crate::convert;
use crate::error::{LinkError, Result};
use crate::state::LinkState;
use crate::sysfs::SysfsNet;
use crate::types::LinkEvent;

/// The kernel's multicast groups the watcher joins.
const GROUPS: &[MulticastGroup] = &[
    MulticastGroup::Link,
    MulticastGroup::Ipv4Ifaddr,
    MulticastGroup::Ipv6Ifaddr,
    MulticastGroup::Ipv4Route,
    MulticastGroup::Ipv6Route,
    MulticastGroup::Neigh,
];

/// The socket receive buffer asked for, so that bursts of events (many routes at
/// once) are not dropped by the kernel.
const RECEIVE_BUFFER: usize = 4 << 20;

/// Watches links, addresses, routes and neighbours of the thread's network
/// namespace through the kernel's multicast groups (no polling).
///
/// [`LinkWatcher::start`] joins the groups first and then dumps the current state, so
/// no change is lost between the two; [`LinkWatcher::next_event`] returns each change
/// after applying it to [`LinkWatcher::state`].
#[derive(Debug)]
pub struct LinkWatcher {
    client: LinkClient,
    messages: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
    pending: VecDeque<LinkEvent>,
    last_receive: Option<Instant>,
    state: LinkState,
    sysfs: SysfsNet,
}

impl LinkWatcher {
    /// Starts watching, with sysfs at `/sys/class/net`. Must be called inside a
    /// tokio runtime.
    pub async fn start() -> Result<Self> {
        Self::start_with(SysfsNet::default()).await
    }

    /// Starts watching, reading sysfs facts from `sysfs`.
    pub async fn start_with(sysfs: SysfsNet) -> Result<Self> {
        let (mut connection, handle, messages) = rtnetlink::new_multicast_connection(GROUPS)
            .map_err(|e| LinkError::Socket(format!("joining the multicast groups: {e}")))?;
        if let Err(e) = connection
            .socket_mut()
            .socket_mut()
            .set_rx_buf_sz(RECEIVE_BUFFER)
        {
            tracing::warn!(error = %e, "cannot enlarge the netlink receive buffer");
        }
        let task = AbortOnDrop(tokio::spawn(connection));
        let client = LinkClient::from_parts(handle, sysfs.clone(), task);
        let state = client.snapshot().await?;
        tracing::debug!(links = state.links().count(), "link watcher started");
        Ok(Self {
            client,
            messages,
            pending: VecDeque::new(),
            last_receive: None,
            state,
            sysfs,
        })
    }

    /// The state as of the last event returned (or the initial dump).
    pub fn state(&self) -> &LinkState {
        &self.state
    }

    /// The connection's client, for queries and programming on the same socket.
    pub fn client(&self) -> &LinkClient {
        &self.client
    }

    /// When the message of the last returned event was taken from the socket.
    pub fn last_receive_time(&self) -> Option<Instant> {
        self.last_receive
    }

    /// The next change, already applied to [`LinkWatcher::state`]. Returns
    /// [`LinkError::SocketClosed`] when the socket stopped; the watcher is then
    /// useless and a new one must be started.
    pub async fn next_event(&mut self) -> Result<LinkEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.state.apply(&event);
                return Ok(event);
            }
            let Some((message, _)) = self.messages.next().await else {
                tracing::warn!("the rtnetlink multicast socket closed");
                return Err(LinkError::SocketClosed);
            };
            self.last_receive = Some(Instant::now());
            self.pending.extend(convert::events(message, &self.sysfs));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads this namespace's links (changes nothing) and checks that a dead socket
    /// ends the event stream with an error rather than a hang.
    #[tokio::test(flavor = "current_thread")]
    async fn a_dead_socket_is_an_error() {
        let mut watcher = LinkWatcher::start().await.unwrap();
        assert!(
            watcher.state().links().any(|l| l.loopback),
            "no loopback in the dump"
        );
        watcher.client().abort_connection();
        // Events already queued (the host's neighbours) may come first.
        let drain = async {
            loop {
                if let Err(e) = watcher.next_event().await {
                    return e;
                }
            }
        };
        let error = tokio::time::timeout(std::time::Duration::from_secs(5), drain)
            .await
            .expect("next_event hung on a dead socket");
        assert_eq!(error, LinkError::SocketClosed);
    }
}
