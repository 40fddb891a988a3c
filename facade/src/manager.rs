//! [`NetManager`]: the connection manager as an application sees it, and where its
//! calls go (its backend): the runtime embedded in this process, or netcored over
//! the system bus.

use std::sync::Arc;
use std::time::Duration;

use netcore::engine::NetworkSnapshot;
use netcore::{AppId, Bearer, NetBearType, NetHandle, Result};
use netcore_bus::from_json;
use netcore_runtime::{PluginStatus, Runtime, Validator, Watch};

use crate::bus::{BusClient, Reply};
use crate::config::Config;

/// Where a [`NetManager`]'s calls go. The API is the same whatever the backend: the
/// same types, errors and event order.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    /// The runtime in this process.
    Embedded(Runtime),
    /// netcored, over the system bus.
    Bus(BusClient),
}

/// The connection manager, as an application sees it: the seed's connection module.
/// Cloning it is cheap; every clone talks to the same backend. App-scoped state
/// (bound network, requests, DNS rules, app proxy) belongs to the app identity of
/// the handle: this process's uid, or for an embedded runtime the one given to
/// [`NetManager::for_app`].
///
/// Permissions (the seed's 201) are checked by netcored for the apps it serves; an
/// embedded runtime grants every call.
#[derive(Clone)]
pub struct NetManager {
    pub(crate) backend: Backend,
    pub(crate) app: AppId,
}

impl std::fmt::Debug for NetManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetManager")
            .field("app", &self.app)
            .field("daemon", &self.uses_daemon())
            .finish_non_exhaustive()
    }
}

/// Builds a [`NetManager`] on an embedded runtime of chosen bearers and validator
/// (for tests, demos and single-app devices).
pub struct Builder(netcore_runtime::Builder);

impl Builder {
    /// Adds a bearer.
    pub fn bearer(self, bearer: Arc<dyn Bearer>) -> Self {
        Self(self.0.bearer(bearer))
    }

    /// Sets the validator (default: [`netcore_runtime::NoValidator`]).
    pub fn validator(self, validator: Arc<dyn Validator>) -> Self {
        Self(self.0.validator(validator))
    }

    /// Sets the resolver (default: a [`netcore_dns::DnsService`] with default
    /// settings).
    pub fn dns(self, dns: netcore_dns::DnsService) -> Self {
        Self(self.0.dns(dns))
    }

    /// Starts the runtime on the current tokio runtime; the manager acts for this
    /// process's app. Errors: 2100001 (bad configuration), 2100003 (no tokio
    /// runtime).
    pub fn start(self) -> Result<NetManager> {
        Ok(NetManager::on(self.0.start()?))
    }
}

impl NetManager {
    /// A manager on an embedded `runtime`, acting for this process's app.
    pub fn on(runtime: Runtime) -> Self {
        Self {
            backend: Backend::Embedded(runtime),
            app: AppId::current(),
        }
    }

    /// A builder for an embedded runtime with the given bearers (none yet) and
    /// configuration. The runtime always has the VPN bearer too, so that VPN apps can
    /// establish VPNs.
    pub fn builder(config: Config) -> Builder {
        Builder(Runtime::builder(config))
    }

    /// The embedded runtime: the engine with the Ethernet, Wi-Fi, cellular, Bluetooth
    /// and VPN bearers linked in and the plugins of the plugin directory, observing
    /// the host (see [`Runtime::embedded`]). Must be called on a tokio runtime; it
    /// returns once the bearers' first reports are in (at most half a second).
    pub async fn embedded(config: Config) -> Result<Self> {
        Ok(Self::on(Runtime::embedded(config).await?))
    }

    /// netcored over the system bus (`$DBUS_SYSTEM_BUS_ADDRESS`, else the system's):
    /// the same API as [`NetManager::embedded`], acting for this process's app as
    /// the bus identifies it. Must be called on a tokio runtime. 2100002 when there is
    /// no bus or no netcored on it.
    pub async fn connect() -> Result<Self> {
        Ok(Self {
            backend: Backend::Bus(BusClient::connect().await?),
            app: AppId::current(),
        })
    }

    /// netcored when it runs on the system bus, else an embedded runtime with
    /// `config`.
    pub async fn new(config: Config) -> Result<Self> {
        if BusClient::daemon_runs().await {
            Self::connect().await
        } else {
            Self::embedded(config).await
        }
    }

    /// Whether the calls go to netcored (else to a runtime in this process).
    pub fn uses_daemon(&self) -> bool {
        matches!(self.backend, Backend::Bus(_))
    }

    /// The same manager acting for `app`. An embedded runtime trusts its caller, so
    /// this is for trusted code acting on an app's behalf (tests, a system service);
    /// netcored serves a process as the app the bus says it is, so through it every
    /// call of another app's manager is 201.
    pub fn for_app(&self, app: AppId) -> Self {
        Self {
            backend: self.backend.clone(),
            app,
        }
    }

    /// The app identity this handle acts for.
    pub fn app(&self) -> AppId {
        self.app
    }

    /// The embedded runtime behind this manager, if it has one.
    pub fn runtime(&self) -> Option<&Runtime> {
        match &self.backend {
            Backend::Embedded(runtime) => Some(runtime),
            Backend::Bus(_) => None,
        }
    }

    /// Waits until no network has changed for `quiet`, or until `limit` has passed.
    pub async fn settle(&self, quiet: Duration, limit: Duration) {
        let Ok(mut watch) = self.watch().await else {
            return;
        };
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let until = (tokio::time::Instant::now() + quiet).min(deadline);
            match tokio::time::timeout_at(until, watch.events.recv()).await {
                Ok(Some(_)) if tokio::time::Instant::now() < deadline => continue,
                _ => return,
            }
        }
    }

    /// Every network now, then every event of every network as it happens
    /// (GET_NETWORK_INFO).
    pub async fn watch(&self) -> Result<Watch> {
        match &self.backend {
            Backend::Embedded(runtime) => Ok(runtime.watch()),
            Backend::Bus(bus) => bus.acting_for(self.app)?.watch().await,
        }
    }

    /// What became of each plugin file of the plugin directory (GET_NETWORK_INFO).
    pub async fn plugins(&self) -> Result<Vec<PluginStatus>> {
        match &self.backend {
            Backend::Embedded(runtime) => Ok(runtime.plugins()),
            Backend::Bus(bus) => {
                let json = bus.acting_for(self.app)?.proxy().plugins().await.reply()?;
                let plugins: Vec<(String, String, bool)> = from_json("plugins", &json)?;
                Ok(plugins
                    .into_iter()
                    .map(|(path, what, loaded)| {
                        PluginStatus::new(path.into(), if loaded { Ok(what) } else { Err(what) })
                    })
                    .collect())
            }
        }
    }

    /// The types of the bearers that run (GET_NETWORK_INFO).
    pub async fn bearer_types(&self) -> Result<Vec<NetBearType>> {
        match &self.backend {
            Backend::Embedded(runtime) => Ok(runtime.bearer_types().to_vec()),
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .bearer_types()
                .await
                .reply()?
                .into_iter()
                .map(|t| NetBearType::try_from(i64::from(t)))
                .collect(),
        }
    }

    /// A snapshot of every network, for listings (GET_NETWORK_INFO).
    pub async fn snapshots(&self) -> Result<Vec<NetworkSnapshot>> {
        match &self.backend {
            Backend::Embedded(runtime) => Ok(runtime.read(|e| {
                e.all_nets()
                    .into_iter()
                    .filter_map(|net| e.snapshot(net).ok())
                    .collect()
            })),
            Backend::Bus(bus) => {
                let json = bus
                    .acting_for(self.app)?
                    .proxy()
                    .get_networks()
                    .await
                    .reply()?;
                from_json("networks", &json)
            }
        }
    }

    /// A snapshot of one network (GET_NETWORK_INFO); an unknown netId is 2100001.
    pub async fn snapshot(&self, net: NetHandle) -> Result<NetworkSnapshot> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.read(|e| e.snapshot(net)),
            Backend::Bus(bus) => {
                let json = bus
                    .acting_for(self.app)?
                    .proxy()
                    .get_network(net.net_id())
                    .await
                    .reply()?;
                from_json("network", &json)
            }
        }
    }

    /// Forgets everything of this manager's app: its requests (their subscriptions
    /// end and the quota is free again), its network binding, its custom DNS rules,
    /// its HTTP proxy and the VPNs it runs. netcored does it by itself when the
    /// app's last client leaves the bus.
    pub async fn remove_app(&self) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                runtime.remove_app(self.app).await;
                Ok(())
            }
            Backend::Bus(bus) => bus.acting_for(self.app)?.remove_app().await,
        }
    }

    /// Follows changes of the proxy settings.
    pub(crate) fn proxy_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.proxy_changes(),
            Backend::Bus(bus) => bus.proxy_changes(),
        }
    }

    /// The tokio runtime callbacks run on.
    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.handle(),
            Backend::Bus(bus) => bus.handle(),
        }
    }
}
