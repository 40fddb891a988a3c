//! The public connection API, the embedded runtime and the netcorectl command line.
//!
//! Not implemented yet: this crate is a placeholder in the workspace layout and
//! offers nothing. It is filled by the issue titled after it (issue 6).
