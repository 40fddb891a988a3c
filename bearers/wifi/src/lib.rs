//! Wi-Fi bearer on wpa_supplicant's control interface.
//!
//! [`WifiBearer`] implements [`netcore::Bearer`]: it attaches to wpa_supplicant's
//! control socket (`CONTROL_DIR/IFNAME`, a Unix datagram socket) of every wireless
//! interface the kernel has (or of the interfaces named in [`WifiConfig`]), and
//! reports one network per interface whose `wpa_state` is `COMPLETED`, keyed by
//! interface name:
//! - identifier (the seed's `bearerPrivateIdentifier`): the wpa_supplicant network
//!   id of the connection (STATUS `id=`); the SSID goes to the logs;
//! - capabilities INTERNET, NOT_VPN and NOT_METERED (no NOT_METERED when the
//!   configuration says `metered`);
//! - quality: the RSSI of SIGNAL_POLL mapped to 0–100 ([`protocol::rssi_to_quality`]);
//! - properties: addresses, main-table routes and MTU from the kernel
//!   ([`netcore_link::properties::connection_properties`], as Ethernet), plus the
//!   configured DNS servers; they follow the kernel's notifications.
//!
//! wpa_supplicant's events (`CTRL-EVENT-CONNECTED`, `CTRL-EVENT-DISCONNECTED`, ...)
//! make the bearer ask STATUS again; a PING every `ping_interval_ms` notices a peer
//! that died silently, and the signal is polled with it (a changed quality is a
//! `Changed` report). When wpa_supplicant goes away (socket gone,
//! `CTRL-EVENT-TERMINATING`, PING unanswered) every network is reported `Gone` and
//! [`netcore::Bearer::run`] returns [`netcore::Error::Service`]; run again (the host
//! does, with backoff), it attaches anew. An interface without a control socket at
//! start is the same error, and so is a change of the kernel's wireless interfaces
//! when they are not configured (the next run attaches to the new set). Replies and
//! events that do not parse are logged and ignored.
//!
//! An activation request for a network id selects it (`SELECT_NETWORK`); releasing
//! does nothing unless `release_disconnects` is configured.
//!
//! The protocol client ([`ctrl::CtrlSocket`], [`ctrl::Monitor`]) and its strict,
//! size-bounded parsers ([`protocol`]) are public for other uses (scans, adding
//! networks). With the `testing` feature, `testing::FakeWpa` is an in-process
//! wpa_supplicant for tests without root.
//!
//! ```no_run
//! # async fn demo() -> netcore::Result<()> {
//! use netcore::{Bearer, ReportSink};
//! let bearer = netcore_bearer_wifi::WifiBearer::new(Default::default())?;
//! bearer.run(ReportSink::new(|event| println!("{event:?}"))).await
//! # }
//! ```
//!
//! As a plugin (feature `plugin`, the cdylib), the configuration is the JSON form of
//! [`WifiConfig`].

mod bearer;
pub mod config;
pub mod ctrl;
#[cfg(feature = "plugin")]
mod plugin;
pub mod protocol;
#[cfg(feature = "testing")]
pub mod testing;

pub use bearer::WifiBearer;
pub use config::WifiConfig;
