//! The app's side of a VPN: the TUN device's file descriptor.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use netcore::AppId;
use tokio::io::unix::AsyncFd;

use crate::registry::Registration;

/// The TUN device's descriptor.
enum Device {
    /// A device this process created.
    Created(tun_rs::AsyncDevice),
    /// A descriptor netcored handed over.
    Received(AsyncFd<OwnedFd>),
}

/// An established VPN: owns the TUN device's file descriptor, which carries the
/// VPN's IP packets (no packet-information header). Hand it to the VPN app
/// ([`AsFd::as_fd`], [`VpnTunnel::into_owned_fd`]) or move packets through it
/// here ([`VpnTunnel::recv`], [`VpnTunnel::send`]).
///
/// Closing it ([`VpnTunnel::close`] or dropping it) removes the device from the
/// kernel, with its addresses and routes, and the bearer reports the network gone.
pub struct VpnTunnel {
    // Declared first: dropped (the descriptor closed) before the registration.
    device: Device,
    name: String,
    owner: AppId,
    /// Where this process keeps the VPN (none for one netcored keeps).
    registration: Option<Registration>,
}

impl VpnTunnel {
    pub(crate) fn new(
        device: tun_rs::AsyncDevice,
        name: String,
        owner: AppId,
        registration: Registration,
    ) -> Self {
        Self {
            device: Device::Created(device),
            name,
            owner,
            registration: Some(registration),
        }
    }

    /// The tunnel of a VPN that netcored established for this app and whose TUN
    /// descriptor it handed over (`fd`, interface `name`). Needs a tokio runtime.
    /// Closing it ends the VPN once no other copy of the descriptor is open.
    pub fn from_received_fd(fd: OwnedFd, name: String, owner: AppId) -> std::io::Result<Self> {
        rustix::io::ioctl_fionbio(&fd, true)?;
        // Deprecated for types that may not own their descriptor; an `OwnedFd` does,
        // and the `AsyncFd` owns it: sound.
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd)?;
        Ok(Self {
            device: Device::Received(fd),
            name,
            owner,
            registration: None,
        })
    }

    /// The TUN interface's name: the VPN network's key in the bearer's reports.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The app that established the VPN.
    pub fn owner(&self) -> AppId {
        self.owner
    }

    /// Reads the next packet going into the tunnel (sent by the device's users)
    /// into `buf`; returns its length. A packet longer than `buf` is cut.
    pub async fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &self.device {
            Device::Created(device) => device.recv(buf).await,
            Device::Received(fd) => {
                fd.async_io(tokio::io::Interest::READABLE, |fd| {
                    Ok(rustix::io::read(fd, &mut *buf)?)
                })
                .await
            }
        }
    }

    /// Writes a packet coming out of the tunnel (delivered to the device's users);
    /// returns the bytes written.
    pub async fn send(&self, packet: &[u8]) -> std::io::Result<usize> {
        match &self.device {
            Device::Created(device) => device.send(packet).await,
            Device::Received(fd) => {
                fd.async_io(tokio::io::Interest::WRITABLE, |fd| {
                    Ok(rustix::io::write(fd, packet)?)
                })
                .await
            }
        }
    }

    /// Closes the tunnel: the device goes from the kernel and the network from
    /// the bearer's reports.
    pub fn close(self) {
        drop(self);
    }

    /// Gives up the tunnel for a descriptor of its own (a duplicate; this one is
    /// closed), e.g. to pass to the VPN app's process. The VPN stays established
    /// until every copy of the descriptor is closed (the app closes it or exits);
    /// the bearer notices the device go while [`netcore::Bearer::run`] runs.
    pub fn into_owned_fd(mut self) -> std::io::Result<OwnedFd> {
        let fd = self.as_fd().try_clone_to_owned()?;
        if let Some(registration) = &mut self.registration {
            registration.detached = true;
        }
        Ok(fd)
    }
}

impl std::fmt::Debug for VpnTunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VpnTunnel")
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("fd", &self.as_fd())
            .finish_non_exhaustive()
    }
}

impl AsFd for VpnTunnel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.device {
            Device::Created(device) => device.as_fd(),
            Device::Received(fd) => fd.get_ref().as_fd(),
        }
    }
}
