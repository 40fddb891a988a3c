//! `netcorectl`: watch and query netcore's networks from a terminal.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use netcore::engine::{NetEvent, NetworkSnapshot, ValidationResult, ValidationState};
use netcore::{Error, NetHandle};
use netcore_facade::{Config, NetManager};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(
    name = "netcorectl",
    version,
    about = "Watch and query netcore's networks"
)]
struct Cli {
    /// Configuration file of the embedded runtime (default: $NETCORE_CONFIG, else
    /// built-in defaults).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Run the runtime in this process even when netcored is on the bus.
    #[arg(long, global = true)]
    embedded: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Whether netcored serves (else this process runs the runtime itself), and
    /// what it has.
    Status {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Live networks, the default network and events as they happen.
    Monitor {
        /// One JSON object per line: first the current networks, then each event.
        #[arg(long)]
        json: bool,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
    },
    /// The connected networks.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// One network in detail.
    Show {
        /// The network's netId.
        net_id: i64,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Resolve a host name (on the default network, or on --net).
    Resolve {
        /// The host name.
        host: String,
        /// The network's netId.
        #[arg(long)]
        net: Option<i64>,
        /// 0 all, 1 IPv4, 2 IPv6.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        family: i64,
    },
    /// Convert a host name between Unicode and ASCII (Punycode).
    Idna {
        /// `ascii` or `unicode`.
        direction: IdnaDirection,
        /// The host name.
        host: String,
        /// 0 NO_CONFIGURATION, 1 ALLOW_UNASSIGNED, 2 USE_STD3_ASCII_RULES.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        flag: i64,
    },
    /// Probe a destination once a second: loss and round-trip times.
    Probe {
        /// A host name or address.
        destination: String,
        /// Seconds (1 to 1000).
        #[arg(long, default_value_t = 5, allow_negative_numbers = true)]
        duration: i64,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// The routers on the way to a destination.
    Traceroute {
        /// A host name or address.
        destination: String,
        /// The most hops (1 to 30).
        #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
        max_jumps: i64,
        /// Probe with UDP instead of ICMP.
        #[arg(long)]
        udp: bool,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// The proxy a request to URL goes through: the configured proxy, or the PAC
    /// script's answer with --pac.
    Proxy {
        /// The URL.
        url: String,
        /// A PAC script: a URL (http, https, file) or a file path.
        #[arg(long)]
        pac: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum IdnaDirection {
    /// Unicode to ASCII.
    Ascii,
    /// ASCII to Unicode.
    Unicode,
}

fn main() -> ExitCode {
    // netcorectl doubles as the sandboxed PAC worker, started with these arguments.
    if std::env::args().nth(1).as_deref() == Some("--memory-limit") {
        return netcore_proxy::pac::worker::run_worker();
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&Error::Internal(format!("cannot start the runtime: {e}"))),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &Error) -> ExitCode {
    eprintln!("netcorectl: error {}: {error}", error.code());
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> netcore::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Command::Idna {
        direction,
        host,
        flag,
    } = &cli.command
    {
        return idna(*direction, host, *flag);
    }
    if config.proxy.pac_worker.is_none()
        && std::env::var_os(netcore_proxy::pac::evaluator::WORKER_PATH_ENV).is_none()
    {
        config.proxy.pac_worker = std::env::current_exe().ok();
    }
    let manager = if cli.embedded {
        NetManager::embedded(config).await?
    } else {
        NetManager::new(config).await?
    };
    match cli.command {
        Command::Status { json } => status(&manager, json).await,
        Command::Monitor { json, count } => monitor(&manager, json, count).await,
        Command::List { json } => {
            let networks = manager.snapshots().await?;
            if json {
                let list: Vec<Value> = networks.iter().map(network_json).collect();
                println!("{}", Value::Array(list));
            } else {
                print_table(&networks);
            }
            Ok(())
        }
        Command::Resolve { host, net, family } => {
            let options = netcore::QueryOptions {
                family: netcore::FamilyType::try_from(family)?,
            };
            let found = match net {
                Some(id) => {
                    let net = NetHandle::new(id)?;
                    let all = manager.network(net).get_addresses_by_name(&host).await?;
                    let keep = |a: &netcore::NetAddress| match options.family {
                        netcore::FamilyType::All => true,
                        netcore::FamilyType::Ipv4 => a.ip().is_ipv4(),
                        netcore::FamilyType::Ipv6 => a.ip().is_ipv6(),
                    };
                    all.into_iter().filter(keep).collect()
                }
                None => {
                    manager
                        .get_addresses_by_name_with_options(&host, options)
                        .await?
                }
            };
            for address in found {
                println!("{}", address.ip());
            }
            Ok(())
        }
        Command::Proxy { url, pac } => {
            let answer = match pac {
                Some(pac) => {
                    manager.set_pac_file_url(&pac_url(&pac)?).await?;
                    manager.find_proxy_for_url(&url).await?
                }
                None => match manager.http_proxy_for_url(&url).await? {
                    Some(proxy) => format!("PROXY {}:{}", proxy.host, proxy.port),
                    None => "DIRECT".into(),
                },
            };
            println!("{answer}");
            Ok(())
        }
        Command::Idna { .. } => Ok(()),
        Command::Probe {
            destination,
            duration,
            json,
        } => {
            let probing = manager.query_probe_result(&destination, duration);
            let result = with_progress(&format!("probing {destination}"), probing).await?;
            if json {
                println!("{}", json!(result));
            } else {
                let [min, avg, max, stddev] = result.rtt;
                println!(
                    "{destination}: {}% loss, rtt min/avg/max/stddev = {min:.3}/{avg:.3}/{max:.3}/{stddev:.3} ms",
                    result.loss_rate
                );
            }
            Ok(())
        }
        Command::Traceroute {
            destination,
            max_jumps,
            udp,
            json,
        } => {
            let packets = if udp {
                netcore::PacketsType::Udp
            } else {
                netcore::PacketsType::Icmp
            };
            let options = netcore::TraceRouteOptions::new(max_jumps, packets)?;
            let tracing = manager.query_trace_route(&destination, Some(options));
            let hops =
                with_progress(&format!("tracing the route to {destination}"), tracing).await?;
            if json {
                println!("{}", json!(hops));
            } else {
                for hop in hops {
                    let [min, avg, max, _] = hop.rtt;
                    println!(
                        "{:>2}  {:<40} {min:.3} / {avg:.3} / {max:.3} ms",
                        hop.jump_no, hop.address
                    );
                }
            }
            Ok(())
        }
        Command::Show { net_id, json } => {
            let net = NetHandle::new(net_id)?;
            let snapshot = manager.snapshot(net).await?;
            if json {
                println!("{}", network_json(&snapshot));
            } else {
                print_details(&snapshot);
            }
            Ok(())
        }
    }
}

/// Who serves, and what it has.
async fn status(manager: &NetManager, json: bool) -> netcore::Result<()> {
    let served_by = if manager.uses_daemon() {
        "netcored"
    } else {
        "embedded"
    };
    let networks = manager.snapshots().await?;
    let default_net = manager.get_default_net().await?;
    let bearers: Vec<String> = manager
        .bearer_types()
        .await?
        .iter()
        .map(|t| t.seed_name().trim_start_matches("BEARER_").to_lowercase())
        .collect();
    if json {
        println!(
            "{}",
            json!({
                "servedBy": served_by,
                "networks": networks.len(),
                "defaultNet": default_net,
                "bearers": bearers,
            })
        );
    } else {
        println!("served by:   {served_by}");
        println!("bearers:     {}", bearers.join(", "));
        println!("networks:    {}", networks.len());
        println!("default net: {default_net}");
    }
    Ok(())
}

async fn monitor(manager: &NetManager, json: bool, count: Option<u64>) -> netcore::Result<()> {
    let mut watch = manager.watch().await?;
    let table = !json && std::io::stdout().is_terminal();
    let mut recent: Vec<String> = Vec::new();
    if json {
        let networks: Vec<Value> = watch.networks.iter().map(network_json).collect();
        emit_line(&json!({ "networks": networks, "defaultNet": watch.default_net }));
    } else if table {
        redraw(manager, &recent).await;
    } else {
        print_table(&watch.networks);
    }
    let mut seen = 0;
    while count.is_none_or(|limit| seen < limit) {
        let Some(event) = watch.events.recv().await else {
            break;
        };
        seen += 1;
        let default_net = manager.get_default_net().await?;
        if json {
            emit_line(&event_json(&event, default_net));
        } else {
            let line = format!(
                "{} {} (default {})",
                event.name(),
                event.net_handle().map_or(String::new(), |h| h.to_string()),
                default_net
            );
            if table {
                recent.push(line);
                if recent.len() > 12 {
                    recent.remove(0);
                }
                redraw(manager, &recent).await;
            } else {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// Awaits `work`, showing the elapsed seconds on the terminal (stderr) meanwhile.
async fn with_progress<T>(what: &str, work: impl std::future::Future<Output = T>) -> T {
    let show = std::io::stderr().is_terminal();
    let ticker = async {
        let mut seconds = 0u64;
        loop {
            if show {
                eprint!("\r{what}... {seconds} s");
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            seconds += 1;
        }
    };
    let (work, ticker) = (std::pin::pin!(work), std::pin::pin!(ticker));
    let result = match futures::future::select(work, ticker).await {
        futures::future::Either::Left((result, _)) => result,
        futures::future::Either::Right(((), work)) => work.await,
    };
    if show {
        eprintln!();
    }
    result
}

fn idna(direction: IdnaDirection, host: &str, flag: i64) -> netcore::Result<()> {
    let flag = netcore::ConversionProcess::try_from(flag)?;
    let converted = match direction {
        IdnaDirection::Ascii => netcore_dns::get_dns_ascii(host, flag)?,
        IdnaDirection::Unicode => netcore_dns::get_dns_unicode(host, flag)?,
    };
    println!("{converted}");
    Ok(())
}

/// A PAC location as a URL: URLs stay, file paths become `file://` URLs.
fn pac_url(pac: &str) -> netcore::Result<String> {
    if pac.contains("://") {
        return Ok(pac.to_owned());
    }
    let path =
        std::fs::canonicalize(pac).map_err(|e| Error::invalid(format!("PAC file {pac}: {e}")))?;
    Ok(format!("file://{}", path.display()))
}

fn emit_line(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

/// An event as one JSON object, named and shaped as in the seed.
fn event_json(event: &NetEvent, default_net: NetHandle) -> Value {
    let data = match event {
        NetEvent::Available(h) | NetEvent::Lost(h) => json!(h),
        NetEvent::Unavailable => Value::Null,
        NetEvent::CapabilitiesChange(info) => json!(info),
        NetEvent::ConnectionPropertiesChange(info) => json!(info),
        NetEvent::BlockStatusChange(info) => json!(info),
        other => json!(other),
    };
    json!({ "event": event.name(), "data": data, "defaultNet": default_net })
}

fn validation_name(state: &ValidationState) -> &'static str {
    match state {
        ValidationState::NotChecked => "not checked",
        ValidationState::Checking => "checking",
        ValidationState::Checked(ValidationResult::Validated) => "validated",
        ValidationState::Checked(ValidationResult::Partial) => "partial",
        ValidationState::Checked(ValidationResult::Portal { .. }) => "portal",
        ValidationState::Checked(ValidationResult::Failed) => "not validated",
        _ => "unknown",
    }
}

fn network_json(n: &NetworkSnapshot) -> Value {
    json!({
        "netHandle": n.handle,
        "netCap": n.capabilities,
        "connectionProperties": n.properties,
        "bearerPrivateIdentifier": n.identifier,
        "isDefault": n.is_default,
        "validation": validation_name(&n.validation),
        "quality": n.quality,
        "blocked": n.blocked,
    })
}

fn bearer_name(n: &NetworkSnapshot) -> String {
    n.capabilities
        .bearer_types
        .iter()
        .map(|t| t.seed_name().trim_start_matches("BEARER_").to_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

fn print_table(networks: &[NetworkSnapshot]) {
    println!(
        "{:<7} {:<9} {:<12} {:<14} {:<4} ADDRESSES",
        "NETID", "BEARER", "INTERFACE", "VALIDATION", "DEF"
    );
    for n in networks {
        let addresses: Vec<String> = n
            .properties
            .link_addresses
            .iter()
            .map(|a| format!("{}/{}", a.address().ip(), a.prefix_length()))
            .collect();
        println!(
            "{:<7} {:<9} {:<12} {:<14} {:<4} {}",
            n.handle.to_string(),
            bearer_name(n),
            n.properties.interface_name,
            validation_name(&n.validation),
            if n.is_default { "*" } else { "" },
            addresses.join(" ")
        );
    }
    if networks.is_empty() {
        println!("(no networks)");
    }
}

async fn redraw(manager: &NetManager, recent: &[String]) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "\x1b[2J\x1b[H");
    let _ = out.flush();
    drop(out);
    println!("netcore monitor (Ctrl-C to quit)\n");
    print_table(&manager.snapshots().await.unwrap_or_default());
    println!("\nEvents:");
    for line in recent {
        println!("  {line}");
    }
}

fn print_details(n: &NetworkSnapshot) {
    let caps: Vec<&str> = n
        .capabilities
        .network_cap
        .iter()
        .map(|c| c.seed_name())
        .collect();
    println!("netId:       {}", n.handle);
    println!("bearer:      {}", bearer_name(n));
    println!("interface:   {}", n.properties.interface_name);
    println!("default:     {}", n.is_default);
    println!("validation:  {}", validation_name(&n.validation));
    println!("capabilities: {}", caps.join(" "));
    println!("mtu:         {}", n.properties.mtu);
    for a in &n.properties.link_addresses {
        println!("address:     {}/{}", a.address().ip(), a.prefix_length());
    }
    for r in &n.properties.routes {
        let via = if r.has_gateway {
            format!(" via {}", r.gateway.ip())
        } else {
            String::new()
        };
        println!(
            "route:       {}/{}{via}",
            r.destination.address().ip(),
            r.destination.prefix_length()
        );
    }
    for d in &n.properties.dnses {
        println!("dns:         {}", d.ip());
    }
}
