//! netcore-bus: the D-Bus contract between netcored and the apps it serves.
//!
//! netcored owns the well-known name [`BUS_NAME`] on the system bus and serves the
//! interface [`INTERFACE`] at [`OBJECT_PATH`]: the connection API of seed 001 (and,
//! through the same calls, seed 004's). [`Netcore1Proxy`] is its client side.
//!
//! - Numbers cross as D-Bus numbers (a netId is `u`, 0 for none); the seed's
//!   structures (`NetCapabilities`, `ConnectionProperties`, `HttpProxy`, events, ...)
//!   cross as JSON strings in the seed's own field names (netcore's serde forms),
//!   read with [`from_json`], which refuses more than [`MAX_JSON_ARG`] bytes.
//! - Errors cross as D-Bus errors named `org.netcore.Netcore1.Error.<Kind>`
//!   (`PermissionDenied`, `InvalidValue`, ...) whose message starts with the seed's
//!   code (`"2100001: Invalid parameter value: ..."`) and whose second argument is
//!   the error whole, so that the client gets back the same [`netcore::Error`]
//!   ([`BusError`], [`error_from_bus`]).
//! - Events of registered connections are signals `NetEvents` sent to the client that
//!   registered them alone (unicast): whatever waited for that client, each event
//!   with the connection id the client chose, in order per connection (an event of
//!   several connections is written once, in the payloads); a monitor's
//!   are `WatchEvents`, also unicast; `ConnectionEnded` says a connection ended on
//!   netcored's side (it fell too far behind). `ProxyChanged` (no payload) is the
//!   one broadcast: every client reads its proxy again.

use netcore::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zbus::message::Header;
use zbus::names::ErrorName;

/// The well-known name netcored owns on the system bus.
pub const BUS_NAME: &str = "org.netcore.Netcore1";
/// The object that serves [`INTERFACE`].
pub const OBJECT_PATH: &str = "/org/netcore/Netcore1";
/// The interface of the connection API.
pub const INTERFACE: &str = "org.netcore.Netcore1";
/// The prefix of netcore's D-Bus error names.
pub const ERROR_PREFIX: &str = "org.netcore.Netcore1.Error";
/// The largest JSON argument accepted, in bytes.
pub const MAX_JSON_ARG: usize = 64 * 1024;

/// The kind of an error, as the last element of its D-Bus error name.
fn kind(error: &Error) -> &'static str {
    match error {
        Error::PermissionDenied(_) => "PermissionDenied",
        Error::Parameter(_) => "Parameter",
        Error::InvalidValue(_) => "InvalidValue",
        Error::Service(_) => "Service",
        Error::Resolve { .. } => "Resolve",
        Error::NotVpnApp(_) => "NotVpnApp",
        Error::CallbackNotFound(_) => "CallbackNotFound",
        Error::CallbackExists(_) => "CallbackExists",
        Error::TooManyRequests(_) => "TooManyRequests",
        _ => "Internal",
    }
}

/// A [`netcore::Error`] as netcored returns it from a method.
#[derive(Debug)]
pub struct BusError {
    error: Error,
    name: ErrorName<'static>,
    message: String,
}

impl From<Error> for BusError {
    fn from(error: Error) -> Self {
        let name = ErrorName::try_from(format!("{ERROR_PREFIX}.{}", kind(&error)))
            .unwrap_or_else(|_| ErrorName::from_static_str_unchecked("org.netcore.Netcore1.Error"));
        let message = format!("{}: {error}", error.code());
        Self {
            error,
            name,
            message,
        }
    }
}

impl From<zbus::Error> for BusError {
    fn from(error: zbus::Error) -> Self {
        Error::Internal(format!("D-Bus: {error}")).into()
    }
}

impl zbus::DBusError for BusError {
    fn create_reply(&self, call: &Header<'_>) -> zbus::Result<zbus::message::Message> {
        zbus::message::Message::error(call, self.name.as_ref())?
            .build(&(self.message.as_str(), to_json(&self.error)))
    }

    fn name(&self) -> ErrorName<'_> {
        self.name.as_ref()
    }

    fn description(&self) -> Option<&str> {
        Some(&self.message)
    }
}

/// The [`netcore::Error`] a failed call to netcored stands for: the daemon's own
/// error when it sent one, else 2100002 (the service could not be reached or
/// answered outside the contract).
pub fn error_from_bus(error: zbus::Error) -> Error {
    if let zbus::Error::MethodError(name, _, message) = &error
        && name.as_str().starts_with(ERROR_PREFIX)
        && let Ok((_, whole)) = message.body().deserialize::<(String, String)>()
        && let Ok(error) = serde_json::from_str::<Error>(&whole)
    {
        return error;
    }
    Error::Service(format!("netcored: {error}"))
}

/// `value` as JSON.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The argument `what` read from JSON: over [`MAX_JSON_ARG`] bytes is 2100001, JSON
/// that is not a `T` is 401.
pub fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> netcore::Result<T> {
    if text.len() > MAX_JSON_ARG {
        return Err(Error::invalid(format!(
            "{what} is {} bytes, more than {MAX_JSON_ARG}",
            text.len()
        )));
    }
    serde_json::from_str(text).map_err(|e| Error::Parameter(format!("{what}: {e}")))
}

pub use proxy::*;

/// The proxy zbus generates (its generated items carry no docs of their own).
#[allow(missing_docs)]
mod proxy {
    /// The client side of [`INTERFACE`]. Method and argument names are those netcored
    /// introspects; see the daemon for what each does and which permission it needs.
    #[zbus::proxy(
        interface = "org.netcore.Netcore1",
        default_service = "org.netcore.Netcore1",
        default_path = "/org/netcore/Netcore1"
    )]
    pub trait Netcore1 {
        /// The version of netcored.
        #[zbus(property)]
        fn version(&self) -> zbus::Result<String>;

        /// `getDefaultNet`.
        fn get_default_net(&self) -> zbus::Result<u32>;
        /// `hasDefaultNet`.
        fn has_default_net(&self) -> zbus::Result<bool>;
        /// `getAllNets`.
        fn get_all_nets(&self) -> zbus::Result<Vec<u32>>;
        /// `getNetCapabilities` (JSON).
        fn get_net_capabilities(&self, net_id: u32) -> zbus::Result<String>;
        /// `getConnectionProperties` (JSON).
        fn get_connection_properties(&self, net_id: u32) -> zbus::Result<String>;
        /// `isDefaultNetMetered`.
        fn is_default_net_metered(&self) -> zbus::Result<bool>;
        /// `setAppNet` (0 unbinds).
        fn set_app_net(&self, net_id: u32) -> zbus::Result<()>;
        /// `getAppNet`.
        fn get_app_net(&self) -> zbus::Result<u32>;
        /// Establishes a VPN (JSON `VpnSpec`): the TUN descriptor and its interface.
        fn establish_vpn(&self, spec: &str) -> zbus::Result<(zbus::zvariant::OwnedFd, String)>;
        /// `NetHandle.bindSocket`: netcored binds the socket to the network.
        fn bind_socket(&self, net_id: u32, socket: zbus::zvariant::Fd<'_>) -> zbus::Result<()>;
        /// `reportNetConnected`.
        fn report_net_connected(&self, net_id: u32) -> zbus::Result<()>;
        /// `reportNetDisconnected`.
        fn report_net_disconnected(&self, net_id: u32) -> zbus::Result<()>;
        /// `setNetExtAttribute`.
        fn set_net_ext_attribute(&self, net_id: u32, attribute: &str) -> zbus::Result<()>;
        /// `getNetExtAttribute`.
        fn get_net_ext_attribute(&self, net_id: u32) -> zbus::Result<String>;
        /// `NetConnection.register`: `connection` is the client's own id for it, which
        /// its `NetEvent` signals carry; `specifier` is JSON, "" for the default network.
        fn register(&self, connection: u64, specifier: &str, timeout_ms: u32) -> zbus::Result<()>;
        /// `NetConnection.unregister`.
        fn unregister(&self, connection: u64) -> zbus::Result<()>;
        /// Every network (JSON snapshots, for listings).
        fn get_networks(&self) -> zbus::Result<String>;
        /// One network (a JSON snapshot).
        fn get_network(&self, net_id: u32) -> zbus::Result<String>;
        /// Starts `WatchEvent` signals to this client; returns the networks and the
        /// default network at that moment (JSON).
        fn watch(&self) -> zbus::Result<String>;
        /// Stops this client's `WatchEvent` signals.
        fn unwatch(&self) -> zbus::Result<()>;
        /// What became of each plugin file (JSON).
        fn plugins(&self) -> zbus::Result<String>;
        /// The seed numbers of the bearer types that run.
        fn bearer_types(&self) -> zbus::Result<Vec<u32>>;
        /// Forgets the calling app's requests, binding, DNS rules and proxy.
        fn remove_app(&self) -> zbus::Result<()>;

        /// `getAddressesByNameWithOptions` (`net_id` 0: the app's network; JSON).
        fn get_addresses_by_name(
            &self,
            net_id: u32,
            host: &str,
            family: u32,
        ) -> zbus::Result<String>;
        /// `NetHandle.getAddressByName` (JSON).
        fn get_address_by_name(&self, net_id: u32, host: &str) -> zbus::Result<String>;
        /// `addCustomDnsRule`.
        fn add_custom_dns_rule(&self, host: &str, addresses: Vec<String>) -> zbus::Result<()>;
        /// `removeCustomDnsRule`.
        fn remove_custom_dns_rule(&self, host: &str) -> zbus::Result<()>;
        /// `clearCustomDnsRules`.
        fn clear_custom_dns_rules(&self) -> zbus::Result<()>;

        /// `setAppHttpProxy` (JSON).
        fn set_app_http_proxy(&self, proxy: &str) -> zbus::Result<()>;
        /// `getDefaultHttpProxy` (JSON, "" for none).
        fn get_default_http_proxy(&self) -> zbus::Result<String>;
        /// Sets the global proxy (JSON, "" clears it).
        fn set_global_http_proxy(&self, proxy: &str) -> zbus::Result<()>;
        /// The proxy the app's request to `url` goes through (JSON, "" for direct).
        fn http_proxy_for_url(&self, url: &str) -> zbus::Result<String>;
        /// `setPacFileUrl`.
        fn set_pac_file_url(&self, url: &str) -> zbus::Result<()>;
        /// `getPacFileUrl`.
        fn get_pac_file_url(&self) -> zbus::Result<String>;
        /// `findProxyForUrl`.
        fn find_proxy_for_url(&self, url: &str) -> zbus::Result<String>;
        /// `setPacUrl`.
        fn set_pac_url(&self, url: &str) -> zbus::Result<()>;
        /// `getPacUrl`.
        fn get_pac_url(&self) -> zbus::Result<String>;

        /// `getIpNeighTable` (JSON).
        fn get_ip_neigh_table(&self) -> zbus::Result<String>;
        /// `getSystemNetPortStates` (JSON).
        fn get_system_net_port_states(&self) -> zbus::Result<String>;
        /// `getConnectOwnerUid` (`local` and `remote` JSON).
        fn get_connect_owner_uid(
            &self,
            protocol: u32,
            local: &str,
            remote: &str,
        ) -> zbus::Result<i64>;
        /// `queryProbeResult` (JSON).
        fn query_probe_result(&self, destination: &str, duration: i64) -> zbus::Result<String>;
        /// `queryTraceRoute` (`options` JSON or ""; JSON).
        fn query_trace_route(&self, destination: &str, options: &str) -> zbus::Result<String>;

        /// Events of the client's connections (id, index of the JSON event in
        /// `payloads`), sent to it alone.
        #[zbus(signal)]
        fn net_events(&self, events: Vec<(u64, u32)>, payloads: Vec<String>) -> zbus::Result<()>;
        /// Events of any network (JSON), sent to each watching client alone.
        #[zbus(signal)]
        fn watch_events(&self, events: Vec<String>) -> zbus::Result<()>;
        /// A connection ended on netcored's side with an error (JSON).
        #[zbus(signal)]
        fn connection_ended(&self, connection: u64, error: String) -> zbus::Result<()>;
        /// The proxy settings changed: read them again.
        #[zbus(signal)]
        fn proxy_changed(&self) -> zbus::Result<()>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_kind_code_and_text() {
        for error in [
            Error::PermissionDenied("no GET_NETWORK_INFO".into()),
            Error::invalid("netId 7 is not a network"),
            Error::Resolve {
                host: "a.test".into(),
                failure: netcore::ResolveFailure::Timeout,
            },
            Error::TooManyRequests("2000".into()),
        ] {
            let bus = BusError::from(error.clone());
            assert!(bus.name.as_str().starts_with(ERROR_PREFIX));
            assert!(
                bus.message.starts_with(&format!("{}: ", error.code())),
                "{}",
                bus.message
            );
            let back: Error = serde_json::from_str(&to_json(&bus.error)).unwrap();
            assert_eq!(back, error);
        }
    }

    #[test]
    fn json_arguments_are_bounded_and_checked() {
        let huge = format!("\"{}\"", "x".repeat(MAX_JSON_ARG));
        assert_eq!(
            from_json::<String>("proxy", &huge).unwrap_err().code(),
            2100001
        );
        assert_eq!(from_json::<u32>("netId", "{").unwrap_err().code(), 401);
        assert_eq!(from_json::<u32>("netId", "7").unwrap(), 7);
    }
}
