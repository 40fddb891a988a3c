//! netcored: netcore's system service. It owns the device's networks (the runtime:
//! bearers built in and plugins, the engine, DNS, proxies and PAC, probes) and serves
//! the connection API to every app on the system bus, as `org.netcore.Netcore1`.
//!
//! ```text
//! netcored [--config FILE] [--policy FILE] [--bus ADDRESS]
//! ```
//!
//! - `--config`: the runtime's TOML configuration (default `$NETCORE_CONFIG`, else
//!   `/etc/netcore/netcored.toml` when it exists, else built-in defaults);
//! - `--policy`: who may do what (default `/etc/netcore/policy.toml` when it exists,
//!   else every app has GET_NETWORK_INFO and INTERNET and root everything);
//! - `--bus`: the bus to serve on (default the system bus:
//!   `$DBUS_SYSTEM_BUS_ADDRESS`, else `/run/dbus/system_bus_socket`).
//!
//! It tells systemd when it is ready (`Type=notify`), logs to stderr (the journal
//! under systemd; `RUST_LOG` sets the level) and stops on SIGTERM or SIGINT.

mod clients;
mod policy;
mod service;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use netcore::{Error, Result};
use netcore_runtime::{Config, Runtime};

use crate::clients::Clients;
use crate::policy::Policy;
use crate::service::Service;

/// Where an installed netcored finds its configuration.
const SYSTEM_CONFIG: &str = "/etc/netcore/netcored.toml";
/// Where an installed netcored finds its permission policy.
const SYSTEM_POLICY: &str = "/etc/netcore/policy.toml";

/// The command line.
#[derive(Debug, Default)]
struct Options {
    config: Option<PathBuf>,
    policy: Option<PathBuf>,
    bus: Option<String>,
}

fn options() -> Result<Options> {
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| Error::Parameter(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--config" => options.config = Some(value("--config")?.into()),
            "--policy" => options.policy = Some(value("--policy")?.into()),
            "--bus" => options.bus = Some(value("--bus")?),
            "--help" | "-h" => {
                println!("netcored [--config FILE] [--policy FILE] [--bus ADDRESS]");
                std::process::exit(0);
            }
            other => return Err(Error::Parameter(format!("unknown argument {other:?}"))),
        }
    }
    Ok(options)
}

/// The file given, else the system's when it exists.
fn given_or_system(given: Option<PathBuf>, system: &str) -> Option<PathBuf> {
    given.or_else(|| {
        let system = PathBuf::from(system);
        system.exists().then_some(system)
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&Error::Internal(format!("cannot start: {e}"))),
    };
    match runtime.block_on(serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &Error) -> ExitCode {
    tracing::error!("netcored: error {}: {error}", error.code());
    ExitCode::FAILURE
}

async fn serve() -> Result<()> {
    let options = options()?;
    let config_path = options
        .config
        .or_else(|| std::env::var_os(netcore_runtime::config::CONFIG_ENV).map(PathBuf::from));
    let config = match given_or_system(config_path, SYSTEM_CONFIG) {
        Some(path) => Config::from_file(&path)?,
        None => Config::default(),
    };
    let policy = match given_or_system(options.policy, SYSTEM_POLICY) {
        Some(path) => Policy::from_file(&path)?,
        None => Policy::default(),
    };
    let bus = |e: zbus::Error| Error::Service(format!("the system bus: {e}"));
    let builder = match &options.bus {
        Some(address) => zbus::connection::Builder::address(address.as_str()).map_err(bus)?,
        None => zbus::connection::Builder::system().map_err(bus)?,
    };
    let connection = builder.build().await.map_err(bus)?;
    // Announced at once: clients follow the networks as the bearers find them.
    let runtime = Runtime::embedded_builder(config)?.start()?;
    let clients = Arc::new(Clients::new(runtime.clone(), policy, connection.clone()));
    connection
        .object_server()
        .at(
            netcore_bus::OBJECT_PATH,
            Service::new(runtime.clone(), Arc::clone(&clients)),
        )
        .await
        .map_err(bus)?;
    let departures = tokio::spawn(Arc::clone(&clients).follow_departures());
    connection
        .request_name(netcore_bus::BUS_NAME)
        .await
        .map_err(bus)?;
    tracing::info!(name = netcore_bus::BUS_NAME, "netcored serves");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::Internal(format!("signals: {e}")))?;
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        ended = departures => tracing::error!("the bus went away: {ended:?}"),
    }
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    let _ = connection.release_name(netcore_bus::BUS_NAME).await;
    // In manage mode, the rules and routes netcore installed go.
    runtime.shutdown().await;
    Ok(())
}
