//! Ethernet bearer: reports wired networks from the kernel link layer.
//!
//! Not implemented yet: this crate is a placeholder in the workspace layout and
//! offers nothing. It is filled by the issue titled after it (issue 9).
