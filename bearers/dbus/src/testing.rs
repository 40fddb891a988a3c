//! A private dbus-daemon and python-dbusmock, for the D-Bus bearers' system tests
//! (feature `testing`).
//!
//! [`DbusDaemon`] runs `dbus-daemon` on a Unix socket in a directory of its own;
//! [`DbusMock`] runs `/usr/bin/python3 -m dbusmock --system --template` with a
//! template file and waits for it to own its service. Both are killed on drop.
//! [`dbusmock_installed`] says what is missing, and [`install_packages`] installs it
//! (apt-get and pip, as root).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zbus::Connection;

/// Debian's python, which has `python3-dbus` and `python3-gi`.
pub const PYTHON: &str = "/usr/bin/python3";

/// A fresh directory under the temporary directory, removed with its contents on
/// drop.
pub use tempfile::TempDir;

/// What is missing to run the system tests (`None`: nothing).
pub fn dbusmock_installed() -> Option<String> {
    let ok = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok("dbus-daemon", &["--version"]) {
        return Some("dbus-daemon is not installed (package dbus)".into());
    }
    if !ok(
        PYTHON,
        &[
            "-c",
            "import dbus, gi, dbusmock.templates.modemmanager, dbusmock.templates.bluez5",
        ],
    ) {
        return Some(format!(
            "{PYTHON} lacks python3-dbus, python3-gi or python-dbusmock with the modemmanager and bluez5 templates"
        ));
    }
    None
}

/// Installs dbus, python3-dbus and python3-gi (apt-get) and python-dbusmock 0.38
/// (pip, for [`PYTHON`]) when [`dbusmock_installed`] says something is missing.
/// Returns what is still missing.
pub fn install_packages() -> Option<String> {
    dbusmock_installed()?;
    let quiet = |program: &str, args: &[&str]| {
        let _ = Command::new(program)
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    quiet("apt-get", &["update"]);
    quiet(
        "apt-get",
        &[
            "install",
            "-y",
            "dbus",
            "python3-dbus",
            "python3-gi",
            "python3-pip",
        ],
    );
    quiet(
        PYTHON,
        &[
            "-m",
            "pip",
            "install",
            "--break-system-packages",
            "python-dbusmock==0.38.*",
        ],
    );
    dbusmock_installed()
}

/// Kills and reaps a child.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A private dbus-daemon listening on `DIR/bus`; killed on drop.
#[derive(Debug)]
pub struct DbusDaemon {
    child: Child,
    address: String,
}

impl DbusDaemon {
    /// Starts the daemon with a configuration in `dir` that lets everyone own and
    /// call everything, and waits for its address.
    pub fn start(dir: &Path) -> std::io::Result<Self> {
        let socket = dir.join("bus");
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )?;
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let address = line.trim().to_owned();
        if !matches!(read, Some(Ok(n)) if n > 0) || address.is_empty() {
            stop(&mut child);
            return Err(std::io::Error::other("dbus-daemon printed no address"));
        }
        Ok(Self { child, address })
    }

    /// The bus address (`unix:path=...`).
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for DbusDaemon {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A python-dbusmock process on a [`DbusDaemon`]; killed on drop.
#[derive(Debug)]
pub struct DbusMock {
    child: Option<Child>,
    connection: Connection,
}

impl DbusMock {
    /// Writes `template` to `dir/file_name`, starts the mock with it on the bus at
    /// `address`, and waits up to 10 s for it to own `service`.
    pub async fn start(
        address: &str,
        dir: &Path,
        file_name: &str,
        template: &str,
        service: &str,
    ) -> std::io::Result<Self> {
        let path = dir.join(file_name);
        std::fs::write(&path, template)?;
        let mut child = Command::new(PYTHON)
            .args(["-m", "dbusmock", "--system", "--template"])
            .arg(&path)
            .env("DBUS_SYSTEM_BUS_ADDRESS", address)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let connected = async {
            let connection = zbus::connection::Builder::address(address)?.build().await?;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let reply = connection
                    .call_method(
                        Some("org.freedesktop.DBus"),
                        "/org/freedesktop/DBus",
                        Some("org.freedesktop.DBus"),
                        "NameHasOwner",
                        &(service,),
                    )
                    .await?;
                if reply.body().deserialize::<bool>()? {
                    return Ok(connection);
                }
                if Instant::now() > deadline {
                    return Err(zbus::Error::Failure("the mock did not appear".into()));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        match connected.await {
            Ok(connection) => Ok(Self {
                child: Some(child),
                connection,
            }),
            Err(e) => {
                stop(&mut child);
                Err(std::io::Error::other(format!("{service} mock: {e}")))
            }
        }
    }

    /// A connection to the mock's bus.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Kills the mock (its service leaves the bus).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
    }
}

impl Drop for DbusMock {
    fn drop(&mut self) {
        self.kill();
    }
}
