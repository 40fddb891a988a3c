//! Connectivity checks: what the runtime runs for the engine's `StartValidation`.

use std::sync::Arc;

use async_trait::async_trait;
use netcore::engine::ValidationResult;
use netcore::{ConnectionProperties, NetHandle, Result};

/// Runs one connectivity check of a network. [`ProbeValidator`] is the real one;
/// [`NoValidator`] reports every check as failed.
#[async_trait]
pub trait Validator: Send + Sync + 'static {
    /// Checks network `net`, whose properties (interface, DNS servers) are given.
    async fn validate(&self, net: NetHandle, properties: &ConnectionProperties)
    -> ValidationResult;
}

/// The connectivity check of `netcore-probe`: HTTPS and HTTP probes bound to the
/// network's interface, names resolved on the network through `resolver`.
pub struct ProbeValidator {
    probe: netcore_probe::Validator,
    resolver: Arc<dyn netcore::Resolve>,
}

impl ProbeValidator {
    /// A validator with `config`, resolving through `resolver`.
    pub fn new(
        config: netcore_probe::ValidatorConfig,
        resolver: Arc<dyn netcore::Resolve>,
    ) -> Result<Self> {
        Ok(Self {
            probe: netcore_probe::Validator::new(config)?,
            resolver,
        })
    }
}

#[async_trait]
impl Validator for ProbeValidator {
    async fn validate(
        &self,
        net: NetHandle,
        properties: &ConnectionProperties,
    ) -> ValidationResult {
        let target = netcore_probe::NetworkTarget::new(net, properties.interface_name.clone())
            .with_resolver(Arc::clone(&self.resolver));
        self.probe.validate(&target).await
    }
}

/// A validator for runtimes without a probe: every check fails at once, so no
/// network is ever claimed to be validated.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoValidator;

#[async_trait]
impl Validator for NoValidator {
    async fn validate(&self, _: NetHandle, _: &ConnectionProperties) -> ValidationResult {
        ValidationResult::Failed
    }
}
