//! The plugin side of the ABI: what [`export_bearer!`](crate::export_bearer)
//! expands to. Not for direct use.

#![allow(unsafe_code)]

use std::ffi::{CStr, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use futures::FutureExt;

use crate::{
    ABI_VERSION, Bytes, ExportBearer, HostCallbacks, HostMessage, PluginHeader, PluginMessage,
    PluginVTable,
};
use netcore::bearer::ReportSink;

/// A plugin instance: the bearer and the runtime it runs on.
struct Instance<T> {
    bearer: Arc<T>,
    runtime: tokio::runtime::Runtime,
    host: HostCallbacks,
}

fn send(host: HostCallbacks, message: &PluginMessage) {
    if let Ok(bytes) = serde_json::to_vec(message) {
        // SAFETY: `bytes` lives across the call; the host copies it.
        unsafe { (host.deliver)(host.context, Bytes::of(&bytes)) }
    }
}

fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// `create` of the vtable for `T`.
///
/// # Safety
/// `config` must be valid for the call; `host` must stay valid until `destroy`.
pub unsafe extern "C" fn create<T: ExportBearer>(
    config: Bytes,
    host: HostCallbacks,
) -> *mut c_void {
    let made = catch_unwind(AssertUnwindSafe(|| -> Result<*mut c_void, String> {
        // SAFETY: the host passes a slice valid for this call.
        let config = unsafe { config.to_vec() }.ok_or("configuration too large")?;
        let config: serde_json::Value = if config.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&config).map_err(|e| format!("configuration: {e}"))?
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("netcore-plugin-{}", T::NAME.to_string_lossy()))
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the plugin runtime: {e}"))?;
        let bearer = runtime
            .block_on(async { T::from_config(config) })
            .map_err(|e| e.to_string())?;
        let instance = Box::new(Instance {
            bearer: Arc::new(bearer),
            runtime,
            host,
        });
        Ok(Box::into_raw(instance).cast())
    }));
    match made {
        Ok(Ok(instance)) => instance,
        Ok(Err(reason)) => {
            send(host, &PluginMessage::Error(reason));
            std::ptr::null_mut()
        }
        Err(panic) => {
            send(
                host,
                &PluginMessage::Error(format!("panicked: {}", panic_text(panic))),
            );
            std::ptr::null_mut()
        }
    }
}

/// `request` of the vtable for `T`.
///
/// # Safety
/// `instance` must come from `create::<T>` and not be destroyed; `message` must be
/// valid for the call.
pub unsafe extern "C" fn request<T: ExportBearer>(instance: *mut c_void, message: Bytes) -> i32 {
    let accepted = catch_unwind(AssertUnwindSafe(|| {
        if instance.is_null() {
            return -1;
        }
        // SAFETY: the host passes an instance made by `create::<T>`, still alive.
        let instance = unsafe { &*instance.cast::<Instance<T>>() };
        // SAFETY: the host passes a slice valid for this call.
        let Some(bytes) = (unsafe { message.to_vec() }) else {
            return -2;
        };
        let Ok(message) = serde_json::from_slice::<HostMessage>(&bytes) else {
            return -3;
        };
        let bearer = Arc::clone(&instance.bearer);
        let host = instance.host;
        match message {
            HostMessage::Run => {
                instance.runtime.spawn(async move {
                    let sink = ReportSink::new(move |event| {
                        send(host, &PluginMessage::Report(Box::new(event)))
                    });
                    let outcome = AssertUnwindSafe(bearer.run(sink)).catch_unwind().await;
                    let ended = match outcome {
                        Ok(result) => result.map_err(|e| e.to_string()),
                        Err(panic) => Err(format!("panicked: {}", panic_text(panic))),
                    };
                    send(host, &PluginMessage::Ended(ended));
                });
            }
            HostMessage::Activate { id, request } => {
                instance.runtime.spawn(async move {
                    let outcome = AssertUnwindSafe(bearer.activate(request))
                        .catch_unwind()
                        .await;
                    reply(host, id, outcome);
                });
            }
            HostMessage::Release { id, key } => {
                instance.runtime.spawn(async move {
                    let outcome = AssertUnwindSafe(bearer.release(&key)).catch_unwind().await;
                    reply(host, id, outcome);
                });
            }
        }
        0
    }));
    accepted.unwrap_or(-4)
}

fn reply(host: HostCallbacks, id: u64, outcome: std::thread::Result<netcore::Result<()>>) {
    let result = match outcome {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(panic) => Err(format!("panicked: {}", panic_text(panic))),
    };
    send(host, &PluginMessage::Reply { id, result });
}

/// `destroy` of the vtable for `T`.
///
/// # Safety
/// `instance` must come from `create::<T>` and is invalid afterwards.
pub unsafe extern "C" fn destroy<T: ExportBearer>(instance: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !instance.is_null() {
            // SAFETY: the host passes an instance made by `create::<T>`, once.
            let instance = unsafe { Box::from_raw(instance.cast::<Instance<T>>()) };
            let Instance { runtime, .. } = *instance;
            runtime.shutdown_background();
        }
    }));
}

/// The vtable of `T`.
pub const fn vtable<T: ExportBearer>() -> PluginVTable {
    PluginVTable {
        vtable_size: std::mem::size_of::<PluginVTable>() as u32,
        create: create::<T>,
        request: request::<T>,
        destroy: destroy::<T>,
    }
}

/// [`NETCORE_VERSION`](super::NETCORE_VERSION) as a C string.
const NETCORE_VERSION_C: &CStr = cstr(concat!(env!("CARGO_PKG_VERSION"), "\0"));
/// [`TARGET`](super::TARGET) as a C string.
const TARGET_C: &CStr = cstr(concat!(env!("NETCORE_TARGET"), "\0"));

const fn cstr(text: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(text.as_bytes()) {
        Ok(c) => c,
        Err(_) => c"?",
    }
}

/// The header of `T`, pointing at its `vtable`.
pub const fn header<T: ExportBearer>(vtable: &'static PluginVTable) -> PluginHeader {
    PluginHeader {
        abi_version: ABI_VERSION,
        header_size: std::mem::size_of::<PluginHeader>() as u32,
        netcore_version: NETCORE_VERSION_C.as_ptr(),
        target: TARGET_C.as_ptr(),
        name: T::NAME.as_ptr(),
        bearer_type: T::BEARER_TYPE as u8,
        vtable,
    }
}

/// Turns a type implementing [`ExportBearer`](crate::ExportBearer) into a
/// plugin: exports [`ENTRY_SYMBOL`](crate::ENTRY_SYMBOL) returning its
/// header. Use it once, in a crate built as a `cdylib`.
#[macro_export]
macro_rules! export_bearer {
    ($bearer:ty) => {
        const _: () = {
            static VTABLE: $crate::PluginVTable = $crate::export::vtable::<$bearer>();
            static HEADER: $crate::StaticHeader =
                $crate::StaticHeader($crate::export::header::<$bearer>(&VTABLE));

            /// The plugin's entry point: its header.
            #[unsafe(no_mangle)]
            pub extern "C" fn netcore_plugin_entry() -> *const $crate::PluginHeader {
                &HEADER.0
            }
        };
    };
}
