//! The TCP server and its connections, with clients of this API on loopback.

mod common;

use std::sync::{Arc, Mutex};

use common::{loopback, next};
use netcore_socket::{
    EventKind, EventSource, ServerEvent, SocketEvent, SocketState, TcpConnectOptions,
    TcpExtraOptions, TcpSocket, TcpSocketServer,
};

#[tokio::test]
async fn echo_server_with_callbacks() {
    let server = TcpSocketServer::new();
    server.listen(loopback(0)).await.unwrap();
    let address = server.local_address().unwrap();
    let connection_events = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&connection_events);
    server
        .on(EventKind::Connect, move |event| {
            let ServerEvent::Connect(connection) = event else {
                return;
            };
            let echo = connection.clone();
            connection
                .on(EventKind::Message, move |event| {
                    if let SocketEvent::Message(m) = event {
                        let echo = echo.clone();
                        let data = m.message.clone();
                        tokio::spawn(async move { echo.send(&data[..]).await.unwrap() });
                    }
                })
                .unwrap();
            let log = Arc::clone(&log);
            connection
                .on(EventKind::Close, move |_| {
                    log.lock().unwrap().push("close".into())
                })
                .unwrap();
        })
        .unwrap();

    let client = TcpSocket::new();
    let mut events = client.events();
    client
        .connect(TcpConnectOptions::new(address))
        .await
        .unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Connect));
    client.send("echo me").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 7 {
        match next(&mut events).await {
            SocketEvent::Message(m) => got.extend_from_slice(&m.message),
            other => panic!("expected a message, got {other:?}"),
        }
    }
    assert_eq!(got, b"echo me");
    client.close().await.unwrap();
    // The server side sees the client leave.
    common::within("the connection's close", async {
        while connection_events.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(*connection_events.lock().unwrap(), vec!["close".to_owned()]);
}

#[tokio::test]
async fn connections_as_streams_miss_nothing() {
    let server = TcpSocketServer::new();
    let mut server_events = server.events();
    server.listen(loopback(0)).await.unwrap();
    let address = server.local_address().unwrap();

    // The client sends before the server side listens to the connection.
    let client = TcpSocket::new();
    client
        .connect(TcpConnectOptions::new(address))
        .await
        .unwrap();
    client.send("early").await.unwrap();
    let client_local = client
        .with_socket(|s| s.local_addr().unwrap().as_socket().unwrap())
        .unwrap();

    let ServerEvent::Connect(connection) = next(&mut server_events).await else {
        panic!("expected a connection");
    };
    assert_eq!(connection.client_id(), 1);
    let remote = connection.get_remote_address().await.unwrap();
    assert_eq!(
        (remote.ip(), remote.port()),
        (client_local.ip(), client_local.port())
    );
    assert_eq!(
        connection.get_state().await.unwrap(),
        SocketState {
            is_bound: true,
            is_close: false,
            is_connected: true
        }
    );
    let mut events = connection.events();
    let mut got = Vec::new();
    while got.len() < 5 {
        match next(&mut events).await {
            SocketEvent::Message(m) => {
                assert_eq!(m.remote_info.port, client_local.port());
                got.extend_from_slice(&m.message);
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
    assert_eq!(got, b"early");

    // The server closes the connection: it emits close, the client sees the end.
    let mut client_events = client.events();
    connection.close().await.unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Close));
    assert!(matches!(next(&mut client_events).await, SocketEvent::Close));
    assert_eq!(connection.send("x").await.unwrap_err().code(), 2_100_003);
    assert_eq!(connection.close().await.unwrap_err().code(), 2_100_003);

    // A second client gets the next id.
    let second = TcpSocket::new();
    second
        .connect(TcpConnectOptions::new(address))
        .await
        .unwrap();
    let ServerEvent::Connect(connection) = next(&mut server_events).await else {
        panic!("expected a connection");
    };
    assert_eq!(connection.client_id(), 2);
}

#[tokio::test]
async fn options_apply_to_accepted_connections_and_off_stops_connect_events() {
    let server = TcpSocketServer::new();
    assert_eq!(
        server
            .set_extra_options(TcpExtraOptions::default())
            .await
            .unwrap_err()
            .code(),
        2_100_003
    );
    server.listen(loopback(0)).await.unwrap();
    let address = server.local_address().unwrap();
    server
        .set_extra_options(TcpExtraOptions {
            tcp_no_delay: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut server_events = server.events();
    let connects = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&connects);
    let id = server
        .on(EventKind::Connect, move |_| *counter.lock().unwrap() += 1)
        .unwrap();

    let client = TcpSocket::new();
    client
        .connect(TcpConnectOptions::new(address))
        .await
        .unwrap();
    let ServerEvent::Connect(connection) = next(&mut server_events).await else {
        panic!("expected a connection");
    };
    let mut events = connection.events();
    connection
        .set_extra_options(TcpExtraOptions {
            keep_alive: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let read = connection
        .with_socket(|s| (s.tcp_nodelay().unwrap(), s.keepalive().unwrap()))
        .unwrap();
    assert_eq!(read, (true, true));
    assert_eq!(*connects.lock().unwrap(), 1);
    assert_eq!(server.off(EventKind::Connect, Some(id)).unwrap(), 1);
    let other = TcpSocket::new();
    other
        .connect(TcpConnectOptions::new(address))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut server_events).await,
        ServerEvent::Connect(_)
    ));
    assert_eq!(*connects.lock().unwrap(), 1);

    server.close().await.unwrap();
    assert!(matches!(next(&mut server_events).await, ServerEvent::Close));
    assert!(server.get_state().await.unwrap().is_close);
    assert_eq!(
        server.listen(loopback(0)).await.unwrap_err().code(),
        2_100_003
    );
    // Accepted connections outlive the server.
    client.send("still here").await.unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Message(_)));
}

#[tokio::test]
async fn a_connection_lives_without_a_kept_handle() {
    let server = TcpSocketServer::new();
    server.listen(loopback(0)).await.unwrap();
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    server
        .on(EventKind::Connect, move |event| {
            let ServerEvent::Connect(connection) = event else {
                return;
            };
            let sender = sender.clone();
            // Only the callback is registered; the handle itself is dropped here.
            connection
                .on(EventKind::Message, move |event| {
                    if let SocketEvent::Message(m) = event {
                        sender.send(m.message.to_vec()).unwrap();
                    }
                })
                .unwrap();
        })
        .unwrap();
    let client = TcpSocket::new();
    client
        .connect(TcpConnectOptions::new(server.local_address().unwrap()))
        .await
        .unwrap();
    client.send("still open").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 10 {
        got.extend(common::within("a message", received.recv()).await.unwrap());
    }
    assert_eq!(got, b"still open");
    assert!(!client.get_state().await.unwrap().is_close);
}
