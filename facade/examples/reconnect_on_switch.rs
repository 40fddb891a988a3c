//! Seed 000, "Monitoring changes of the default network and re-establishing the
//! network connection": on each `netAvailable` of the default network, the old
//! socket is closed and a new one connects.
//!
//! `cargo run -p netcore-facade --example reconnect_on_switch -- 127.0.0.1:8080`

use std::net::SocketAddr;

use netcore::NetHandle;
use netcore::engine::NetEvent;
use netcore_facade::{Config, NetManager};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Follows the default network for `switches` `netAvailable` events; on each one,
/// drops the old socket and connects a new one to `server`, sending a greeting.
/// Returns the networks the socket was re-established on.
pub async fn reconnect_on_switch(
    manager: &NetManager,
    server: SocketAddr,
    switches: usize,
) -> netcore::Result<Vec<NetHandle>> {
    let mut connection = manager.create_net_connection(None, 0);
    connection.register().await?;
    let mut socket: Option<TcpStream> = None;
    let mut networks = Vec::new();
    while networks.len() < switches {
        let Some(event) = connection.next_event().await else {
            break;
        };
        if let NetEvent::Available(net) = event {
            drop(socket.take());
            let mut stream = TcpStream::connect(server)
                .await
                .map_err(|e| netcore::Error::Service(format!("connect {server}: {e}")))?;
            stream
                .write_all(format!("hello from network {net}\n").as_bytes())
                .await
                .map_err(|e| netcore::Error::Service(format!("send: {e}")))?;
            socket = Some(stream);
            networks.push(net);
        }
    }
    connection.unregister().await?;
    Ok(networks)
}

#[tokio::main]
async fn main() -> netcore::Result<()> {
    let server: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()
        .map_err(|e| netcore::Error::invalid(format!("server address: {e}")))?;
    let manager = NetManager::new(Config::default()).await?;
    let networks = reconnect_on_switch(&manager, server, 1).await?;
    println!("connected on {networks:?}");
    Ok(())
}
