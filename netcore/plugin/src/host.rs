//! The host side of the ABI: loading plugins and driving them as bearers.

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures::channel::oneshot;

use crate::{
    ABI_VERSION, Bytes, ENTRY_SYMBOL, EntryFn, HostCallbacks, HostMessage, NETCORE_VERSION,
    PluginHeader, PluginMessage, PluginVTable, TARGET,
};
use netcore::bearer::{ActivationRequest, Bearer, ReportSink};
use netcore::error::{Error, Result};
use netcore::model::NetBearType;

/// How long the host waits for a plugin's reply to an activation or release.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

type Reply = std::result::Result<(), String>;

/// What the host keeps for one plugin instance; `deliver` routes messages here.
struct HostSide {
    name: String,
    sink: Mutex<Option<ReportSink>>,
    ended: Mutex<Option<oneshot::Sender<Reply>>>,
    replies: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    create_error: Mutex<Option<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl HostSide {
    fn receive(&self, message: Bytes) {
        // SAFETY: the plugin passes a slice valid for this call.
        let Some(bytes) = (unsafe { message.to_vec() }) else {
            tracing::warn!(
                plugin = self.name,
                "refused a plugin message over the size cap"
            );
            return;
        };
        let message: PluginMessage = match serde_json::from_slice(&bytes) {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(
                    plugin = self.name,
                    "refused a plugin message that does not parse: {e}"
                );
                return;
            }
        };
        match message {
            PluginMessage::Report(event) => {
                if let Some(sink) = lock(&self.sink).as_ref() {
                    sink.report(*event);
                }
            }
            PluginMessage::Ended(result) => {
                *lock(&self.sink) = None;
                if let Some(ended) = lock(&self.ended).take() {
                    let _ = ended.send(result);
                }
            }
            PluginMessage::Reply { id, result } => {
                if let Some(reply) = lock(&self.replies).remove(&id) {
                    let _ = reply.send(result);
                }
            }
            PluginMessage::Error(reason) => {
                tracing::warn!(plugin = self.name, "plugin error: {reason}");
                *lock(&self.create_error) = Some(reason);
            }
        }
    }
}

/// `deliver` of the host's callbacks.
unsafe extern "C" fn deliver(context: *mut c_void, message: Bytes) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if context.is_null() {
            return;
        }
        // SAFETY: the context is the leaked `HostSide` of this instance, never freed.
        let side = unsafe { &*context.cast::<HostSide>() };
        side.receive(message);
    }));
}

/// A bearer provided by a plugin library.
pub struct PluginBearer {
    name: String,
    path: PathBuf,
    bearer_type: NetBearType,
    vtable: &'static PluginVTable,
    instance: *mut c_void,
    side: &'static HostSide,
    next_id: AtomicU64,
}

// SAFETY: the plugin's `request` may be called from any thread (it only queues work on
// the plugin's own runtime), and the instance lives until `destroy` in `Drop`.
unsafe impl Send for PluginBearer {}
// SAFETY: as above; no method mutates the instance pointer.
unsafe impl Sync for PluginBearer {}

impl std::fmt::Debug for PluginBearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginBearer")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("bearer_type", &self.bearer_type)
            .finish()
    }
}

impl PluginBearer {
    /// The file the plugin was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, message: &HostMessage) -> Result<()> {
        let bytes = serde_json::to_vec(message)
            .map_err(|e| Error::Internal(format!("cannot encode a plugin message: {e}")))?;
        // SAFETY: the instance is alive (destroyed only in Drop) and `bytes` outlives
        // the call; the plugin copies it.
        let status = unsafe { (self.vtable.request)(self.instance, Bytes::of(&bytes)) };
        if status == 0 {
            Ok(())
        } else {
            Err(Error::Service(format!(
                "plugin {} refused a request (status {status})",
                self.name
            )))
        }
    }

    async fn call(&self, make: impl FnOnce(u64) -> HostMessage) -> Result<()> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.side.replies).insert(id, tx);
        if let Err(e) = self.send(&make(id)) {
            lock(&self.side.replies).remove(&id);
            return Err(e);
        }
        let timeout = futures_timer(REPLY_TIMEOUT);
        futures::pin_mut!(timeout);
        match futures::future::select(rx, timeout).await {
            futures::future::Either::Left((Ok(Ok(())), _)) => Ok(()),
            futures::future::Either::Left((Ok(Err(reason)), _)) => {
                Err(Error::Service(format!("plugin {}: {reason}", self.name)))
            }
            _ => {
                lock(&self.side.replies).remove(&id);
                Err(Error::Service(format!(
                    "plugin {} did not answer",
                    self.name
                )))
            }
        }
    }
}

/// A future that completes after `duration`, on the tokio timer.
async fn futures_timer(duration: Duration) {
    tokio::time::sleep(duration).await;
}

#[async_trait]
impl Bearer for PluginBearer {
    fn bearer_type(&self) -> NetBearType {
        self.bearer_type
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn run(&self, sink: ReportSink) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        *lock(&self.side.ended) = Some(tx);
        *lock(&self.side.sink) = Some(sink);
        self.send(&HostMessage::Run)?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(Error::Service(format!("plugin {}: {reason}", self.name))),
            Err(_) => Err(Error::Service(format!("plugin {} went away", self.name))),
        }
    }

    async fn activate(&self, request: ActivationRequest) -> Result<()> {
        self.call(|id| HostMessage::Activate { id, request }).await
    }

    async fn release(&self, key: &str) -> Result<()> {
        let key = key.to_owned();
        self.call(|id| HostMessage::Release { id, key }).await
    }
}

impl Drop for PluginBearer {
    fn drop(&mut self) {
        // SAFETY: the instance came from this plugin's `create` and is destroyed once.
        unsafe { (self.vtable.destroy)(self.instance) };
    }
}

/// Reads a static C string of a plugin's header.
///
/// # Safety
/// `text` must be null or point to a NUL-terminated string that stays valid.
unsafe fn header_text(text: *const c_char, field: &str, path: &Path) -> Result<String> {
    if text.is_null() {
        return Err(refused(path, format!("its header has no {field}")));
    }
    // SAFETY: the caller guarantees a NUL-terminated static string.
    Ok(unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned())
}

fn refused(path: &Path, why: String) -> Error {
    Error::Service(format!("plugin {} refused: {why}", path.display()))
}

/// Loads the plugin at `path` and creates its bearer with `config` (JSON).
///
/// The header is checked before anything else in the library is called: an ABI
/// version, netcore version or target that differs from the host's is refused with an
/// error naming both. A file that is not a shared library, or has no
/// [`ENTRY_SYMBOL`], is refused too. The library is never unloaded.
pub fn load_plugin(path: &Path, config: &serde_json::Value) -> Result<PluginBearer> {
    load_plugin_with(path, |_| config.clone())
}

/// Like [`load_plugin`], with the configuration chosen by the plugin's name (read
/// from its header) through `config_for`.
pub fn load_plugin_with(
    path: &Path,
    config_for: impl FnOnce(&str) -> serde_json::Value,
) -> Result<PluginBearer> {
    // SAFETY: loading a library runs its initializers; the plugin directory holds
    // plugins the device maker installed, and Rust cdylibs have none of their own.
    let library = unsafe { libloading::Library::new(path) }
        .map_err(|e| refused(path, format!("cannot load it: {e}")))?;
    // SAFETY: the symbol, when present, has the type of `EntryFn` by the ABI.
    let entry: libloading::Symbol<'_, EntryFn> = unsafe { library.get(ENTRY_SYMBOL.as_bytes()) }
        .map_err(|_| {
            refused(
                path,
                format!("it exports no {ENTRY_SYMBOL}: not a netcore plugin"),
            )
        })?;
    // SAFETY: the entry point returns a pointer to its static header.
    let header = unsafe { entry() };
    if header.is_null() {
        return Err(refused(path, "its entry point returned no header".into()));
    }
    // SAFETY: `abi_version` is the first field of every version of the header.
    let abi_version = unsafe { (*header).abi_version };
    if abi_version != ABI_VERSION {
        return Err(refused(
            path,
            format!("plugin ABI version {abi_version}, host ABI version {ABI_VERSION}"),
        ));
    }
    // SAFETY: same ABI version: the header has this layout and static lifetime.
    let header: &'static PluginHeader = unsafe { &*header };
    if (header.header_size as usize) < std::mem::size_of::<PluginHeader>() {
        return Err(refused(
            path,
            format!("header of {} bytes is too short", header.header_size),
        ));
    }
    // SAFETY: the header's strings are static and NUL-terminated.
    let (version, target, name) = unsafe {
        (
            header_text(header.netcore_version, "netcore version", path)?,
            header_text(header.target, "target", path)?,
            header_text(header.name, "name", path)?,
        )
    };
    if version != NETCORE_VERSION {
        return Err(refused(
            path,
            format!("plugin netcore version {version}, host netcore version {NETCORE_VERSION}"),
        ));
    }
    if target != TARGET {
        return Err(refused(
            path,
            format!("plugin target {target}, host target {TARGET}"),
        ));
    }
    let bearer_type = NetBearType::try_from(i64::from(header.bearer_type)).map_err(|_| {
        refused(
            path,
            format!("bearer type {} is unknown", header.bearer_type),
        )
    })?;
    if header.vtable.is_null() {
        return Err(refused(path, "its header has no functions".into()));
    }
    // SAFETY: non-null, static, of this ABI version.
    let vtable: &'static PluginVTable = unsafe { &*header.vtable };
    if (vtable.vtable_size as usize) < std::mem::size_of::<PluginVTable>() {
        return Err(refused(
            path,
            format!(
                "function table of {} bytes is too short",
                vtable.vtable_size
            ),
        ));
    }
    // Never unloaded: the plugin's code and statics stay valid for the process.
    std::mem::forget(library);

    let side: &'static HostSide = Box::leak(Box::new(HostSide {
        name: name.clone(),
        sink: Mutex::new(None),
        ended: Mutex::new(None),
        replies: Mutex::new(HashMap::new()),
        create_error: Mutex::new(None),
    }));
    let callbacks = HostCallbacks {
        context: std::ptr::from_ref(side).cast_mut().cast(),
        deliver,
    };
    let config = serde_json::to_vec(&config_for(&name))
        .map_err(|e| Error::Internal(format!("cannot encode the plugin configuration: {e}")))?;
    // SAFETY: `config` outlives the call; `callbacks` stay valid for the process.
    let instance = unsafe { (vtable.create)(Bytes::of(&config), callbacks) };
    if instance.is_null() {
        let why = lock(&side.create_error)
            .take()
            .unwrap_or_else(|| "no reason given".into());
        return Err(refused(path, format!("it could not start: {why}")));
    }
    tracing::info!(plugin = name, path = %path.display(), bearer = %bearer_type, "loaded plugin");
    Ok(PluginBearer {
        name,
        path: path.to_path_buf(),
        bearer_type,
        vtable,
        instance,
        side,
        next_id: AtomicU64::new(1),
    })
}

/// Loads every `*.so` in `dir`, in name order, each with the configuration
/// `config_for(plugin name)` gives. Logs what it loaded and what it refused and why;
/// returns both.
pub fn load_plugins(
    dir: &Path,
    config_for: impl Fn(&str) -> serde_json::Value,
) -> Vec<(PathBuf, Result<PluginBearer>)> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "so"))
            .collect(),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), "cannot read the plugin directory: {e}");
            return Vec::new();
        }
    };
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let result = load_plugin_with(&path, &config_for);
            if let Err(e) = &result {
                tracing::warn!("{e}");
            }
            (path, result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_MESSAGE_LEN;
    use netcore::bearer::BearerEvent;
    use std::sync::Arc;

    fn side(seen: Arc<Mutex<Vec<BearerEvent>>>) -> HostSide {
        HostSide {
            name: "test".into(),
            sink: Mutex::new(Some(ReportSink::new(move |e| seen.lock().unwrap().push(e)))),
            ended: Mutex::new(None),
            replies: Mutex::new(HashMap::new()),
            create_error: Mutex::new(None),
        }
    }

    #[test]
    fn malformed_and_oversized_messages_are_dropped() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let side = side(seen.clone());
        side.receive(Bytes::of(b"{not json"));
        side.receive(Bytes::of(br#"{"Report": {"Gone": {"key": 5}}}"#));
        let huge = vec![b' '; MAX_MESSAGE_LEN + 1];
        side.receive(Bytes::of(&huge));
        side.receive(Bytes {
            ptr: std::ptr::null(),
            len: 10,
        });
        assert!(seen.lock().unwrap().is_empty());
        let good = serde_json::to_vec(&PluginMessage::Report(Box::new(BearerEvent::Gone {
            key: "a".into(),
        })))
        .unwrap();
        side.receive(Bytes::of(&good));
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}
