//! [`NetManager`]: the connection manager as an application sees it, and where its
//! calls go (its backend).

use std::sync::Arc;
use std::time::Duration;

use netcore::engine::NetworkSnapshot;
use netcore::{AppId, Bearer, NetBearType, NetHandle, Result};
use netcore_runtime::{PluginStatus, Runtime, Validator, Watch};

use crate::config::Config;

/// Where a [`NetManager`]'s calls go. The API is the same whatever the backend: the
/// same types, errors and event order.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    /// The runtime in this process.
    Embedded(Runtime),
}

/// The connection manager, as an application sees it: the seed's connection module.
/// Cloning it is cheap; every clone talks to the same backend. App-scoped state
/// (bound network, requests, DNS rules, app proxy) belongs to the app identity of
/// the handle: this process's uid, or the one given to [`NetManager::for_app`].
///
/// Permissions (the seed's 201) are checked by netcored for the apps it serves; an
/// embedded runtime grants every call, so the functions below never return 201
/// from it.
#[derive(Clone)]
pub struct NetManager {
    pub(crate) backend: Backend,
    pub(crate) app: AppId,
}

impl std::fmt::Debug for NetManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetManager")
            .field("app", &self.app)
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

    /// The same manager acting for `app`. The embedded runtime trusts its caller, so
    /// this is for trusted code acting on an app's behalf (tests, a system service);
    /// an app of netcored is always the app the bus says it is.
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
        }
    }

    /// Waits until no network has changed for `quiet`, or until `limit` has passed.
    pub async fn settle(&self, quiet: Duration, limit: Duration) {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.settle(quiet, limit).await,
        }
    }

    /// Every network now, then every event of every network as it happens.
    pub fn watch(&self) -> Watch {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.watch(),
        }
    }

    /// What became of each plugin file of the plugin directory.
    pub fn plugins(&self) -> Vec<PluginStatus> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.plugins(),
        }
    }

    /// The types of the bearers that run.
    pub fn bearer_types(&self) -> Vec<NetBearType> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.bearer_types().to_vec(),
        }
    }

    /// A snapshot of every network (for listings).
    pub fn snapshots(&self) -> Vec<NetworkSnapshot> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.read(|e| {
                e.all_nets()
                    .into_iter()
                    .filter_map(|net| e.snapshot(net).ok())
                    .collect()
            }),
        }
    }

    /// A snapshot of one network; an unknown netId is 2100001.
    pub fn snapshot(&self, net: NetHandle) -> Result<NetworkSnapshot> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.read(|e| e.snapshot(net)),
        }
    }

    /// Forgets everything of this manager's app: its requests (their subscriptions
    /// end and the quota is free again), its network binding, its custom DNS rules,
    /// its HTTP proxy and the VPNs it runs. netcored calls it when an app leaves the
    /// bus.
    pub async fn remove_app(&self) {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.remove_app(self.app).await,
        }
    }

    /// Follows changes of the proxy settings.
    pub(crate) fn proxy_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.proxy_changes(),
        }
    }

    /// The tokio runtime callbacks run on.
    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.handle(),
        }
    }
}
