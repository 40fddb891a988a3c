//! Proxy auto-configuration (PAC).
pub mod clock;
pub mod helpers;
