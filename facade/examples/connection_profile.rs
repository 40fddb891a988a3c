//! Seed 004, "Initializing a socket" and "Changing the connection profile": check
//! that the default connection is up, pick the address family of its profile, then
//! open the cellular internet profile and talk to a server through its interface.
//!
//! `cargo run -p netcore-facade --example connection_profile -- HOST PORT`

use std::net::IpAddr;
use std::time::Duration;

use futures::StreamExt;
use netcore::{Error, NetAddress};
use netcore_facade::profiles::{
    AddressFamily, CellularServiceType, Connection, ConnectionType, Profile,
};
use netcore_facade::{Config, NetManager};
use netcore_socket::{EventSource, SocketEvent, TcpConnectOptions, TcpSocket};

/// What a socket on the default connection would use.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    /// The address family: IPv4 when the profile has both, as in the seed.
    pub family: AddressFamily,
    /// The local address of that family.
    pub local: IpAddr,
    /// The interface.
    pub interface: String,
}

/// Steps 4 and 5 of "Initializing a socket": the default connection must be up, and
/// its profile must have an address.
pub fn current_route(connection: &Connection) -> netcore::Result<Route> {
    if connection.connection_type() == ConnectionType::Disconnected {
        return Err(Error::Internal("not connected".into()));
    }
    let profile = connection.current_profile()?;
    let family = if profile.ipv4_address.is_some() {
        AddressFamily::Ipv4
    } else if profile.ipv6_address.is_some() {
        AddressFamily::Ipv6
    } else {
        return Err(Error::Internal("no IP address".into()));
    };
    Ok(Route {
        family,
        local: profile.ip_address(family),
        interface: profile.interface_name,
    })
}

/// "Changing the connection profile": opens the default cellular internet profile,
/// binds a TCP socket to its interface, sends `message` to `server` and returns the
/// first reply.
pub async fn talk_through_cellular(
    connection: &Connection,
    server: NetAddress,
    message: &[u8],
) -> netcore::Result<Vec<u8>> {
    let profile: Profile =
        connection.default_cellular_service_profile(CellularServiceType::Internet)?;
    let profile = connection
        .open_profile(&profile, Duration::from_secs(10))
        .await?;
    let socket = TcpSocket::new();
    profile.bind_socket(&socket)?;
    let mut events = socket.events();
    socket.connect(TcpConnectOptions::new(server)).await?;
    socket.send(message).await?;
    let reply = loop {
        match events.next().await {
            Some(SocketEvent::Message(m)) => break m.message.to_vec(),
            Some(SocketEvent::Connect) => {}
            other => return Err(Error::Internal(format!("no reply: {other:?}"))),
        }
    };
    socket.close().await?;
    connection.close_profile(&profile).await?;
    Ok(reply)
}

#[tokio::main]
async fn main() -> netcore::Result<()> {
    let mut args = std::env::args().skip(1);
    let manager = NetManager::new(Config::default()).await?;
    let connection = Connection::new(&manager).await?;
    let route = current_route(&connection)?;
    println!(
        "default connection {:?}: {} on {} ({:?})",
        connection.connection_type(),
        route.local,
        route.interface,
        route.family
    );
    if let (Some(host), Some(port)) = (args.next(), args.next()) {
        let port: i64 = port
            .parse()
            .map_err(|_| Error::invalid(format!("{port:?} is not a port")))?;
        let server = NetAddress::parse(&host, None, Some(port))?;
        let reply = talk_through_cellular(&connection, server, b"hello").await?;
        println!(
            "reply through cellular: {}",
            String::from_utf8_lossy(&reply)
        );
    }
    Ok(())
}
