//! Wi-Fi bearer on wpa_supplicant's control interface.
//!
//! Not implemented yet: this crate is a placeholder in the workspace layout and
//! offers nothing. It is filled by the issue titled after it (issue 8).
