//! UDP sockets against real peers on loopback.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{loopback, next, within};
use netcore::NetAddress;
use netcore_socket::{
    EventKind, EventSource, ExtraOptions, Family, SocketEvent, SocketState, UdpExtraOptions,
    UdpSocket,
};

/// A UDP socket on loopback that sends every datagram back, through this API.
async fn echo_server() -> (Arc<UdpSocket>, NetAddress) {
    let server = Arc::new(UdpSocket::new());
    server.bind(loopback(0)).await.unwrap();
    let weak = Arc::downgrade(&server);
    server
        .on(EventKind::Message, move |event| {
            if let (SocketEvent::Message(m), Some(server)) = (event, weak.upgrade()) {
                let data = m.message.clone();
                let from = NetAddress::new(m.remote_info.address, m.remote_info.port);
                tokio::spawn(async move { server.send(&data[..], from).await.unwrap() });
            }
        })
        .unwrap();
    let address = server.local_address().unwrap();
    (server, address)
}

#[tokio::test]
async fn echo_with_events_in_order() {
    let (_server, server_address) = echo_server().await;
    let client = UdpSocket::new();
    let mut events = client.events();
    client.bind(loopback(0)).await.unwrap();
    client.send("ping", server_address).await.unwrap();

    assert!(matches!(next(&mut events).await, SocketEvent::Listening));
    match next(&mut events).await {
        SocketEvent::Message(m) => {
            assert_eq!(&m.message[..], b"ping");
            assert_eq!(m.remote_info.address, server_address.ip());
            assert_eq!(m.remote_info.port, server_address.port());
            assert_eq!(m.remote_info.family, Family::IPv4);
            assert_eq!(m.remote_info.family.to_string(), "IPv4");
            assert_eq!(m.remote_info.size, 4);
        }
        other => panic!("expected a message, got {other:?}"),
    }
    client.close().await.unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Close));
    assert!(
        within("the stream end", futures::StreamExt::next(&mut events))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn bytes_and_ipv6() {
    let server = UdpSocket::new();
    server
        .bind(NetAddress::parse("::1", Some(2), None).unwrap())
        .await
        .unwrap();
    let mut events = server.events();
    let client = UdpSocket::new();
    client
        .bind(NetAddress::parse("::1", Some(2), Some(0)).unwrap())
        .await
        .unwrap();
    let client_address = client.local_address().unwrap();
    client
        .send([0u8, 1, 255], server.local_address().unwrap())
        .await
        .unwrap();
    match next(&mut events).await {
        SocketEvent::Message(m) => {
            assert_eq!(&m.message[..], &[0, 1, 255]);
            assert_eq!(m.remote_info.family, Family::IPv6);
            assert_eq!(m.remote_info.port, client_address.port());
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn state_through_the_life_cycle() {
    let udp = UdpSocket::new();
    assert_eq!(udp.get_state().await.unwrap(), SocketState::default());
    udp.bind(loopback(0)).await.unwrap();
    assert_eq!(
        udp.get_state().await.unwrap(),
        SocketState {
            is_bound: true,
            is_close: false,
            is_connected: false
        }
    );
    udp.close().await.unwrap();
    assert_eq!(
        udp.get_state().await.unwrap(),
        SocketState {
            is_bound: false,
            is_close: true,
            is_connected: false
        }
    );
}

#[tokio::test]
async fn options_are_read_back_with_getsockopt() {
    let udp = UdpSocket::new();
    udp.bind(loopback(0)).await.unwrap();
    udp.set_extra_options(UdpExtraOptions {
        broadcast: Some(true),
        common: ExtraOptions {
            receive_buffer_size: Some(4096),
            send_buffer_size: Some(8192),
            reuse_address: Some(true),
            socket_timeout: Some(1500),
        },
    })
    .await
    .unwrap();
    let read = udp
        .with_socket(|s| {
            (
                s.broadcast().unwrap(),
                s.recv_buffer_size().unwrap(),
                s.send_buffer_size().unwrap(),
                s.reuse_address().unwrap(),
                s.read_timeout().unwrap(),
                s.write_timeout().unwrap(),
            )
        })
        .unwrap();
    // Linux stores twice the requested buffer size.
    let timeout = Some(Duration::from_millis(1500));
    assert_eq!(read, (true, 8192, 16384, true, timeout, timeout));

    // An invalid value changes nothing, not even the valid ones beside it.
    let bad = UdpExtraOptions {
        broadcast: Some(false),
        common: ExtraOptions {
            receive_buffer_size: Some(0),
            ..Default::default()
        },
    };
    assert_eq!(
        udp.set_extra_options(bad).await.unwrap_err().code(),
        2_100_001
    );
    assert!(udp.with_socket(|s| s.broadcast().unwrap()).unwrap());

    // socketTimeout 0 clears the timeout.
    let clear = UdpExtraOptions {
        common: ExtraOptions {
            socket_timeout: Some(0),
            ..Default::default()
        },
        ..Default::default()
    };
    udp.set_extra_options(clear).await.unwrap();
    assert_eq!(
        udp.with_socket(|s| s.read_timeout().unwrap()).unwrap(),
        None
    );
}

#[tokio::test]
async fn bad_input_and_calls_after_close_fail_with_codes() {
    let udp = UdpSocket::new();
    // Before bind.
    assert_eq!(
        udp.send("x", loopback(9)).await.unwrap_err().code(),
        2_100_003
    );
    assert_eq!(
        udp.set_extra_options(UdpExtraOptions::default())
            .await
            .unwrap_err()
            .code(),
        2_100_003
    );
    // Event types a UDP socket does not have.
    assert_eq!(udp.on(EventKind::Connect, |_| {}).unwrap_err().code(), 401);
    assert_eq!(udp.off(EventKind::Connect, None).unwrap_err().code(), 401);

    udp.bind(loopback(0)).await.unwrap();
    assert_eq!(udp.bind(loopback(0)).await.unwrap_err().code(), 2_100_003);
    assert_eq!(
        udp.send("x", loopback(0)).await.unwrap_err().code(),
        2_100_001
    );
    let v6 = NetAddress::parse("::1", None, Some(9)).unwrap();
    assert_eq!(udp.send("x", v6).await.unwrap_err().code(), 2_100_001);
    let too_big = vec![0u8; 70_000];
    assert_eq!(
        udp.send(too_big, loopback(9)).await.unwrap_err().code(),
        2_100_003
    );

    udp.close().await.unwrap();
    for error in [
        udp.send("x", loopback(9)).await.unwrap_err(),
        udp.bind(loopback(0)).await.unwrap_err(),
        udp.close().await.unwrap_err(),
        udp.set_extra_options(UdpExtraOptions::default())
            .await
            .unwrap_err(),
        udp.bind_to_interface("lo").unwrap_err(),
    ] {
        assert_eq!(error.code(), 2_100_003);
        assert!(error.to_string().contains("closed"), "{error}");
    }
}

#[test]
fn bad_addresses_are_refused_by_netaddress() {
    for (address, family, port) in [
        ("300.1.1.1", Some(1), Some(80)),
        ("127.0.0.1", Some(1), Some(65_536)),
        ("127.0.0.1", Some(1), Some(-1)),
        ("127.0.0.1", Some(3), Some(80)),
        ("127.0.0.1", Some(2), Some(80)),
        ("", None, None),
    ] {
        let error = NetAddress::parse(address, family, port).unwrap_err();
        assert_eq!(error.code(), 2_100_001, "{address} {family:?} {port:?}");
    }
}

#[tokio::test]
async fn off_removes_one_callback_or_all() {
    let (_server, server_address) = echo_server().await;
    let client = UdpSocket::new();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = |tag: &'static str| {
        let seen = Arc::clone(&seen);
        move |_: &SocketEvent| seen.lock().unwrap().push(tag)
    };
    let a = client.on(EventKind::Message, record("a")).unwrap();
    client.on(EventKind::Message, record("b")).unwrap();
    let mut events = client.events();
    client.bind(loopback(0)).await.unwrap();

    client.send("1", server_address).await.unwrap();
    next(&mut events).await; // listening
    next(&mut events).await; // message 1
    assert_eq!(client.off(EventKind::Message, Some(a)).unwrap(), 1);
    client.send("2", server_address).await.unwrap();
    next(&mut events).await; // message 2
    assert_eq!(client.off(EventKind::Message, None).unwrap(), 1);
    client.send("3", server_address).await.unwrap();
    next(&mut events).await; // message 3
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, vec!["a", "b", "b"]);
}
