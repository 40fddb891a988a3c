//! Helpers for system tests that need network namespaces (feature `testing`).
//!
//! ```no_run
//! use netcore_link::testing::{NetNs, skip_unless_root};
//! if skip_unless_root() {
//!     return;
//! }
//! let ns = NetNs::create().unwrap();
//! ns.add_veth("veth0", "veth1").unwrap();
//! let links = ns
//!     .run_async(|| async { netcore_link::LinkClient::connect()?.links().await })
//!     .unwrap()
//!     .unwrap();
//! assert!(links.iter().any(|l| l.name == "veth0"));
//! // `ns` is deleted when dropped, with everything in it, also when a test fails.
//! ```
//!
//! Code runs inside a namespace on a dedicated thread that entered it with `setns`
//! and got its own mount namespace with a fresh `/sys`, so sysfs shows the
//! namespace's own interfaces. Async code gets a single-threaded tokio runtime built
//! on that thread.

use std::fs::File;
use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

use crate::error::{LinkError, Result};

/// What a test prints when it is skipped for want of root.
pub const SKIP_MESSAGE: &str = "skipped: needs root (creates network namespaces)";

/// Whether the process runs as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Prints [`SKIP_MESSAGE`] and returns `true` when not root: a test calls it first and
/// returns when it says so.
pub fn skip_unless_root() -> bool {
    if is_root() {
        false
    } else {
        println!("{SKIP_MESSAGE}");
        true
    }
}

/// Runs `ip ARGS`, returning its standard output or an error with its standard error.
pub fn ip(args: &[&str]) -> Result<String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| LinkError::Namespace(format!("cannot run ip {args:?}: {e}")))?;
    if !output.status.success() {
        return Err(LinkError::Namespace(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A network namespace named `nctest-*`, deleted (with its interfaces) on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates a namespace with a fresh name and brings its loopback up.
    pub fn create() -> Result<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "nctest-{}-{}-{:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        ip(&["netns", "add", &name])?;
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace's bind mount, `/var/run/netns/NAME`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.name)
    }

    /// Runs `ip -n NAME ARGS` inside the namespace.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Creates a veth pair with both ends in the namespace and brings both up.
    pub fn add_veth(&self, name: &str, peer: &str) -> Result<()> {
        self.ip(&["link", "add", name, "type", "veth", "peer", "name", peer])?;
        self.ip(&["link", "set", name, "up"])?;
        self.ip(&["link", "set", peer, "up"])?;
        Ok(())
    }

    /// Creates a veth pair with `name` in this namespace and `peer` in `other`, and
    /// brings both up.
    pub fn add_veth_to(&self, name: &str, peer: &str, other: &NetNs) -> Result<()> {
        self.ip(&[
            "link",
            "add",
            name,
            "type",
            "veth",
            "peer",
            "name",
            peer,
            "netns",
            other.name(),
        ])?;
        self.ip(&["link", "set", name, "up"])?;
        other.ip(&["link", "set", peer, "up"])?;
        Ok(())
    }

    /// Runs `f` on a thread inside the namespace and returns its result; a panic in
    /// `f` is resumed in the caller.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let path = self.path();
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    enter(&path)?;
                    Ok(f())
                })
                .join()
                // A panic (a failed assertion) goes on in the caller's thread.
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Runs the future made by `f` on a single-threaded tokio runtime of a thread
    /// inside the namespace.
    pub fn run_async<T: Send, Fut: Future<Output = T>>(
        &self,
        f: impl FnOnce() -> Fut + Send,
    ) -> Result<T> {
        self.run(move || runtime().map(|rt| rt.block_on(f())))?
    }

    /// Starts the future made by `f` on a thread inside the namespace (with its own
    /// single-threaded tokio runtime) and returns at once; join the handle for the
    /// result. The namespace must outlive the thread's use of it.
    pub fn spawn<T, Fut>(&self, f: impl FnOnce() -> Fut + Send + 'static) -> JoinHandle<Result<T>>
    where
        T: Send + 'static,
        Fut: Future<Output = T>,
    {
        let path = self.path();
        std::thread::spawn(move || {
            enter(&path)?;
            Ok(runtime()?.block_on(f()))
        })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("cannot delete network namespace {}: {e}", self.name);
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LinkError::Namespace(format!("cannot build a tokio runtime: {e}")))
}

/// Moves the calling thread into the network namespace at `path`, and into a mount
/// namespace of its own with the namespace's sysfs at `/sys`.
pub fn enter(path: &std::path::Path) -> Result<()> {
    let file = File::open(path)
        .map_err(|e| LinkError::Namespace(format!("cannot open {}: {e}", path.display())))?;
    setns(&file, CloneFlags::CLONE_NEWNET)
        .map_err(|e| LinkError::Namespace(format!("setns {}: {e}", path.display())))?;
    // A private view of /sys: sysfs shows the network namespace of whoever mounts it.
    let remount = || -> nix::Result<()> {
        unshare(CloneFlags::CLONE_NEWNS)?;
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        )?;
        umount2("/sys", MntFlags::MNT_DETACH)?;
        mount(
            Some("sysfs"),
            "/sys",
            Some("sysfs"),
            MsFlags::empty(),
            None::<&str>,
        )
    };
    if let Err(e) = remount() {
        tracing::warn!(error = %e, "cannot remount /sys in the namespace; sysfs facts stay unknown");
    }
    Ok(())
}

/// Watches `interface` in the calling thread's namespace (from a thread of its own)
/// and sends `(has carrier, when the kernel's notification was read)` at each
/// carrier change: the kernel side of latency measurements. Returns once the
/// watcher listens.
pub fn watch_carrier(interface: &str) -> std::sync::mpsc::Receiver<(bool, std::time::Instant)> {
    let interface = interface.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok(rt) = runtime() else { return };
        rt.block_on(async move {
            let Ok(mut watcher) = crate::LinkWatcher::start().await else {
                return;
            };
            let _ = ready_tx.send(());
            let mut carrier = watcher
                .state()
                .link_by_name(&interface)
                .map(|l| l.has_carrier());
            while let Ok(event) = watcher.next_event().await {
                if let crate::LinkEvent::LinkChanged(link) = event
                    && link.name == interface
                    && Some(link.has_carrier()) != carrier
                {
                    carrier = Some(link.has_carrier());
                    let at = watcher
                        .last_receive_time()
                        .unwrap_or_else(std::time::Instant::now);
                    if tx.send((link.has_carrier(), at)).is_err() {
                        return;
                    }
                }
            }
        });
    });
    let _ = ready.recv();
    rx
}

/// A bearer run in a namespace the way the host runs it (again 100 ms after each
/// failure), with its reports and the results of its runs collected. Stopped when
/// dropped.
pub struct BearerRunner {
    key: String,
    timeout: std::time::Duration,
    events: std::sync::mpsc::Receiver<(netcore::BearerEvent, std::time::Instant)>,
    results: std::sync::mpsc::Receiver<netcore::Result<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl BearerRunner {
    /// Runs `bearer` in `ns`; [`BearerRunner::appeared`] and [`BearerRunner::gone`]
    /// expect reports of network `key`, each within `timeout`.
    pub fn start<B: netcore::Bearer + 'static>(
        ns: &NetNs,
        bearer: B,
        key: &str,
        timeout: std::time::Duration,
    ) -> Self {
        let (events_tx, events) = std::sync::mpsc::channel();
        let (results_tx, results) = std::sync::mpsc::channel();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = ns.spawn(move || async move {
            let sink = netcore::ReportSink::new(move |event| {
                let _ = events_tx.send((event, std::time::Instant::now()));
            });
            loop {
                tokio::select! {
                    result = bearer.run(sink.clone()) => {
                        let _ = results_tx.send(result);
                    }
                    _ = &mut stopped => return,
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        });
        Self {
            key: key.to_owned(),
            timeout,
            events,
            results,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The next report, whatever it is, with the time the sink got it.
    pub fn next_report(&self, what: &str) -> (netcore::BearerEvent, std::time::Instant) {
        self.events
            .recv_timeout(self.timeout)
            .unwrap_or_else(|e| panic!("no report for {what} within {:?}: {e}", self.timeout))
    }

    /// The next report other than a `Changed` (the kernel finishing address setup
    /// changes the properties at its own pace), with the time the sink got it.
    pub fn next_at(&self, what: &str) -> (netcore::BearerEvent, std::time::Instant) {
        loop {
            match self.next_report(what) {
                (netcore::BearerEvent::Changed { .. }, _) => continue,
                report => return report,
            }
        }
    }

    /// The next report other than a `Changed`.
    pub fn next(&self, what: &str) -> netcore::BearerEvent {
        self.next_at(what).0
    }

    /// The network of the next report, which must be `Appeared` of the key.
    pub fn appeared(&self, what: &str) -> netcore::NetworkInfo {
        match self.next(what) {
            netcore::BearerEvent::Appeared { key, info } if key == self.key => info,
            other => panic!(
                "expected Appeared of {} for {what}, got {other:?}",
                self.key
            ),
        }
    }

    /// The next report, which must be `Gone` of the key.
    pub fn gone(&self, what: &str) {
        match self.next(what) {
            netcore::BearerEvent::Gone { key } if key == self.key => {}
            other => panic!("expected Gone of {} for {what}, got {other:?}", self.key),
        }
    }

    /// The error of the next run that failed.
    pub fn failed(&self, what: &str) -> netcore::Error {
        match self.results.recv_timeout(self.timeout) {
            Ok(Err(e)) => e,
            other => panic!("expected run to fail for {what}, got {other:?}"),
        }
    }

    /// The results of the runs that ended since the last look.
    pub fn ended_runs(&self) -> Vec<netcore::Result<()>> {
        self.results.try_iter().collect()
    }
}

impl Drop for BearerRunner {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if !std::thread::panicking() {
                result.expect("bearer thread panicked").expect("namespace");
            }
        }
    }
}
