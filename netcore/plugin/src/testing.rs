//! Building plugins for tests (feature `testing`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the workspace packages named by `cargo_args` (`-p NAME`, `--features ...`)
/// with cargo and returns the folder holding the built libraries. The build goes to
/// a target folder of its own beside the running test's (`target/fixtures`): cargo
/// keeps the test's own folder locked while tests run.
///
/// `workspace` is the workspace root; call it with the calling crate's
/// `CARGO_MANIFEST_DIR` parent.
pub fn build_plugins(workspace: &Path, cargo_args: &[&str]) -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or_else(|| std::io::Error::other("the test binary is not under target/*/deps"))?
        .join("fixtures");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--quiet", "--target-dir"])
        .arg(&target)
        .args(cargo_args)
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "cargo build {} failed",
            cargo_args.join(" ")
        )));
    }
    Ok(target.join("debug"))
}
