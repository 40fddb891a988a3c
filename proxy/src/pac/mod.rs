//! Proxy auto-configuration (PAC): URL preparation, the worker protocol and process,
//! the helpers, result parsing and script download.
//!
//! [`evaluator::PacEvaluator`] is the entry point; [`worker::run_worker`] is the main
//! function of the `netcore-pac-worker` binary.

pub mod clock;
pub mod evaluator;
pub mod fetch;
pub mod helpers;
pub mod protocol;
pub mod result;
pub mod url;
pub mod worker;
