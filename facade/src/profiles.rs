//! The second platform's connection API (seed 004): a connection handle with the
//! default connection's type, addresses and proxy, the Wi-Fi, cellular and Bluetooth
//! states, data statistics, change callbacks, and connection profiles (one per
//! network).
//!
//! | seed | here |
//! |---|---|
//! | `connection_create()` / `connection_destroy()` | [`Connection::new`] / drop |
//! | `connection_get_type()` | [`Connection::connection_type`] |
//! | `connection_get_ip_address()` / `connection_get_proxy()` | [`Connection::ip_address`] / [`Connection::proxy`] |
//! | `connection_get_{wifi,cellular,bt}_state()` | [`Connection::wifi_state`], [`Connection::cellular_state`], [`Connection::bt_state`] |
//! | `connection_get_statistics()` / `connection_reset_statistics()` | [`Connection::statistics`] / [`Connection::reset_statistics`] |
//! | `connection_set_type_changed_cb()` and the IP and proxy ones, `unset` | [`Connection::on_type_changed`], [`Connection::on_ip_address_changed`], [`Connection::on_proxy_address_changed`], `None` unsets |
//! | `connection_get_current_profile()`, `connection_get_profile_iterator()`, `connection_get_default_cellular_service_profile()` | [`Connection::current_profile`], [`Connection::profiles`], [`Connection::default_cellular_service_profile`] |
//! | `connection_profile_get_*()` / `connection_profile_refresh()` | [`Profile`]'s fields / [`Connection::refresh_profile`] |
//! | `connection_profile_get_wifi_{essid,bssid,frequency,security_type,rssi}()`, `connection_profile_get_cellular_apn()` | [`Profile::details`] |
//! | `connection_open_profile()` / `connection_close_profile()` | [`Connection::open_profile`] / [`Connection::close_profile`] |
//! | `connection_profile_get_network_interface_name()` + binding a socket to it | [`Profile::interface_name`] / [`Profile::bind_socket`] |
//!
//! Statistics count the bytes of the networks' interfaces (`/sys/class/net`), per
//! connection type: "last" is the current (or most recent) session of that type,
//! "total" every session since the last reset. They are kept by this handle from its
//! creation on.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use netcore::engine::{NetEvent, NetworkSnapshot};
use netcore::{BearerDetails, Error, NetBearType, NetCap, NetHandle, NetSpecifier, Result};
use tokio::task::JoinHandle;

use crate::{NetConnection, NetManager};

/// How often statistics are sampled, besides at each event: a network's last bytes
/// are counted even when its interface goes with it.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

macro_rules! values {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl $name {
            /// The seed's number for this value.
            pub fn value(self) -> i32 {
                self as i32
            }
        }
    };
}

values! {
    /// The type of the default connection (seed `connection_type_e`).
    ConnectionType {
        /// No default connection.
        Disconnected = 0,
        /// Wi-Fi.
        Wifi = 1,
        /// Cellular.
        Cellular = 2,
        /// Ethernet.
        Ethernet = 3,
        /// Bluetooth tethering.
        Bt = 4,
        /// A proxy connection.
        NetProxy = 5,
    }
}

values! {
    /// The Wi-Fi state (seed `connection_wifi_state_e`).
    WifiState {
        /// No Wi-Fi bearer runs.
        Deactivated = 0,
        /// Wi-Fi runs but has no network.
        Disconnected = 1,
        /// A Wi-Fi network is up.
        Connected = 2,
    }
}

values! {
    /// The cellular state (seed `connection_cellular_state_e`).
    CellularState {
        /// No cellular bearer runs.
        OutOfService = 0,
        /// Flight mode.
        FlightMode = 1,
        /// Roaming is off.
        RoamingOff = 2,
        /// Calls only.
        CallOnlyAvailable = 3,
        /// Cellular runs but has no data connection.
        Available = 4,
        /// A cellular data connection is up.
        Connected = 5,
    }
}

values! {
    /// The Bluetooth tethering state (seed `connection_bt_state_e`).
    BtState {
        /// No Bluetooth bearer runs.
        Deactivated = 0,
        /// Bluetooth runs but has no tethered network.
        Disconnected = 1,
        /// A tethered network is up.
        Connected = 2,
    }
}

values! {
    /// An address family (seed `connection_address_family_e`).
    AddressFamily {
        /// IPv4.
        Ipv4 = 0,
        /// IPv6.
        Ipv6 = 1,
    }
}

values! {
    /// Which statistic (seed `connection_statistics_type_e`).
    StatisticsType {
        /// ByteCounts received in the current or last session.
        LastReceivedData = 0,
        /// ByteCounts sent in the current or last session.
        LastSentData = 1,
        /// ByteCounts received since the last reset.
        TotalReceivedData = 2,
        /// ByteCounts sent since the last reset.
        TotalSentData = 3,
    }
}

values! {
    /// A cellular service (seed `connection_cellular_service_type_e`).
    CellularServiceType {
        /// Unknown.
        Unknown = 0,
        /// Internet.
        Internet = 1,
        /// MMS.
        Mms = 2,
        /// Prepaid internet.
        PrepaidInternet = 3,
        /// Prepaid MMS.
        PrepaidMms = 4,
        /// Tethering.
        Tethering = 5,
        /// An application's own service.
        Application = 6,
    }
}

values! {
    /// The type of a profile (seed `connection_profile_type_e`).
    ProfileType {
        /// Cellular.
        Cellular = 0,
        /// Wi-Fi.
        Wifi = 1,
        /// Ethernet.
        Ethernet = 2,
        /// Bluetooth tethering.
        Bt = 3,
    }
}

values! {
    /// The state of a profile (seed `connection_profile_state_e`).
    ProfileState {
        /// Not connected.
        Disconnected = 0,
        /// Associating.
        Association = 1,
        /// Getting its configuration.
        Configuration = 2,
        /// Connected.
        Connected = 3,
    }
}

/// A connection profile (seed `connection_profile_h`): what one network was when the
/// profile was read. [`Connection::refresh_profile`] reads it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The network (the profile's id).
    pub net: NetHandle,
    /// A name: the bearer's identifier of the network (e.g. `slot0`, a Wi-Fi network
    /// id), else the interface name.
    pub name: String,
    /// The bearer's identifier of the network (the seed's `bearerPrivateIdentifier`).
    pub identifier: Option<String>,
    /// The profile type.
    pub profile_type: ProfileType,
    /// Connected while the network exists, disconnected once it went.
    pub state: ProfileState,
    /// The network interface, to bind sockets to.
    pub interface_name: String,
    /// The first IPv4 address, if any.
    pub ipv4_address: Option<Ipv4Addr>,
    /// The first IPv6 address, if any.
    pub ipv6_address: Option<Ipv6Addr>,
    /// Whether this is the default connection's profile.
    pub is_default: bool,
    /// The link quality in percent, when known (Wi-Fi and cellular signal).
    pub quality: Option<u8>,
    /// What the Wi-Fi profile API reads (ESSID, BSSID, frequency, security, RSSI)
    /// and the cellular one (APN), when the bearer knows it.
    pub details: BearerDetails,
}

impl Profile {
    /// The address of `family`; the unspecified address (`0.0.0.0`, `::`) if there is
    /// none, as the seed's examples expect.
    pub fn ip_address(&self, family: AddressFamily) -> IpAddr {
        match family {
            AddressFamily::Ipv4 => self.ipv4_address.unwrap_or(Ipv4Addr::UNSPECIFIED).into(),
            AddressFamily::Ipv6 => self.ipv6_address.unwrap_or(Ipv6Addr::UNSPECIFIED).into(),
        }
    }

    /// Binds `socket` to the profile's interface, so its traffic goes through this
    /// network (what the seed does with `CURLOPT_INTERFACE`): sockets of the socket
    /// API, std and tokio sockets. Errors as [`netcore_socket::BindToInterface`]'s.
    pub fn bind_socket(&self, socket: &dyn netcore_socket::BindToInterface) -> Result<()> {
        socket.bind_to_interface(&self.interface_name)
    }

    fn of(snapshot: &NetworkSnapshot) -> Option<Self> {
        let profile_type = match snapshot.capabilities.bearer_types.first()? {
            NetBearType::Cellular => ProfileType::Cellular,
            NetBearType::Wifi => ProfileType::Wifi,
            NetBearType::Ethernet => ProfileType::Ethernet,
            NetBearType::Bluetooth => ProfileType::Bt,
            // A VPN is not a profile of this API.
            _ => return None,
        };
        let properties = &snapshot.properties;
        let first = |v6: bool| {
            properties
                .link_addresses
                .iter()
                .map(|a| a.address().ip())
                .find(|ip| ip.is_ipv6() == v6)
        };
        Some(Self {
            net: snapshot.handle,
            name: snapshot
                .identifier
                .clone()
                .unwrap_or_else(|| properties.interface_name.clone()),
            identifier: snapshot.identifier.clone(),
            profile_type,
            state: ProfileState::Connected,
            interface_name: properties.interface_name.clone(),
            ipv4_address: first(false).and_then(|ip| match ip {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            }),
            ipv6_address: first(true).and_then(|ip| match ip {
                IpAddr::V6(v6) => Some(v6),
                IpAddr::V4(_) => None,
            }),
            is_default: snapshot.is_default,
            quality: snapshot.quality,
            details: snapshot.details.clone(),
        })
    }

    fn bearer(&self) -> NetBearType {
        match self.profile_type {
            ProfileType::Cellular => NetBearType::Cellular,
            ProfileType::Wifi => NetBearType::Wifi,
            ProfileType::Ethernet => NetBearType::Ethernet,
            ProfileType::Bt => NetBearType::Bluetooth,
        }
    }

    /// What opening the profile asks for: its bearer, and its identifier if it has
    /// one.
    fn specifier(&self) -> NetSpecifier {
        let spec = NetSpecifier::new(&[self.bearer()], &[]);
        match &self.identifier {
            Some(id) => spec.with_identifier(id.clone()),
            None => spec,
        }
    }

    fn connection_type(&self) -> ConnectionType {
        match self.profile_type {
            ProfileType::Cellular => ConnectionType::Cellular,
            ProfileType::Wifi => ConnectionType::Wifi,
            ProfileType::Ethernet => ConnectionType::Ethernet,
            ProfileType::Bt => ConnectionType::Bt,
        }
    }
}

type TypeCallback = Arc<dyn Fn(ConnectionType) + Send + Sync>;
type AddressCallback = Arc<dyn Fn(Option<Ipv4Addr>, Option<Ipv6Addr>) + Send + Sync>;
type ProxyCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// ByteCounts received and sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ByteCounts {
    received: u64,
    sent: u64,
}

impl ByteCounts {
    fn since(self, start: ByteCounts) -> ByteCounts {
        ByteCounts {
            received: self.received.saturating_sub(start.received),
            sent: self.sent.saturating_sub(start.sent),
        }
    }

    fn plus(self, other: ByteCounts) -> ByteCounts {
        ByteCounts {
            received: self.received.saturating_add(other.received),
            sent: self.sent.saturating_add(other.sent),
        }
    }

    fn get(self, received: bool) -> u64 {
        if received { self.received } else { self.sent }
    }

    fn clear(&mut self, received: bool) {
        if received {
            self.received = 0;
        } else {
            self.sent = 0;
        }
    }

    /// The interface's counters; zero for an interface this host does not have.
    fn of_interface(name: &str) -> ByteCounts {
        let read = |what: &str| {
            std::fs::read_to_string(format!("/sys/class/net/{name}/statistics/{what}"))
                .ok()
                .and_then(|text| text.trim().parse().ok())
        };
        match (read("rx_bytes"), read("tx_bytes")) {
            (Some(received), Some(sent)) if !name.is_empty() && !name.contains('/') => {
                ByteCounts { received, sent }
            }
            _ => ByteCounts::default(),
        }
    }
}

/// One network's time up, for statistics.
struct Session {
    connection_type: ConnectionType,
    interface: String,
    /// The counters when "last" starts (the session start, or its last reset).
    last_from: ByteCounts,
    /// The counters when "total" starts for this session.
    total_from: ByteCounts,
    latest: ByteCounts,
}

#[derive(Default)]
struct Statistics {
    sessions: HashMap<NetHandle, Session>,
    /// Per type: the most recent ended session's bytes.
    last_ended: HashMap<ConnectionType, ByteCounts>,
    /// Per type: the bytes of the sessions ended since the last reset.
    total_ended: HashMap<ConnectionType, ByteCounts>,
}

impl Statistics {
    /// Reads the counters of every live session, starts sessions for new networks and
    /// ends those of networks that went.
    fn update(&mut self, profiles: &[Profile]) {
        for session in self.sessions.values_mut() {
            let now = ByteCounts::of_interface(&session.interface);
            // An interface that went reads as zero: keep what was last seen.
            if now != ByteCounts::default() {
                session.latest = now;
            }
        }
        let live: Vec<NetHandle> = profiles.iter().map(|p| p.net).collect();
        let ended: Vec<NetHandle> = self
            .sessions
            .keys()
            .filter(|net| !live.contains(net))
            .copied()
            .collect();
        for net in ended {
            if let Some(session) = self.sessions.remove(&net) {
                let ty = session.connection_type;
                self.last_ended
                    .insert(ty, session.latest.since(session.last_from));
                let total = self.total_ended.entry(ty).or_default();
                *total = total.plus(session.latest.since(session.total_from));
            }
        }
        for profile in profiles {
            self.sessions.entry(profile.net).or_insert_with(|| {
                let now = ByteCounts::of_interface(&profile.interface_name);
                Session {
                    connection_type: profile.connection_type(),
                    interface: profile.interface_name.clone(),
                    last_from: now,
                    total_from: now,
                    latest: now,
                }
            });
        }
    }

    fn live(&self, ty: ConnectionType) -> impl Iterator<Item = &Session> {
        self.sessions
            .values()
            .filter(move |s| s.connection_type == ty)
    }

    fn get(&self, ty: ConnectionType, which: StatisticsType) -> u64 {
        let received = matches!(
            which,
            StatisticsType::LastReceivedData | StatisticsType::TotalReceivedData
        );
        match which {
            StatisticsType::LastReceivedData | StatisticsType::LastSentData => {
                let mut live = self.live(ty).peekable();
                if live.peek().is_some() {
                    live.map(|s| s.latest.since(s.last_from).get(received))
                        .sum()
                } else {
                    self.last_ended
                        .get(&ty)
                        .copied()
                        .unwrap_or_default()
                        .get(received)
                }
            }
            StatisticsType::TotalReceivedData | StatisticsType::TotalSentData => {
                let ended = self.total_ended.get(&ty).copied().unwrap_or_default();
                self.live(ty)
                    .fold(ended, |sum, s| sum.plus(s.latest.since(s.total_from)))
                    .get(received)
            }
        }
    }

    fn reset(&mut self, ty: ConnectionType, which: StatisticsType) {
        let received = matches!(
            which,
            StatisticsType::LastReceivedData | StatisticsType::TotalReceivedData
        );
        let last = matches!(
            which,
            StatisticsType::LastReceivedData | StatisticsType::LastSentData
        );
        let ended = if last {
            &mut self.last_ended
        } else {
            &mut self.total_ended
        };
        ended.entry(ty).or_default().clear(received);
        for session in self
            .sessions
            .values_mut()
            .filter(|s| s.connection_type == ty)
        {
            let from = if last {
                &mut session.last_from
            } else {
                &mut session.total_from
            };
            if received {
                from.received = session.latest.received;
            } else {
                from.sent = session.latest.sent;
            }
        }
    }
}

/// What the callbacks compare, to call them only on a change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Seen {
    connection_type: Option<ConnectionType>,
    addresses: Option<(Option<Ipv4Addr>, Option<Ipv6Addr>)>,
    proxy: Option<String>,
}

#[derive(Default)]
struct Callbacks {
    type_changed: Option<TypeCallback>,
    ip_changed: Option<AddressCallback>,
    proxy_changed: Option<ProxyCallback>,
}

struct State {
    statistics: Statistics,
    callbacks: Callbacks,
    seen: Seen,
}

struct Inner {
    manager: NetManager,
    state: Mutex<State>,
    /// The requests of the open profiles, by what they ask for.
    open: Mutex<HashMap<(ProfileType, Option<String>), NetConnection>>,
    /// The networks as last read: read again at every change of any of them.
    networks: Mutex<Vec<NetworkSnapshot>>,
    /// The types of the bearers that run.
    bearer_types: Vec<NetBearType>,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn networks(&self) -> MutexGuard<'_, Vec<NetworkSnapshot>> {
        self.networks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn profiles(&self) -> Vec<Profile> {
        self.networks().iter().filter_map(Profile::of).collect()
    }

    /// Reads the networks again, samples statistics and calls the callbacks whose
    /// value changed.
    async fn update(&self) {
        match self.manager.snapshots().await {
            Ok(networks) => *self.networks() = networks,
            Err(e) => tracing::debug!("the networks could not be read: {e}"),
        }
        let profiles = self.profiles();
        let proxy = proxy_text(&self.manager).await;
        let default = profiles.iter().find(|p| p.is_default);
        let now = Seen {
            connection_type: Some(
                default.map_or(ConnectionType::Disconnected, |p| p.connection_type()),
            ),
            addresses: Some(default.map_or((None, None), |p| (p.ipv4_address, p.ipv6_address))),
            proxy: Some(proxy),
        };
        let mut calls: Vec<Box<dyn FnOnce() + Send>> = Vec::new();
        {
            let mut state = self.state();
            state.statistics.update(&profiles);
            let before = std::mem::replace(&mut state.seen, now.clone());
            let callbacks = &state.callbacks;
            if before.connection_type != now.connection_type
                && let (Some(f), Some(ty)) = (&callbacks.type_changed, now.connection_type)
            {
                let f = Arc::clone(f);
                calls.push(Box::new(move || f(ty)));
            }
            if before.addresses != now.addresses
                && let (Some(f), Some((v4, v6))) = (&callbacks.ip_changed, now.addresses)
            {
                let f = Arc::clone(f);
                calls.push(Box::new(move || f(v4, v6)));
            }
            if before.proxy != now.proxy
                && let (Some(f), Some(proxy)) = (&callbacks.proxy_changed, now.proxy)
            {
                let f = Arc::clone(f);
                calls.push(Box::new(move || f(&proxy)));
            }
        }
        // Outside the lock, so a callback may use the handle.
        for call in calls {
            call();
        }
    }
}

/// The default proxy as `host:port`, or empty.
async fn proxy_text(manager: &NetManager) -> String {
    match manager.get_default_http_proxy().await {
        Ok(Some(proxy)) if !proxy.host.is_empty() => format!("{}:{}", proxy.host, proxy.port),
        _ => String::new(),
    }
}

/// A connection handle (seed `connection_h`). Dropping it is `connection_destroy()`.
pub struct Connection {
    inner: Arc<Inner>,
    watcher: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl Connection {
    /// `connection_create()`: a handle on `manager`'s networks. Needs a tokio runtime.
    /// Errors: those of [`NetManager::watch`] (through netcored: 201 without
    /// GET_NETWORK_INFO, 2100002 when it cannot be reached).
    pub async fn new(manager: &NetManager) -> Result<Self> {
        let inner = Arc::new(Inner {
            manager: manager.clone(),
            state: Mutex::new(State {
                statistics: Statistics::default(),
                callbacks: Callbacks::default(),
                seen: Seen::default(),
            }),
            open: Mutex::default(),
            networks: Mutex::default(),
            bearer_types: manager.bearer_types().await?,
        });
        let mut watch = manager.watch().await?;
        let mut proxy_changes = manager.proxy_changes();
        inner.update().await;
        let watcher = tokio::spawn({
            let inner = Arc::clone(&inner);
            async move {
                let mut tick = tokio::time::interval(SAMPLE_EVERY);
                loop {
                    tokio::select! {
                        event = watch.events.recv() => {
                            if event.is_none() {
                                return;
                            }
                            // Several events for one change: look once for all of them.
                            while watch.events.try_recv().is_some() {}
                        }
                        changed = proxy_changes.changed() => {
                            if changed.is_err() {
                                return;
                            }
                        }
                        _ = tick.tick() => {}
                    }
                    inner.update().await;
                }
            }
        });
        Ok(Self { inner, watcher })
    }

    fn default_profile(&self) -> Option<Profile> {
        self.inner.profiles().into_iter().find(|p| p.is_default)
    }

    /// `connection_get_type()`: the default connection's type.
    pub fn connection_type(&self) -> ConnectionType {
        self.default_profile()
            .map_or(ConnectionType::Disconnected, |p| p.connection_type())
    }

    /// `connection_get_ip_address()`: the default connection's address of `family`
    /// (unspecified if it has none). Without a default connection: 2100003.
    pub fn ip_address(&self, family: AddressFamily) -> Result<IpAddr> {
        let profile = self.default_profile().ok_or_else(no_connection)?;
        Ok(profile.ip_address(family))
    }

    /// `connection_get_proxy()`: the default proxy as `host:port`, empty if none. The
    /// proxy does not depend on the family.
    pub async fn proxy(&self, _family: AddressFamily) -> Result<String> {
        Ok(proxy_text(&self.inner.manager).await)
    }

    fn has_bearer(&self, bearer: NetBearType) -> bool {
        self.inner.bearer_types.contains(&bearer)
    }

    fn has_network(&self, ty: ProfileType) -> bool {
        self.inner.profiles().iter().any(|p| p.profile_type == ty)
    }

    /// `connection_get_wifi_state()`.
    pub fn wifi_state(&self) -> WifiState {
        if self.has_network(ProfileType::Wifi) {
            WifiState::Connected
        } else if self.has_bearer(NetBearType::Wifi) {
            WifiState::Disconnected
        } else {
            WifiState::Deactivated
        }
    }

    /// `connection_get_cellular_state()`. Flight mode, roaming and call-only are not
    /// told apart from "available" by the cellular bearer yet.
    pub fn cellular_state(&self) -> CellularState {
        if self.has_network(ProfileType::Cellular) {
            CellularState::Connected
        } else if self.has_bearer(NetBearType::Cellular) {
            CellularState::Available
        } else {
            CellularState::OutOfService
        }
    }

    /// `connection_get_bt_state()`.
    pub fn bt_state(&self) -> BtState {
        if self.has_network(ProfileType::Bt) {
            BtState::Connected
        } else if self.has_bearer(NetBearType::Bluetooth) {
            BtState::Disconnected
        } else {
            BtState::Deactivated
        }
    }

    /// `connection_get_statistics()`: bytes of Wi-Fi or cellular (other types are
    /// 2100001, as statistics exist for these two only).
    pub async fn statistics(&self, ty: ConnectionType, which: StatisticsType) -> Result<u64> {
        check_statistics_type(ty)?;
        let profiles = self.inner.profiles();
        let mut state = self.inner.state();
        state.statistics.update(&profiles);
        Ok(state.statistics.get(ty, which))
    }

    /// `connection_reset_statistics()`: the statistic starts again from zero.
    pub async fn reset_statistics(&self, ty: ConnectionType, which: StatisticsType) -> Result<()> {
        check_statistics_type(ty)?;
        let profiles = self.inner.profiles();
        let mut state = self.inner.state();
        state.statistics.update(&profiles);
        state.statistics.reset(ty, which);
        Ok(())
    }

    /// `connection_set_type_changed_cb()` (`None`: `unset`): called with the new type
    /// when the default connection's type changes.
    pub fn on_type_changed(
        &self,
        callback: Option<impl Fn(ConnectionType) + Send + Sync + 'static>,
    ) {
        self.inner.state().callbacks.type_changed = callback.map(|f| Arc::new(f) as TypeCallback);
    }

    /// `connection_set_ip_address_changed_cb()` (`None`: `unset`): called with the
    /// default connection's IPv4 and IPv6 addresses when they change.
    pub fn on_ip_address_changed(
        &self,
        callback: Option<impl Fn(Option<Ipv4Addr>, Option<Ipv6Addr>) + Send + Sync + 'static>,
    ) {
        self.inner.state().callbacks.ip_changed = callback.map(|f| Arc::new(f) as AddressCallback);
    }

    /// `connection_set_proxy_address_changed_cb()` (`None`: `unset`): called with the
    /// new proxy (`host:port`, empty for none) when it changes.
    pub fn on_proxy_address_changed(
        &self,
        callback: Option<impl Fn(&str) + Send + Sync + 'static>,
    ) {
        self.inner.state().callbacks.proxy_changed = callback.map(|f| Arc::new(f) as ProxyCallback);
    }

    /// `connection_get_current_profile()`: the default connection's profile. Without
    /// a default connection: 2100003.
    pub fn current_profile(&self) -> Result<Profile> {
        self.default_profile().ok_or_else(no_connection)
    }

    /// `connection_get_profile_iterator()`: a profile per network (VPNs excluded).
    pub fn profiles(&self) -> Vec<Profile> {
        self.inner.profiles()
    }

    /// `connection_get_default_cellular_service_profile()`: the cellular network that
    /// serves `service` (internet: `NET_CAPABILITY_INTERNET`, MMS:
    /// `NET_CAPABILITY_MMS`); 2100003 if none does, 2100001 for a service netcore
    /// does not tell apart.
    pub fn default_cellular_service_profile(
        &self,
        service: CellularServiceType,
    ) -> Result<Profile> {
        let cap = match service {
            CellularServiceType::Internet | CellularServiceType::PrepaidInternet => {
                NetCap::Internet
            }
            CellularServiceType::Mms | CellularServiceType::PrepaidMms => NetCap::Mms,
            other => {
                return Err(Error::invalid(format!(
                    "cellular service {other:?} is not one netcore tells apart"
                )));
            }
        };
        self.inner
            .networks()
            .iter()
            .filter(|s| s.capabilities.network_cap.contains(cap))
            .filter_map(Profile::of)
            .find(|p| p.profile_type == ProfileType::Cellular)
            .ok_or_else(|| Error::Internal(format!("no cellular network serves {service:?}")))
    }

    /// `connection_profile_refresh()`: `profile` as its network is now; a network
    /// that went leaves the profile as it was, disconnected.
    pub fn refresh_profile(&self, profile: &Profile) -> Profile {
        let fresh = self
            .inner
            .networks()
            .iter()
            .find(|n| n.handle == profile.net)
            .and_then(Profile::of);
        match fresh {
            Some(fresh) => fresh,
            None => Profile {
                state: ProfileState::Disconnected,
                is_default: false,
                ..profile.clone()
            },
        }
    }

    /// `connection_open_profile()`: asks for `profile`'s network (its bearer and
    /// identifier: a cellular profile of `slot1` activates that SIM's data connection)
    /// and keeps asking until [`Connection::close_profile`], so the network stays
    /// up. Returns the profile as its network is once up, or 2100003 if none came
    /// within `timeout` (and then nothing stays asked for).
    pub async fn open_profile(&self, profile: &Profile, timeout: Duration) -> Result<Profile> {
        let key = (profile.profile_type, profile.identifier.clone());
        let timeout_ms = u32::try_from(timeout.as_millis())
            .ok()
            .filter(|ms| *ms > 0)
            .ok_or_else(|| Error::invalid(format!("timeout {timeout:?} is out of range")))?;
        let mut request = self
            .inner
            .manager
            .create_net_connection(Some(profile.specifier()), timeout_ms);
        request.register().await?;
        loop {
            match request.next_event().await {
                Some(NetEvent::Available(net)) => {
                    let opened = self
                        .inner
                        .manager
                        .snapshot(net)
                        .await
                        .ok()
                        .as_ref()
                        .and_then(Profile::of)
                        .ok_or_else(|| {
                            Error::Internal(format!("network {net} went while opening"))
                        })?;
                    self.inner
                        .open
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(key, request);
                    return Ok(opened);
                }
                Some(NetEvent::Unavailable) | None => {
                    return Err(Error::Internal(format!(
                        "no {:?} network for profile {:?} within {timeout:?}",
                        profile.profile_type, profile.name
                    )));
                }
                Some(_) => {}
            }
        }
    }

    /// `connection_close_profile()`: stops asking for `profile`'s network; the
    /// bearer releases it unless something else still needs it. Closing a profile
    /// that is not open is 2100001.
    pub async fn close_profile(&self, profile: &Profile) -> Result<()> {
        let key = (profile.profile_type, profile.identifier.clone());
        let request = self
            .inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        match request {
            Some(mut request) => request.unregister().await,
            None => Err(Error::invalid(format!(
                "profile {:?} is not open",
                profile.name
            ))),
        }
    }
}

fn no_connection() -> Error {
    Error::Internal("no connection: there is no default network".into())
}

fn check_statistics_type(ty: ConnectionType) -> Result<()> {
    match ty {
        ConnectionType::Wifi | ConnectionType::Cellular => Ok(()),
        other => Err(Error::invalid(format!(
            "statistics exist for Wi-Fi and cellular only, not {other:?}"
        ))),
    }
}
