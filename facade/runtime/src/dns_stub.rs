//! Manage mode's DNS stub: started with the runtime, told apart by sock_diag, and
//! named in resolv.conf while it runs.

use std::sync::Arc;

use netcore::{AppId, ProtocolType};
use netcore_dns::stub::{DnsStub, Identify, Transport};
use netcore_link::ports::SocketOwners;
use tokio::sync::watch;

use crate::config::DnsStubSettings;
use crate::resolv_conf::ResolvConf;

/// Runs the stub until `stopping` turns true, then puts resolv.conf back.
pub(crate) async fn run(
    dns: netcore_dns::DnsService,
    settings: DnsStubSettings,
    mut stopping: watch::Receiver<bool>,
) {
    let stub = match DnsStub::start(dns, settings.stub_config(), identify()).await {
        Ok(stub) => stub,
        Err(e) => {
            tracing::error!("manage mode: the DNS stub does not run: {e}");
            return;
        }
    };
    let servers: Vec<_> = stub
        .addresses()
        .iter()
        .filter(|a| a.port() == 53)
        .map(|a| a.ip())
        .collect();
    let resolv_conf = settings.resolv_conf.as_deref().and_then(|path| {
        if servers.is_empty() {
            tracing::warn!("the DNS stub listens on no port 53: resolv.conf is left alone");
            return None;
        }
        ResolvConf::install(path, &servers)
            .inspect_err(|e| tracing::error!("manage mode: {e}"))
            .ok()
    });
    let _ = stopping.wait_for(|&stopping| stopping).await;
    if let Some(resolv_conf) = resolv_conf {
        resolv_conf.restore();
    }
    drop(stub);
}

/// The app owning a client socket, from the kernel (sock_diag).
fn identify() -> Identify {
    let owners = SocketOwners::new()
        .inspect_err(|e| tracing::warn!("DNS stub: apps cannot be told apart: {e}"))
        .ok();
    Arc::new(move |transport, client, stub| {
        let protocol = match transport {
            Transport::Udp => ProtocolType::Udp,
            Transport::Tcp => ProtocolType::Tcp,
        };
        match owners.as_ref()?.uid(protocol, client, stub) {
            Ok(uid) => uid.map(AppId::from_uid),
            Err(e) => {
                tracing::debug!(%client, "DNS stub: whose query: {e}");
                None
            }
        }
    })
}
