//! The parent side: [`PacEvaluator`] keeps a worker process with the script loaded,
//! sends it calls with a wall-clock deadline, answers its DNS questions through
//! netcore's [`Resolve`], and kills and respawns it when it overruns or dies.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use netcore::{Error, NetHandle, Resolve, Result};
use tokio::io::{AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

use super::clock::{Clock, SystemClock};
use super::protocol::{
    EngineLimits, FrameError, FromWorker, MAX_FROM_WORKER_BYTES, MAX_TO_WORKER_BYTES, ToWorker,
    read_frame_async, write_frame_async,
};
use super::result::{PacResult, truncate};
use super::url::prepare_url;

/// The environment variable naming the worker executable.
pub const WORKER_PATH_ENV: &str = "NETCORE_PAC_WORKER";
/// The most addresses passed to the script for one name.
pub const MAX_ADDRESSES_PER_ANSWER: usize = 64;
/// The worker executable's file name.
pub const WORKER_FILE_NAME: &str = "netcore-pac-worker";

/// Limits and locations of PAC evaluation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PacConfig {
    /// The worker executable; `None` looks it up with [`locate_worker`].
    pub worker_path: Option<PathBuf>,
    /// Wall-clock time one `FindProxyForURL` call may run (time spent waiting for DNS
    /// answers is not counted; it has its own budget, [`PacConfig::dns_timeout`]).
    /// Default 200 ms.
    pub call_deadline: Duration,
    /// Wall-clock time loading a script may take. Default 2 s.
    pub load_deadline: Duration,
    /// Time all DNS lookups of one call may take together (a lookup that finds the
    /// budget used up fails at once). Default 2 s.
    pub dns_timeout: Duration,
    /// The address-space limit of the worker process, in bytes. Default 512 MiB.
    pub memory_limit_bytes: u64,
    /// The engine limits.
    pub engine: EngineLimits,
    /// The largest script accepted, in bytes. Default 1 MiB.
    pub max_script_bytes: usize,
    /// The network DNS helpers resolve on ([`NetHandle::NONE`]: the default network).
    pub net: NetHandle,
}

impl Default for PacConfig {
    fn default() -> Self {
        Self {
            worker_path: None,
            call_deadline: Duration::from_millis(200),
            load_deadline: Duration::from_secs(2),
            dns_timeout: Duration::from_secs(2),
            memory_limit_bytes: 512 << 20,
            engine: EngineLimits {
                loop_iteration_limit: 1_000_000,
                recursion_limit: 1_000,
                stack_size_limit: 100_000,
                max_dns_lookups_per_call: 32,
            },
            max_script_bytes: 1 << 20,
            net: NetHandle::NONE,
        }
    }
}

/// Finds the worker executable: `$NETCORE_PAC_WORKER`, else `netcore-pac-worker` next
/// to the current executable or in its parent directory (where cargo puts binaries
/// for tests in `deps/`). 2100002 when none is found.
pub fn locate_worker() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(WORKER_PATH_ENV) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()
        .map_err(|e| Error::Service(format!("PAC worker: no current executable: {e}")))?;
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(WORKER_FILE_NAME))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            Error::Service(format!(
                "PAC worker: {WORKER_FILE_NAME} not found next to {} (set {WORKER_PATH_ENV})",
                exe.display()
            ))
        })
}

/// A running worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

struct State {
    script: Option<Arc<str>>,
    worker: Option<Worker>,
}

/// Evaluates PAC scripts in a sandboxed worker process.
///
/// Calls are serialized. A call that overruns [`PacConfig::call_deadline`], or whose
/// worker dies (memory limit, crash), fails with 2100002; the worker is killed and the
/// next call starts a fresh one with the same script.
pub struct PacEvaluator {
    config: PacConfig,
    resolver: Arc<dyn Resolve>,
    clock: Arc<dyn Clock>,
    my_addresses: StdMutex<Vec<IpAddr>>,
    state: Mutex<State>,
}

fn worker_failure(what: &str, error: impl std::fmt::Display) -> Error {
    Error::Service(format!("PAC worker: {what}: {error}"))
}

impl PacEvaluator {
    /// An evaluator with no script, resolving through `resolver`, reading the system
    /// clock.
    pub fn new(config: PacConfig, resolver: Arc<dyn Resolve>) -> Self {
        Self::with_clock(config, resolver, Arc::new(SystemClock))
    }

    /// An evaluator whose time helpers read `clock`.
    pub fn with_clock(
        config: PacConfig,
        resolver: Arc<dyn Resolve>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            config,
            resolver,
            clock,
            my_addresses: StdMutex::new(Vec::new()),
            state: Mutex::new(State {
                script: None,
                worker: None,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PacConfig {
        &self.config
    }

    /// Sets what `myIpAddress` (first IPv4, else `127.0.0.1`) and `myIpAddressEx` (all,
    /// `;`-separated) return.
    pub fn set_my_addresses(&self, addresses: Vec<IpAddr>) {
        if let Ok(mut guard) = self.my_addresses.lock() {
            *guard = addresses;
        }
    }

    /// Whether a script is loaded.
    pub async fn has_script(&self) -> bool {
        self.state.lock().await.script.is_some()
    }

    /// Compiles and runs `script` in a fresh worker. On success it replaces the current
    /// script; on failure (too large: 2100001; syntax error, exception, no
    /// `FindProxyForURL`, overrun: 2100002) the current script stays.
    pub async fn load(&self, script: &str) -> Result<()> {
        if script.len() > self.config.max_script_bytes {
            return Err(Error::invalid(format!(
                "the PAC script has {} bytes, more than the {} allowed",
                script.len(),
                self.config.max_script_bytes
            )));
        }
        let worker = self.spawn_and_load(script).await?;
        let mut state = self.state.lock().await;
        if let Some(old) = state.worker.take() {
            stop(old).await;
        }
        state.script = Some(Arc::from(script));
        state.worker = Some(worker);
        Ok(())
    }

    /// Forgets the script (and stops the worker).
    pub async fn clear(&self) {
        let mut state = self.state.lock().await;
        state.script = None;
        if let Some(old) = state.worker.take() {
            stop(old).await;
        }
    }

    /// Runs the script for `url`: `Ok(None)` when no script is loaded, else the
    /// parsed result. A bad URL is 2100001; a failing script, an overrun, a dead
    /// worker or a malformed result is 2100002.
    pub async fn find_proxy(&self, url: &str) -> Result<Option<PacResult>> {
        let prepared = prepare_url(url)?;
        let mut state = self.state.lock().await;
        let Some(script) = state.script.clone() else {
            return Ok(None);
        };
        let mut worker = match state.worker.take() {
            Some(worker) => worker,
            None => self.spawn_and_load(&script).await?,
        };
        let my_addresses = self
            .my_addresses
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        let request = ToWorker::Find {
            url: prepared.url,
            host: prepared.host,
            now: self.clock.now(),
            my_addresses,
        };
        match self
            .exchange(&mut worker, &request, self.config.call_deadline)
            .await
        {
            Ok(FromWorker::Found { result }) => {
                state.worker = Some(worker);
                drop(state);
                PacResult::parse(&result).map(Some)
            }
            Ok(FromWorker::Failed { message }) => {
                state.worker = Some(worker);
                Err(Error::Service(format!("PAC script: {message}")))
            }
            Ok(other) => {
                stop(worker).await;
                Err(worker_failure("unexpected reply", format!("{other:?}")))
            }
            Err(error) => {
                stop(worker).await;
                Err(error)
            }
        }
    }

    async fn spawn_and_load(&self, script: &str) -> Result<Worker> {
        let mut worker = self.spawn()?;
        let request = ToWorker::Load {
            script: script.to_owned(),
            limits: self.config.engine,
        };
        match self
            .exchange(&mut worker, &request, self.config.load_deadline)
            .await
        {
            Ok(FromWorker::Loaded) => Ok(worker),
            Ok(FromWorker::Failed { message }) => {
                stop(worker).await;
                Err(Error::Service(format!("PAC script: {message}")))
            }
            Ok(other) => {
                stop(worker).await;
                Err(worker_failure("unexpected reply", format!("{other:?}")))
            }
            Err(error) => {
                stop(worker).await;
                Err(error)
            }
        }
    }

    fn spawn(&self) -> Result<Worker> {
        let path = match &self.config.worker_path {
            Some(path) => path.clone(),
            None => locate_worker()?,
        };
        let mut command = Command::new(&path);
        command
            .arg("--memory-limit")
            .arg(self.config.memory_limit_bytes.to_string())
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // A worker file that was just written can be "busy" for a moment (another
        // thread forked while it was open for writing): try again a few times.
        let mut tries = 0;
        let mut child = loop {
            match command.spawn() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 5 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                spawned => {
                    break spawned
                        .map_err(|e| worker_failure(&format!("starting {}", path.display()), e))?;
                }
            }
        };
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(worker_failure("starting", "no pipes"));
        };
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(log_worker_stderr(stderr));
        }
        tracing::debug!(path = %path.display(), pid = child.id(), "PAC worker started");
        Ok(Worker {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// Sends `request` and waits for the final reply, serving DNS questions and
    /// alerts on the way. Only time the worker spends running counts against
    /// `deadline`.
    async fn exchange(
        &self,
        worker: &mut Worker,
        request: &ToWorker,
        deadline: Duration,
    ) -> Result<FromWorker> {
        write_frame_async(&mut worker.stdin, request, MAX_TO_WORKER_BYTES)
            .await
            .map_err(|e| worker_failure("sending", e))?;
        let mut budget = deadline;
        let mut dns_budget = self.config.dns_timeout;
        loop {
            let started = Instant::now();
            let reply = tokio::time::timeout(
                budget,
                read_frame_async::<FromWorker>(&mut worker.stdout, MAX_FROM_WORKER_BYTES),
            )
            .await;
            budget = budget.saturating_sub(started.elapsed());
            let message = match reply {
                Err(_) => {
                    tracing::warn!(
                        ?deadline,
                        "PAC script overran its deadline; killing the worker"
                    );
                    return Err(Error::Service(format!(
                        "PAC script ran longer than {} ms and was stopped",
                        deadline.as_millis()
                    )));
                }
                Ok(Err(FrameError::Io(e))) => {
                    let status = worker.child.try_wait().ok().flatten();
                    tracing::warn!(?status, "PAC worker died");
                    return Err(worker_failure(
                        "the worker died (out of memory or crashed)",
                        status.map_or_else(|| e.to_string(), |s| s.to_string()),
                    ));
                }
                Ok(Err(error)) => return Err(worker_failure("bad message", error)),
                Ok(Ok(message)) => message,
            };
            match message {
                FromWorker::Resolve { host, family } => {
                    let lookup = self.resolver.resolve(self.config.net, &host, family);
                    let started = Instant::now();
                    let answer = tokio::time::timeout(dns_budget, lookup).await;
                    dns_budget = dns_budget.saturating_sub(started.elapsed());
                    let addresses = match answer {
                        Ok(Ok(mut addresses)) => {
                            addresses.truncate(MAX_ADDRESSES_PER_ANSWER);
                            Some(addresses)
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%host, %error, "PAC DNS lookup failed");
                            None
                        }
                        Err(_) => {
                            tracing::debug!(%host, "PAC DNS budget of the call used up");
                            None
                        }
                    };
                    write_frame_async(
                        &mut worker.stdin,
                        &ToWorker::Resolved { addresses },
                        MAX_TO_WORKER_BYTES,
                    )
                    .await
                    .map_err(|e| worker_failure("sending a DNS answer", e))?;
                }
                FromWorker::Alert { message } => {
                    tracing::info!(message = truncate(&message, 2048), "PAC alert");
                }
                other => return Ok(other),
            }
        }
    }
}

/// Passes the worker's diagnostics (e.g. "memory allocation failed") to `tracing`:
/// the first 64 KiB, in chunks of at most 4 KiB; the rest is read and dropped so the
/// worker never blocks on a full pipe.
async fn log_worker_stderr(mut stderr: tokio::process::ChildStderr) {
    let mut buffer = [0; 4096];
    let mut logged = 0;
    while let Ok(read) = stderr.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        if logged < 64 * 1024 {
            logged += read;
            let text = String::from_utf8_lossy(&buffer[..read]);
            tracing::warn!(output = text.trim_end(), "PAC worker");
        }
    }
}

/// Kills a worker and reaps it.
async fn stop(mut worker: Worker) {
    if let Err(error) = worker.child.kill().await {
        tracing::debug!(%error, "killing the PAC worker");
    }
}
