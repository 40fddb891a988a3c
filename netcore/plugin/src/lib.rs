//! Bearer plugins over a small, stable C ABI.
//!
//! Rust has no stable ABI, and a plugin cannot use the host's tokio runtime (its copy
//! of tokio has its own thread-locals). So a plugin crosses this boundary only:
//!
//! - one exported symbol, [`ENTRY_SYMBOL`], returning a [`PluginHeader`] that the host
//!   reads first: ABI version, netcore version, target triple, plugin name and bearer
//!   type. On any mismatch the host refuses the plugin with an error naming both sides
//!   and calls nothing else in the library;
//! - behind the header, a [`PluginVTable`] of `extern "C"` functions. Requests and
//!   replies, and the bearer's reports, cross as serialized messages
//!   ([`HostMessage`], [`PluginMessage`]) in borrowed byte slices: the receiver copies
//!   what it needs, so each side frees only what it allocated. The structs are
//!   append-only: a newer side reads only the `struct_size` bytes the other declares;
//! - every exported function catches panics: a plugin that panics becomes a failed
//!   bearer that the host restarts with backoff;
//! - the plugin runs its own async runtime on its own thread;
//! - libraries are never unloaded.
//!
//! [`export_bearer!`](crate::export_bearer) turns any [`ExportBearer`] into a plugin;
//! [`load_plugin`] and [`load_plugins`] load them as [`PluginBearer`]s, which
//! implement [`Bearer`] like any in-process bearer.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_void};

use serde::{Deserialize, Serialize};

use netcore::bearer::{ActivationRequest, Bearer, BearerEvent};
use netcore::error::Result;
use netcore::model::NetBearType;

pub mod export;
mod host;
#[cfg(feature = "testing")]
pub mod testing;

pub use host::{PluginBearer, load_plugin, load_plugin_with, load_plugins};

/// The environment variable that overrides the configured plugin directory.
pub const PLUGIN_DIR_ENV: &str = "NETCORE_PLUGIN_DIR";

/// The version of this ABI. A plugin of another version is refused.
pub const ABI_VERSION: u32 = 1;

/// The name of the one symbol a plugin exports: an `extern "C" fn() -> *const
/// PluginHeader`.
pub const ENTRY_SYMBOL: &str = "netcore_plugin_entry";

/// The netcore version the host and plugins are built from; they must match.
pub const NETCORE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The target triple the host and plugins are built for; they must match.
pub const TARGET: &str = env!("NETCORE_TARGET");

/// The largest message that crosses the boundary, in bytes; larger ones are refused.
pub const MAX_MESSAGE_LEN: usize = 1 << 20;

/// The type of [`ENTRY_SYMBOL`].
pub type EntryFn = unsafe extern "C" fn() -> *const PluginHeader;

/// What the host reads first. Strings are NUL-terminated and static.
#[repr(C)]
pub struct PluginHeader {
    /// [`ABI_VERSION`] of the plugin.
    pub abi_version: u32,
    /// The size of this struct as the plugin knows it (append-only).
    pub header_size: u32,
    /// [`NETCORE_VERSION`] of the plugin.
    pub netcore_version: *const c_char,
    /// [`TARGET`] of the plugin.
    pub target: *const c_char,
    /// The plugin's name.
    pub name: *const c_char,
    /// The seed number of the bearer type it provides.
    pub bearer_type: u8,
    /// The functions; read only once everything above matched.
    pub vtable: *const PluginVTable,
}

/// A header in a `static`: the raw pointers it holds point to static data.
#[repr(transparent)]
pub struct StaticHeader(pub PluginHeader);

// SAFETY: every pointer in a plugin's header points to immutable static data.
unsafe impl Sync for StaticHeader {}

/// A borrowed byte slice crossing the boundary; valid only during the call.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Bytes {
    /// Start of the bytes.
    pub ptr: *const u8,
    /// Number of bytes.
    pub len: usize,
}

impl Bytes {
    /// Borrows `bytes` for a call.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// Copies the bytes out, refusing more than [`MAX_MESSAGE_LEN`].
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes for the duration of the call.
    pub unsafe fn to_vec(self) -> Option<Vec<u8>> {
        if self.len > MAX_MESSAGE_LEN || (self.ptr.is_null() && self.len > 0) {
            return None;
        }
        if self.len == 0 {
            return Some(Vec::new());
        }
        // SAFETY: the caller guarantees `ptr` points to `len` readable bytes.
        Some(unsafe { std::slice::from_raw_parts(self.ptr, self.len) }.to_vec())
    }
}

/// How a plugin talks to the host: `deliver(context, message)` hands over one
/// serialized [`PluginMessage`]. It may be called from any thread.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct HostCallbacks {
    /// The host's context for `deliver`.
    pub context: *mut c_void,
    /// Receives a message; the host copies it before returning.
    pub deliver: unsafe extern "C" fn(context: *mut c_void, message: Bytes),
}

// SAFETY: the host's `deliver` is thread-safe and its context outlives the plugin
// instance (the host frees it only after `destroy`).
unsafe impl Send for HostCallbacks {}
// SAFETY: as above; `deliver` only reads the context through shared references.
unsafe impl Sync for HostCallbacks {}

/// The plugin's functions. Every one catches panics.
#[repr(C)]
pub struct PluginVTable {
    /// The size of this struct as the plugin knows it (append-only).
    pub vtable_size: u32,
    /// Creates an instance from a JSON configuration. On failure returns null and
    /// reports the reason as a [`PluginMessage::Error`] through `host`.
    pub create: unsafe extern "C" fn(config: Bytes, host: HostCallbacks) -> *mut c_void,
    /// Hands the instance one serialized [`HostMessage`]; returns 0 when accepted.
    pub request: unsafe extern "C" fn(instance: *mut c_void, message: Bytes) -> i32,
    /// Stops and frees the instance.
    pub destroy: unsafe extern "C" fn(instance: *mut c_void),
}

/// A message from the host to a plugin instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostMessage {
    /// Run the bearer; it reports until it ends with [`PluginMessage::Ended`].
    Run,
    /// Activate a network; answered by [`PluginMessage::Reply`] with `id`.
    Activate {
        /// The request's id.
        id: u64,
        /// What to activate.
        request: ActivationRequest,
    },
    /// Release a network; answered by [`PluginMessage::Reply`] with `id`.
    Release {
        /// The request's id.
        id: u64,
        /// The network's key.
        key: String,
    },
}

/// A message from a plugin instance to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PluginMessage {
    /// A bearer report (boxed: a network's report is large).
    Report(Box<BearerEvent>),
    /// The bearer's run ended: `Ok` when it stopped, `Err` with the reason when it
    /// failed or panicked.
    Ended(std::result::Result<(), String>),
    /// The answer to an activation or release.
    Reply {
        /// The request's id.
        id: u64,
        /// `Err` with the reason when it failed.
        result: std::result::Result<(), String>,
    },
    /// Something went wrong outside a request (creation failed).
    Error(String),
}

/// A bearer that can be exported as a plugin with
/// [`export_bearer!`](crate::export_bearer).
pub trait ExportBearer: Bearer + Sized {
    /// The plugin's name, as a C string literal (`c"ethernet"`).
    const NAME: &'static std::ffi::CStr;
    /// The bearer type of its networks.
    const BEARER_TYPE: NetBearType;

    /// Builds the bearer from its JSON configuration (`null` when there is none).
    /// Called on the plugin's own runtime.
    fn from_config(config: serde_json::Value) -> Result<Self>;
}
