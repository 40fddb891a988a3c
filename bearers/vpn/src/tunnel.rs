//! The app's side of a VPN: the TUN device's file descriptor.

use netcore::AppId;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::registry::Registration;

/// An established VPN: owns the TUN device's file descriptor, which carries the
/// VPN's IP packets (no packet-information header). Hand it to the VPN app
/// ([`AsFd::as_fd`], [`VpnTunnel::into_owned_fd`]) or move packets through it
/// here ([`VpnTunnel::recv`], [`VpnTunnel::send`]).
///
/// Closing it ([`VpnTunnel::close`] or dropping it) removes the device from the
/// kernel, with its addresses and routes, and the bearer reports the network gone.
pub struct VpnTunnel {
    // Declared first: dropped (the descriptor closed) before the registration.
    device: tun_rs::AsyncDevice,
    name: String,
    owner: AppId,
    registration: Registration,
}

impl VpnTunnel {
    pub(crate) fn new(
        device: tun_rs::AsyncDevice,
        name: String,
        owner: AppId,
        registration: Registration,
    ) -> Self {
        Self {
            device,
            name,
            owner,
            registration,
        }
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
        self.device.recv(buf).await
    }

    /// Writes a packet coming out of the tunnel (delivered to the device's users);
    /// returns the bytes written.
    pub async fn send(&self, packet: &[u8]) -> std::io::Result<usize> {
        self.device.send(packet).await
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
        let fd = self.device.as_fd().try_clone_to_owned()?;
        self.registration.detached = true;
        Ok(fd)
    }
}

impl std::fmt::Debug for VpnTunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VpnTunnel")
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("fd", &self.device.as_fd())
            .finish_non_exhaustive()
    }
}

impl AsFd for VpnTunnel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.device.as_fd()
    }
}
