//! Linux kernel link layer on rtnetlink: links, addresses, routes, neighbours and counters.
//!
//! Not implemented yet: this crate is a placeholder in the workspace layout and
//! offers nothing. It is filled by the issue titled after it (issue 9).
