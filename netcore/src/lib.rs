//! netcore: the network model, the errors, the [`Bearer`] trait and the deterministic
//! connection engine of the netcore connection manager.
//!
//! This crate does no I/O and has no unsafe code (its manifest forbids it). The data
//! model follows the connection API of the specification (seed 001): [`NetHandle`],
//! [`NetCapabilities`], [`NetSpecifier`], [`ConnectionProperties`] and the rest, with
//! the seed's field names and numbers.
//! Bearers report networks as [`BearerEvent`]s; the [`engine`] turns reports,
//! requests and elapsed time into events for subscribers and actions for the shell
//! that drives it.
//!
//! Bearer plugins (the C ABI, `export_bearer!` and the loader) are the
//! `netcore-plugin` crate's; the simulated bearer for tests is `sim`, behind the
//! `testing` feature.

pub mod app;
pub mod bearer;
pub mod engine;
pub mod error;
pub mod model;
pub mod resolve;
#[cfg(feature = "testing")]
pub mod sim;

pub use app::AppId;
pub use bearer::{ActivationRequest, Bearer, BearerDetails, BearerEvent, NetworkInfo, ReportSink};
pub use error::{Error, ResolveFailure, Result};
pub use model::*;
pub use resolve::Resolve;
