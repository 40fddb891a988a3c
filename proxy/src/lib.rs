//! HTTP proxy settings and PAC evaluation in a sandboxed JavaScript engine.
//!
//! Not implemented yet: this crate is a placeholder in the workspace layout and
//! offers nothing. It is filled by the issue titled after it (issue 4).
