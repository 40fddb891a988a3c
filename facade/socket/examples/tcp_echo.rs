//! A TCP echo server and client on loopback, through this crate's API: the server
//! echoes with callbacks, the client reads its events as a stream.
//!
//! Run with `cargo run -p netcore-socket --example tcp_echo`.

use futures::StreamExt;
use netcore::NetAddress;
use netcore_socket::{
    EventKind, EventSource, ServerEvent, SocketEvent, TcpConnectOptions, TcpSocket, TcpSocketServer,
};

#[tokio::main]
async fn main() -> Result<(), netcore::Error> {
    // Server: echo whatever a client sends.
    let server = TcpSocketServer::new();
    server
        .listen(NetAddress::parse("127.0.0.1", Some(1), Some(0))?)
        .await?;
    server.on(EventKind::Connect, |event| {
        let ServerEvent::Connect(connection) = event else {
            return;
        };
        let echo = connection.clone();
        let registered = connection.on(EventKind::Message, move |event| {
            if let SocketEvent::Message(m) = event {
                let (echo, data) = (echo.clone(), m.message.clone());
                tokio::spawn(async move {
                    if let Err(e) = echo.send(&data[..]).await {
                        eprintln!("echo failed: {e}");
                    }
                });
            }
        });
        if let Err(e) = registered {
            eprintln!("cannot listen to the connection: {e}");
        }
    })?;
    let address = server.local_address()?;
    println!("server listening on {address}");

    // Client: connect (bound to the loopback interface, as NetHandle.bindSocket
    // would bind it to a network's interface), send, read the echo.
    let client = TcpSocket::new();
    client.bind_to_interface("lo")?;
    let mut events = client.events();
    client.connect(TcpConnectOptions::new(address)).await?;
    client.send("hello, echo").await?;
    let mut received = Vec::new();
    while let Some(event) = events.next().await {
        match event {
            SocketEvent::Connect => println!("client connected"),
            SocketEvent::Message(m) => {
                received.extend_from_slice(&m.message);
                println!(
                    "client got {} bytes from {}:{} ({})",
                    m.remote_info.size,
                    m.remote_info.address,
                    m.remote_info.port,
                    m.remote_info.family
                );
                if received.len() >= "hello, echo".len() {
                    client.close().await?;
                }
            }
            SocketEvent::Close => println!("client closed"),
            other => println!("client event {other:?}"),
        }
    }
    println!("echoed: {}", String::from_utf8_lossy(&received));
    server.close().await
}
