//! The bearer: a link watcher turned into network reports.

use std::collections::BTreeMap;

use async_trait::async_trait;
use netcore::{Bearer, NetBearType, NetworkInfo, ReportSink, Result};
use netcore_link::{LinkEvent, LinkWatcher, SysfsNet};

use crate::config::EthernetConfig;
use crate::network::networks;
use crate::pattern::InterfaceFilter;

/// The Ethernet bearer.
#[derive(Debug, Clone)]
pub struct EthernetBearer {
    config: EthernetConfig,
    filter: InterfaceFilter,
    sysfs: SysfsNet,
}

impl EthernetBearer {
    /// A bearer with `config`, checked first: a bad pattern or section is
    /// [`netcore::Error::InvalidValue`].
    pub fn new(config: EthernetConfig) -> Result<Self> {
        let filter = config.check()?;
        Ok(Self {
            config,
            filter,
            sysfs: SysfsNet::default(),
        })
    }

    /// The same bearer reading link speed and wireless facts from `sysfs`.
    pub fn with_sysfs(mut self, sysfs: SysfsNet) -> Self {
        self.sysfs = sysfs;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &EthernetConfig {
        &self.config
    }
}

#[async_trait]
impl Bearer for EthernetBearer {
    fn bearer_type(&self) -> NetBearType {
        NetBearType::Ethernet
    }

    fn name(&self) -> &str {
        "ethernet"
    }

    async fn run(&self, sink: ReportSink) -> Result<()> {
        let mut watcher = LinkWatcher::start_with(self.sysfs.clone()).await?;
        let mut reported: BTreeMap<String, NetworkInfo> = BTreeMap::new();
        let mut sync = |watcher: &LinkWatcher| {
            let current = networks(watcher.state(), &self.config, &self.filter);
            for event in netcore::bearer::diff_reports(&reported, &current) {
                tracing::debug!(?event, "ethernet report");
                sink.report(event);
            }
            reported = current;
        };
        sync(&watcher);
        loop {
            let event = watcher.next_event().await.inspect_err(|e| {
                tracing::warn!(error = %e, "ethernet bearer lost the kernel");
            })?;
            if matches!(
                event,
                LinkEvent::NeighbourChanged(_) | LinkEvent::NeighbourRemoved(_)
            ) {
                continue;
            }
            sync(&watcher);
        }
    }
}
