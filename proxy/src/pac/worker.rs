//! The PAC worker process: runs untrusted scripts on boa_engine, one request at a time,
//! talking to the parent over stdin and stdout (see [`protocol`](super::protocol)).
//!
//! The binary `netcore-pac-worker` calls [`run_worker`]. The parent kills the process
//! when a call overruns its deadline; the worker itself caps the address space
//! (`--memory-limit BYTES`, set with `setrlimit(RLIMIT_AS)`) and applies the engine's
//! loop, recursion and stack limits. DNS helpers ask the parent, which owns the
//! resolver.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{StdinLock, StdoutLock};
use std::net::IpAddr;
use std::process::ExitCode;

use boa_engine::{Context, JsError, JsObject, JsResult, JsString, JsValue, NativeFunction, Source};
use netcore::FamilyType;

use super::clock::ClockReading;
use super::helpers;
use super::protocol::{
    EngineLimits, FrameError, FromWorker, MAX_FROM_WORKER_BYTES, MAX_MESSAGE_BYTES,
    MAX_RESULT_BYTES, MAX_TO_WORKER_BYTES, ToWorker, read_frame, write_frame,
};
use super::result::truncate;

/// The most `alert` messages passed on per call.
const MAX_ALERTS_PER_CALL: u32 = 16;

/// The version `getClientVersion()` reports.
const CLIENT_VERSION: &str = "1.0";

/// The pipe to the parent and what the current call may see.
struct Session {
    input: StdinLock<'static>,
    output: StdoutLock<'static>,
    now: Option<ClockReading>,
    my_addresses: Vec<IpAddr>,
    dns_cache: HashMap<(String, u8), Option<Vec<IpAddr>>>,
    lookups_left: u32,
    alerts_left: u32,
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// Runs `f` on the session. The session exists while [`run_worker`] runs.
fn with_session<R>(f: impl FnOnce(&mut Session) -> R) -> Option<R> {
    SESSION.with(|cell| cell.borrow_mut().as_mut().map(f))
}

/// Sends a message to the parent; a broken pipe ends the worker (the parent is gone).
fn send(session: &mut Session, message: &FromWorker) {
    if let Err(error) = write_frame(&mut session.output, message, MAX_FROM_WORKER_BYTES) {
        eprintln!("netcore-pac-worker: cannot write to the parent: {error}");
        std::process::exit(3);
    }
}

/// Resolves `host` through the parent (addresses literal in `host` are answered
/// here). `None` when the name does not resolve or the call used up its lookups.
fn resolve(host: &str, family: FamilyType) -> Option<Vec<IpAddr>> {
    let wanted = |ip: &IpAddr| match family {
        FamilyType::Ipv4 => ip.is_ipv4(),
        FamilyType::Ipv6 => ip.is_ipv6(),
        _ => true,
    };
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return wanted(&ip).then(|| vec![ip]);
    }
    with_session(|session| {
        let key = (host.to_ascii_lowercase(), family.value());
        if let Some(cached) = session.dns_cache.get(&key) {
            return cached.clone();
        }
        if session.lookups_left == 0 || host.is_empty() || host.len() > 253 {
            return None;
        }
        session.lookups_left -= 1;
        send(
            session,
            &FromWorker::Resolve {
                host: host.to_owned(),
                family,
            },
        );
        let answer = match read_frame::<ToWorker>(&mut session.input, MAX_TO_WORKER_BYTES) {
            Ok(ToWorker::Resolved { addresses }) => addresses
                .map(|list| list.into_iter().filter(wanted).collect::<Vec<_>>())
                .filter(|list| !list.is_empty()),
            Ok(other) => {
                eprintln!("netcore-pac-worker: expected a DNS answer, got {other:?}");
                std::process::exit(2);
            }
            Err(error) => {
                eprintln!("netcore-pac-worker: reading a DNS answer: {error}");
                std::process::exit(3);
            }
        };
        session.dns_cache.insert(key, answer.clone());
        answer
    })
    .flatten()
}

fn arg(args: &[JsValue], index: usize, context: &mut Context) -> JsResult<String> {
    match args.get(index) {
        Some(value) => Ok(value.to_string(context)?.to_std_string_escaped()),
        None => Ok("undefined".to_owned()),
    }
}

fn all_args(args: &[JsValue], context: &mut Context) -> JsResult<Vec<String>> {
    (0..args.len()).map(|i| arg(args, i, context)).collect()
}

fn js_str(text: &str) -> JsValue {
    JsValue::from(JsString::from(text))
}

fn now() -> Option<ClockReading> {
    with_session(|session| session.now).flatten()
}

fn first_ipv4(host: &str) -> Option<IpAddr> {
    resolve(host, FamilyType::Ipv4).and_then(|list| list.first().copied())
}

fn is_plain_host_name(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::from(helpers::is_plain_host_name(&arg(
        args, 0, cx,
    )?)))
}

fn dns_domain_is(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::from(helpers::dns_domain_is(
        &arg(args, 0, cx)?,
        &arg(args, 1, cx)?,
    )))
}

fn local_host_or_domain_is(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::from(helpers::local_host_or_domain_is(
        &arg(args, 0, cx)?,
        &arg(args, 1, cx)?,
    )))
}

fn is_resolvable(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::from(first_ipv4(&arg(args, 0, cx)?).is_some()))
}

fn is_in_net(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let (host, pattern, mask) = (arg(args, 0, cx)?, arg(args, 1, cx)?, arg(args, 2, cx)?);
    let inside = match first_ipv4(&host) {
        Some(IpAddr::V4(address)) => helpers::is_in_net(address, &pattern, &mask),
        _ => false,
    };
    Ok(JsValue::from(inside))
}

fn dns_resolve(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    Ok(match first_ipv4(&arg(args, 0, cx)?) {
        Some(address) => js_str(&address.to_string()),
        None => JsValue::null(),
    })
}

fn convert_addr(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    Ok(match helpers::convert_addr(&arg(args, 0, cx)?) {
        Some(number) => JsValue::from(number),
        None => JsValue::nan(),
    })
}

fn my_ip_address(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let first_v4 =
        with_session(|s| s.my_addresses.iter().find(|ip| ip.is_ipv4()).copied()).flatten();
    Ok(js_str(&first_v4.map_or_else(
        || "127.0.0.1".to_owned(),
        |ip| ip.to_string(),
    )))
}

fn dns_domain_levels(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let levels = helpers::dns_domain_levels(&arg(args, 0, cx)?);
    Ok(JsValue::from(u32::try_from(levels).unwrap_or(u32::MAX)))
}

fn sh_exp_match(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::from(helpers::sh_exp_match(
        &arg(args, 0, cx)?,
        &arg(args, 1, cx)?,
    )))
}

fn time_helper(
    args: &[JsValue],
    cx: &mut Context,
    check: fn(&[String], &ClockReading) -> bool,
) -> JsResult<JsValue> {
    let args = all_args(args, cx)?;
    Ok(JsValue::from(now().is_some_and(|now| check(&args, &now))))
}

fn weekday_range(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    time_helper(args, cx, helpers::weekday_range)
}

fn date_range(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    time_helper(args, cx, helpers::date_range)
}

fn time_range(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    time_helper(args, cx, helpers::time_range)
}

fn alert(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let message = arg(args, 0, cx)?;
    with_session(|session| {
        if session.alerts_left > 0 {
            session.alerts_left -= 1;
            let message = truncate(&message, MAX_MESSAGE_BYTES).to_owned();
            send(session, &FromWorker::Alert { message });
        }
    });
    Ok(JsValue::undefined())
}

fn is_resolvable_ex(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::from(
        resolve(&arg(args, 0, cx)?, FamilyType::All).is_some(),
    ))
}

fn is_in_net_ex(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::from(helpers::is_in_net_ex(
        &arg(args, 0, cx)?,
        &arg(args, 1, cx)?,
    )))
}

fn dns_resolve_ex(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let addresses = resolve(&arg(args, 0, cx)?, FamilyType::All).unwrap_or_default();
    Ok(js_str(&helpers::join_addresses(&addresses)))
}

fn my_ip_address_ex(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let list = with_session(|s| helpers::join_addresses(&s.my_addresses)).unwrap_or_default();
    Ok(js_str(&list))
}

fn sort_ip_address_list(_: &JsValue, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    Ok(match helpers::sort_ip_address_list(&arg(args, 0, cx)?) {
        Some(sorted) => js_str(&sorted),
        None => JsValue::from(false),
    })
}

fn get_client_version(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(js_str(CLIENT_VERSION))
}

/// The helpers with their JavaScript names and argument counts.
const HELPERS: &[(
    &str,
    usize,
    boa_engine::native_function::NativeFunctionPointer,
)] = &[
    ("isPlainHostName", 1, is_plain_host_name),
    ("dnsDomainIs", 2, dns_domain_is),
    ("localHostOrDomainIs", 2, local_host_or_domain_is),
    ("isResolvable", 1, is_resolvable),
    ("isInNet", 3, is_in_net),
    ("dnsResolve", 1, dns_resolve),
    ("convert_addr", 1, convert_addr),
    ("myIpAddress", 0, my_ip_address),
    ("dnsDomainLevels", 1, dns_domain_levels),
    ("shExpMatch", 2, sh_exp_match),
    ("weekdayRange", 1, weekday_range),
    ("dateRange", 1, date_range),
    ("timeRange", 1, time_range),
    ("alert", 1, alert),
    ("isResolvableEx", 1, is_resolvable_ex),
    ("isInNetEx", 2, is_in_net_ex),
    ("dnsResolveEx", 1, dns_resolve_ex),
    ("myIpAddressEx", 0, my_ip_address_ex),
    ("sortIpAddressList", 1, sort_ip_address_list),
    ("getClientVersion", 0, get_client_version),
];

fn error_text(error: &JsError) -> String {
    truncate(&error.to_string(), MAX_MESSAGE_BYTES).to_owned()
}

/// A fresh engine with the limits and helpers, running `script`.
fn load(script: &str, limits: &EngineLimits) -> Result<(Context, JsObject), String> {
    let mut context = Context::default();
    let runtime = context.runtime_limits_mut();
    runtime.set_loop_iteration_limit(limits.loop_iteration_limit);
    runtime.set_recursion_limit(limits.recursion_limit);
    runtime.set_stack_size_limit(limits.stack_size_limit);
    for (name, length, function) in HELPERS {
        context
            .register_global_callable(
                JsString::from(*name),
                *length,
                NativeFunction::from_fn_ptr(*function),
            )
            .map_err(|e| format!("registering {name}: {}", error_text(&e)))?;
    }
    context
        .eval(Source::from_bytes(script))
        .map_err(|e| format!("the script failed to load: {}", error_text(&e)))?;
    let function = entry_point(&mut context)?;
    Ok((context, function))
}

/// `FindProxyForURLEx` when the script defines it, else `FindProxyForURL`.
fn entry_point(context: &mut Context) -> Result<JsObject, String> {
    let global = context.global_object();
    for name in ["FindProxyForURLEx", "FindProxyForURL"] {
        let value = global
            .get(JsString::from(name), context)
            .map_err(|e| format!("reading {name}: {}", error_text(&e)))?;
        if let Some(function) = value.as_callable() {
            return Ok(function);
        }
    }
    Err("the script defines neither FindProxyForURL nor FindProxyForURLEx".to_owned())
}

/// Calls the entry point found at load time (a script cannot swap it later).
fn find(
    context: &mut Context,
    function: &JsObject,
    url: &str,
    host: &str,
) -> Result<String, String> {
    let value = function
        .call(&JsValue::undefined(), &[js_str(url), js_str(host)], context)
        .map_err(|e| format!("FindProxyForURL failed: {}", error_text(&e)))?;
    let Some(text) = value.as_string() else {
        return Err(format!(
            "FindProxyForURL returned a {} instead of a string",
            value.type_of()
        ));
    };
    if text.len() > MAX_RESULT_BYTES {
        return Err(format!(
            "FindProxyForURL returned more than {MAX_RESULT_BYTES} characters"
        ));
    }
    Ok(text.to_std_string_escaped())
}

/// Sets a resource limit (soft and hard) of this process.
fn set_limit(resource: rustix::process::Resource, value: u64) -> Result<(), String> {
    let limit = rustix::process::Rlimit {
        current: Some(value),
        maximum: Some(value),
    };
    rustix::process::setrlimit(resource, limit)
        .map_err(|e| format!("setrlimit({resource:?}, {value}): {e}"))
}

/// No core dumps (a worker that hits its memory limit aborts) and few file
/// descriptors (a script opens none); then `--memory-limit BYTES` as the
/// address-space limit.
fn apply_limits(args: &[String]) -> Result<(), String> {
    set_limit(rustix::process::Resource::Core, 0)?;
    set_limit(rustix::process::Resource::Nofile, 16)?;
    apply_memory_limit(args)
}

/// Parses `--memory-limit BYTES` and applies it as the address-space limit.
fn apply_memory_limit(args: &[String]) -> Result<(), String> {
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        if flag == "--memory-limit" {
            let bytes: u64 = iter
                .next()
                .and_then(|value| value.parse().ok())
                .ok_or("--memory-limit needs a number of bytes")?;
            set_limit(rustix::process::Resource::As, bytes)?;
        } else {
            return Err(format!("unknown argument {flag:?}"));
        }
    }
    Ok(())
}

/// The worker's main loop; returns when the parent closes stdin.
pub fn run_worker() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(error) = apply_limits(&args) {
        eprintln!("netcore-pac-worker: {error}");
        return ExitCode::from(2);
    }
    SESSION.with(|cell| {
        *cell.borrow_mut() = Some(Session {
            input: std::io::stdin().lock(),
            output: std::io::stdout().lock(),
            now: None,
            my_addresses: Vec::new(),
            dns_cache: HashMap::new(),
            lookups_left: 0,
            alerts_left: 0,
        });
    });
    let mut engine: Option<(Context, JsObject, u32)> = None;
    loop {
        let message = with_session(|s| read_frame::<ToWorker>(&mut s.input, MAX_TO_WORKER_BYTES));
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(FrameError::Io(e))) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return ExitCode::SUCCESS;
            }
            Some(Err(error)) => {
                eprintln!("netcore-pac-worker: {error}");
                return ExitCode::from(2);
            }
            None => return ExitCode::from(2),
        };
        let reply = match message {
            ToWorker::Load { script, limits } => match load(&script, &limits) {
                Ok((context, function)) => {
                    engine = Some((context, function, limits.max_dns_lookups_per_call));
                    FromWorker::Loaded
                }
                Err(message) => {
                    engine = None;
                    FromWorker::Failed { message }
                }
            },
            ToWorker::Find {
                url,
                host,
                now,
                my_addresses,
            } => match engine.as_mut() {
                Some((context, function, max_lookups)) => {
                    with_session(|s| {
                        s.now = Some(now);
                        s.my_addresses = my_addresses;
                        s.dns_cache.clear();
                        s.lookups_left = *max_lookups;
                        s.alerts_left = MAX_ALERTS_PER_CALL;
                    });
                    match find(context, function, &url, &host) {
                        Ok(result) => FromWorker::Found { result },
                        Err(message) => FromWorker::Failed { message },
                    }
                }
                None => FromWorker::Failed {
                    message: "no script is loaded".to_owned(),
                },
            },
            ToWorker::Resolved { .. } => {
                eprintln!("netcore-pac-worker: a DNS answer nobody asked for");
                return ExitCode::from(2);
            }
        };
        with_session(|s| send(s, &reply));
    }
}
