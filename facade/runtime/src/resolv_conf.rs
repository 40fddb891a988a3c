//! Pointing the system's resolvers at the DNS stub: a resolv.conf of netcore's while
//! it runs, the previous one saved beside it and put back when it stops.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use netcore::{Error, Result};

/// The first line of a resolv.conf netcore wrote.
const MARKER: &str = "# Written by netcore";

/// A resolv.conf netcore installed.
#[derive(Debug)]
pub(crate) struct ResolvConf {
    path: PathBuf,
    saved: PathBuf,
}

impl ResolvConf {
    /// Saves what is at `path` as `path.netcore-saved` (unless it is a file an
    /// earlier netcore left when it was killed: the original saved then stays) and
    /// writes a resolv.conf naming `servers` only.
    pub(crate) fn install(path: &Path, servers: &[IpAddr]) -> Result<Self> {
        let fail = |what: &str, e: std::io::Error| {
            Error::Internal(format!("resolv.conf {}: {what}: {e}", path.display()))
        };
        let mut saved = path.as_os_str().to_owned();
        saved.push(".netcore-saved");
        let saved = PathBuf::from(saved);
        let ours = std::fs::read_to_string(path).is_ok_and(|text| text.starts_with(MARKER));
        if !ours && std::fs::symlink_metadata(path).is_ok() {
            // A rename keeps a symlink a symlink; a bind mount (containers) cannot be
            // renamed, so its content is copied instead.
            if std::fs::rename(path, &saved).is_err() {
                std::fs::copy(path, &saved).map_err(|e| fail("saving", e))?;
            }
        }
        let mut text = format!(
            "{MARKER}: every app's DNS goes through netcore's stub, which answers each app\n\
             # with its own rules and network. What was here comes back when netcore stops\n\
             # (saved in {}).\n",
            saved.display()
        );
        for server in servers {
            text.push_str(&format!("nameserver {server}\n"));
        }
        text.push_str("options edns0\n");
        write_file(path, &text).map_err(|e| fail("writing", e))?;
        tracing::info!(path = %path.display(), ?servers, "resolv.conf points at the DNS stub");
        Ok(Self {
            path: path.to_owned(),
            saved,
        })
    }

    /// Puts back what was there before (nothing if there was nothing).
    pub(crate) fn restore(self) {
        let result = if std::fs::symlink_metadata(&self.saved).is_err() {
            std::fs::remove_file(&self.path)
        } else if std::fs::rename(&self.saved, &self.path).is_ok() {
            Ok(())
        } else {
            std::fs::read(&self.saved)
                .and_then(|content| std::fs::write(&self.path, content))
                .and_then(|()| std::fs::remove_file(&self.saved))
        };
        match result {
            Ok(()) => tracing::info!(path = %self.path.display(), "resolv.conf restored"),
            Err(e) => tracing::warn!(path = %self.path.display(), "resolv.conf not restored: {e}"),
        }
    }
}

/// Writes `text` to `path` in one step when it can (a new file renamed over it),
/// else in place.
fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".netcore-new");
    let temporary = PathBuf::from(temporary);
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
        std::fs::write(path, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("netcore-resolv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn installs_restores_and_survives_a_kill() {
        let dir = dir();
        let servers = ["127.0.0.153".parse().unwrap()];
        // A file.
        let path = dir.join("resolv.conf");
        std::fs::write(&path, "nameserver 192.0.2.53\n").unwrap();
        let installed = ResolvConf::install(&path, &servers).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\nnameserver 127.0.0.153\n"), "{text}");
        assert!(!text.contains("192.0.2.53"), "{text}");
        installed.restore();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "nameserver 192.0.2.53\n"
        );

        // A symlink stays a symlink; a netcore killed before restoring leaves the
        // original saved, and the next one keeps it.
        let target = dir.join("stub-resolv.conf");
        std::fs::write(&target, "nameserver 127.0.0.53\n").unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let killed = ResolvConf::install(&path, &servers).unwrap();
        std::mem::forget(killed);
        let again = ResolvConf::install(&path, &servers).unwrap();
        again.restore();
        assert_eq!(std::fs::read_link(&path).unwrap(), target);

        // Nothing before, nothing after.
        let absent = dir.join("absent.conf");
        ResolvConf::install(&absent, &servers).unwrap().restore();
        assert!(!absent.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
