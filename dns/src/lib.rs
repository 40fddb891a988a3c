//! Per-network DNS resolution, per-app custom rules, cache and IDNA.
//!
//! Not implemented yet: this crate is a placeholder in the workspace layout and
//! offers nothing. It is filled by the issue titled after it (issue 3).
