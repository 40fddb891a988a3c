//! The bearer: wpa_supplicant's state per interface plus the kernel's link state,
//! turned into network reports.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::future::{self, FutureExt};
use netcore::{
    ActivationRequest, Bearer, BearerDetails, BearerEvent, Error, NetAddress, NetBearType,
    NetworkInfo, ReportSink, Result,
};
use netcore_link::properties::connection_properties;
use netcore_link::{LinkEvent, LinkState, LinkWatcher};

use crate::config::WifiConfig;
use crate::ctrl::{CtrlSocket, Monitor};
use crate::protocol::{Event, Signal, Status, rssi_to_quality};

/// The Wi-Fi bearer: one network per interface that wpa_supplicant reports
/// connected (`wpa_state=COMPLETED`), keyed by interface name, with the
/// wpa_supplicant network id as identifier.
#[derive(Debug, Clone)]
pub struct WifiBearer {
    config: WifiConfig,
    /// The interfaces the running `run` is attached to, for `activate`.
    attached: Arc<Mutex<Vec<String>>>,
}

/// What wpa_supplicant says of a connected interface.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Connection {
    id: Option<u32>,
    quality: Option<u8>,
    /// SSID, BSSID, frequency, key management, signal.
    details: BearerDetails,
}

/// One interface's wpa_supplicant: a command socket, an attached monitor, and the
/// current connection.
struct Peer {
    interface: String,
    commands: CtrlSocket,
    monitor: Monitor,
    connection: Option<Connection>,
}

impl Peer {
    async fn attach(config: &WifiConfig, interface: &str) -> Result<Self> {
        let path = config.socket_path(interface);
        let monitor = Monitor::connect(&path).await?;
        let commands = CtrlSocket::connect(&path).await?;
        let mut peer = Self {
            interface: interface.to_owned(),
            commands,
            monitor,
            connection: None,
        };
        peer.refresh().await?;
        Ok(peer)
    }

    /// Asks STATUS (and SIGNAL_POLL when connected). A reply that does not parse is
    /// logged and changes nothing; a peer that does not answer is an error.
    async fn refresh(&mut self) -> Result<()> {
        let reply = self.commands.request("STATUS").await?;
        let status = match Status::parse(&reply) {
            Ok(status) => status,
            Err(e) => {
                tracing::warn!(interface = %self.interface, error = %e, "ignoring a STATUS reply");
                return Ok(());
            }
        };
        let connection = if status.is_connected() {
            let rssi_dbm = self.signal().await?;
            Some(Connection {
                id: status.id,
                quality: rssi_dbm.map(rssi_to_quality),
                details: {
                    let mut details = BearerDetails::default();
                    details.ssid = status.ssid;
                    details.bssid = status.bssid;
                    details.frequency_mhz = status.frequency;
                    details.security = status.key_mgmt;
                    details.rssi_dbm = rssi_dbm;
                    details
                },
            })
        } else {
            None
        };
        if connection.as_ref().map(|c| (&c.id, &c.details.ssid))
            != self.connection.as_ref().map(|c| (&c.id, &c.details.ssid))
        {
            match &connection {
                Some(c) => {
                    tracing::info!(interface = %self.interface, ssid = ?c.details.ssid, id = ?c.id, "wifi connected");
                    if c.id.is_none() {
                        tracing::warn!(interface = %self.interface, "wpa_supplicant reports no network id");
                    }
                }
                None => {
                    tracing::info!(interface = %self.interface, state = ?status.state, "wifi not connected")
                }
            }
        }
        self.connection = connection;
        Ok(())
    }

    /// The signal in dBm; `None` when wpa_supplicant has none (`FAIL`) or its reply
    /// does not parse (logged).
    async fn signal(&self) -> Result<Option<i32>> {
        let reply = self.commands.request("SIGNAL_POLL").await?;
        if reply.trim_end() == "FAIL" {
            return Ok(None);
        }
        match Signal::parse(&reply) {
            Ok(signal) => Ok(Some(signal.rssi_dbm)),
            Err(e) => {
                tracing::warn!(interface = %self.interface, error = %e, "ignoring a SIGNAL_POLL reply");
                Ok(None)
            }
        }
    }

    /// PING, and a fresh signal when connected.
    async fn check(&mut self) -> Result<()> {
        self.commands.ping().await?;
        if self.connection.is_some() {
            let rssi_dbm = self.signal().await?;
            if let Some(c) = &mut self.connection {
                c.quality = rssi_dbm.map(rssi_to_quality);
                c.details.rssi_dbm = rssi_dbm;
            }
        }
        Ok(())
    }
}

/// What woke the bearer up.
enum Step {
    Link(std::result::Result<LinkEvent, netcore_link::LinkError>),
    Peer(usize, Result<Event>),
    Tick,
}

impl WifiBearer {
    /// A bearer with `config`, checked first: a bad configuration is
    /// [`Error::InvalidValue`].
    pub fn new(config: WifiConfig) -> Result<Self> {
        config.check()?;
        Ok(Self {
            config,
            attached: Arc::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &WifiConfig {
        &self.config
    }

    /// The interfaces to attach to: the configured ones, else the kernel's wireless
    /// interfaces.
    fn interfaces(&self, state: &LinkState) -> BTreeSet<String> {
        if self.config.interfaces.is_empty() {
            state
                .links()
                .filter(|l| l.wireless)
                .map(|l| l.name.clone())
                .collect()
        } else {
            self.config.interfaces.iter().cloned().collect()
        }
    }

    /// The network of every connected interface that the kernel knows.
    fn networks(&self, state: &LinkState, peers: &[Peer]) -> BTreeMap<String, NetworkInfo> {
        peers
            .iter()
            .filter_map(|peer| {
                let connection = peer.connection.as_ref()?;
                let Some(link) = state.link_by_name(&peer.interface) else {
                    tracing::debug!(interface = %peer.interface, "connected, but the kernel has no such interface");
                    return None;
                };
                let mut info = NetworkInfo::new(NetBearType::Wifi, &peer.interface)
                    .metered(self.config.metered);
                info.identifier = connection.id.map(|id| id.to_string());
                info.quality = connection.quality;
                info.details = connection.details.clone();
                info.properties = connection_properties(link, state);
                info.properties.dnses = self.config.dns.iter().map(|ip| NetAddress::from(*ip)).collect();
                Some((peer.interface.clone(), info))
            })
            .collect()
    }

    /// Follows the kernel and the peers, keeping `reported` up to date, until a peer
    /// or the kernel fails.
    async fn follow(
        &self,
        watcher: &mut LinkWatcher,
        peers: &mut [Peer],
        interfaces: &BTreeSet<String>,
        sink: &ReportSink,
        reported: &mut BTreeMap<String, NetworkInfo>,
    ) -> Result<()> {
        let mut ticks = tokio::time::interval(self.config.ping_interval());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            let current = self.networks(watcher.state(), peers);
            for event in netcore::bearer::diff_reports(reported, &current) {
                tracing::debug!(?event, "wifi report");
                sink.report(event);
            }
            *reported = current;

            let step = {
                let events = async {
                    if peers.is_empty() {
                        future::pending().await
                    } else {
                        let (event, index, _) = future::select_all(
                            peers.iter_mut().map(|p| p.monitor.next_event().boxed()),
                        )
                        .await;
                        (index, event)
                    }
                };
                tokio::select! {
                    event = watcher.next_event() => Step::Link(event),
                    (index, event) = events => Step::Peer(index, event),
                    _ = ticks.tick() => Step::Tick,
                }
            };
            match step {
                Step::Link(event) => {
                    event.inspect_err(
                        |e| tracing::warn!(error = %e, "wifi bearer lost the kernel"),
                    )?;
                    if self.config.interfaces.is_empty()
                        && self.interfaces(watcher.state()) != *interfaces
                    {
                        return Err(Error::Service(
                            "the wireless interfaces changed; attaching again".into(),
                        ));
                    }
                }
                Step::Peer(index, event) => {
                    let Some(peer) = peers.get_mut(index) else {
                        continue;
                    };
                    match event? {
                        Event::Terminating => {
                            return Err(Error::Service(format!(
                                "wpa_supplicant of {} is terminating",
                                peer.interface
                            )));
                        }
                        event => {
                            tracing::debug!(interface = %peer.interface, ?event, "wpa_supplicant event");
                            peer.refresh().await?;
                        }
                    }
                }
                Step::Tick => {
                    for peer in peers.iter_mut() {
                        peer.check().await?;
                    }
                }
            }
        }
    }

    /// The interfaces that activation and release talk to: those the running bearer
    /// is attached to, else the configured ones.
    fn target_interfaces(&self) -> Vec<String> {
        let attached = self.attached.lock().map(|a| a.clone()).unwrap_or_default();
        if attached.is_empty() {
            self.config.interfaces.clone()
        } else {
            attached
        }
    }
}

#[async_trait]
impl Bearer for WifiBearer {
    fn bearer_type(&self) -> NetBearType {
        NetBearType::Wifi
    }

    fn name(&self) -> &str {
        "wifi"
    }

    /// Attaches to wpa_supplicant on every interface and reports its connected
    /// networks until wpa_supplicant goes away (socket gone, `CTRL-EVENT-TERMINATING`,
    /// no answer to PING): then every reported network is reported `Gone` and the
    /// error ([`Error::Service`]) returned, for the host to run the bearer again.
    async fn run(&self, sink: ReportSink) -> Result<()> {
        let mut watcher = LinkWatcher::start().await?;
        let interfaces = self.interfaces(watcher.state());
        let mut peers = Vec::new();
        for interface in &interfaces {
            peers.push(Peer::attach(&self.config, interface).await.inspect_err(
                |e| tracing::debug!(%interface, error = %e, "cannot attach to wpa_supplicant"),
            )?);
        }
        tracing::info!(?interfaces, "wifi bearer attached");
        if let Ok(mut attached) = self.attached.lock() {
            *attached = interfaces.iter().cloned().collect();
        }
        let mut reported = BTreeMap::new();
        let result = self
            .follow(&mut watcher, &mut peers, &interfaces, &sink, &mut reported)
            .await;
        if let Err(e) = &result {
            tracing::warn!(error = %e, "wifi bearer stops");
        }
        for key in reported.into_keys() {
            sink.report(BearerEvent::Gone { key });
        }
        if let Ok(mut attached) = self.attached.lock() {
            attached.clear();
        }
        result
    }

    /// Connects the network whose wpa_supplicant id is `request.identifier`
    /// (`SELECT_NETWORK`), on the first interface that has it; without an
    /// identifier, `RECONNECT`s every interface. An identifier that is not a number
    /// or that no interface knows is [`Error::InvalidValue`]; an unreachable
    /// wpa_supplicant is [`Error::Service`].
    async fn activate(&self, request: ActivationRequest) -> Result<()> {
        let interfaces = self.target_interfaces();
        if interfaces.is_empty() {
            return Err(Error::Service(
                "wifi: no wpa_supplicant interface to activate a network on".into(),
            ));
        }
        let Some(identifier) = request.identifier else {
            for interface in &interfaces {
                CtrlSocket::connect(self.config.socket_path(interface))
                    .await?
                    .reconnect()
                    .await?;
            }
            return Ok(());
        };
        let id: u32 = identifier.parse().map_err(|_| {
            Error::invalid(format!(
                "wifi network id {:?} is not a wpa_supplicant network id (a number)",
                crate::protocol::clip(&identifier)
            ))
        })?;
        for interface in &interfaces {
            let socket = CtrlSocket::connect(self.config.socket_path(interface)).await?;
            if socket.list_networks().await?.iter().any(|n| n.id == id) {
                tracing::info!(%interface, id, "selecting wifi network");
                return socket.select_network(id).await;
            }
        }
        Err(Error::invalid(format!(
            "wifi network id {id} is unknown to wpa_supplicant on {}",
            interfaces.join(", ")
        )))
    }

    /// Does nothing (Wi-Fi stays connected), unless `release_disconnects` is set:
    /// then the interface `key` is disconnected (`DISCONNECT`).
    async fn release(&self, key: &str) -> Result<()> {
        if !self.config.release_disconnects {
            return Ok(());
        }
        if !self.target_interfaces().iter().any(|i| i == key) {
            return Err(Error::invalid(format!(
                "wifi: no network {:?} to release",
                crate::protocol::clip(key)
            )));
        }
        CtrlSocket::connect(self.config.socket_path(key))
            .await?
            .disconnect()
            .await
    }
}
