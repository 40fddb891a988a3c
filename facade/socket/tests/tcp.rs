//! TCP client sockets against real peers on loopback.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{loopback, next, within};
use netcore::NetAddress;
use netcore_socket::{
    Encoding, EventKind, EventSource, ExtraOptions, SocketEvent, SocketLinger, SocketState,
    TcpConnectOptions, TcpExtraOptions, TcpSocket,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A plain tokio echo server on loopback.
async fn echo_server() -> NetAddress {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    NetAddress::new(address.ip(), address.port())
}

/// Reads messages from `events` until `len` bytes came.
async fn receive(events: &mut netcore_socket::EventStream<SocketEvent>, len: usize) -> Vec<u8> {
    let mut data = Vec::new();
    while data.len() < len {
        match next(events).await {
            SocketEvent::Message(m) => {
                assert_eq!(m.remote_info.size, m.message.len());
                data.extend_from_slice(&m.message);
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
    data
}

#[tokio::test]
async fn echo_with_callbacks_in_order() {
    let server = echo_server().await;
    let tcp = TcpSocket::new();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    for kind in [
        EventKind::Connect,
        EventKind::Message,
        EventKind::Close,
        EventKind::Error,
    ] {
        let log = Arc::clone(&log);
        tcp.on(kind, move |event| {
            let entry = match event {
                SocketEvent::Message(m) => {
                    format!("message {}", String::from_utf8_lossy(&m.message))
                }
                other => format!("{other:?}"),
            };
            log.lock().unwrap().push(entry);
        })
        .unwrap();
    }
    let mut events = tcp.events();

    tcp.connect(TcpConnectOptions {
        address: server,
        timeout: Some(Duration::from_secs(5)),
    })
    .await
    .unwrap();
    assert_eq!(
        tcp.get_state().await.unwrap(),
        SocketState {
            is_bound: true,
            is_close: false,
            is_connected: true
        }
    );
    assert_eq!(tcp.get_remote_address().await.unwrap(), server);
    assert!(matches!(next(&mut events).await, SocketEvent::Connect));
    tcp.send("hello").await.unwrap();
    assert_eq!(receive(&mut events, 5).await, b"hello");
    tcp.close().await.unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Close));

    let log = log.lock().unwrap().clone();
    assert_eq!(log.first().map(String::as_str), Some("Connect"));
    assert_eq!(log.last().map(String::as_str), Some("Close"));
    let text: String = log[1..log.len() - 1]
        .iter()
        .map(|m| m.strip_prefix("message ").unwrap())
        .collect();
    assert_eq!(text, "hello");
    assert_eq!(
        tcp.get_state().await.unwrap(),
        SocketState {
            is_bound: false,
            is_close: true,
            is_connected: false
        }
    );
}

#[tokio::test]
async fn bind_then_connect_uses_the_bound_port() {
    let server = echo_server().await;
    let tcp = TcpSocket::new();
    tcp.bind(loopback(0)).await.unwrap();
    assert_eq!(
        tcp.get_state().await.unwrap(),
        SocketState {
            is_bound: true,
            is_close: false,
            is_connected: false
        }
    );
    let bound = tcp
        .with_socket(|s| s.local_addr().unwrap().as_socket().unwrap())
        .unwrap();
    tcp.connect(TcpConnectOptions::new(server)).await.unwrap();
    let local = tcp
        .with_socket(|s| s.local_addr().unwrap().as_socket().unwrap())
        .unwrap();
    assert_eq!(local, bound);
}

#[tokio::test]
async fn text_is_sent_in_its_encoding() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tcp = TcpSocket::new();
    tcp.connect(TcpConnectOptions::new(loopback(port)))
        .await
        .unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    tcp.send_text("é", Encoding::Utf16Le).await.unwrap();
    tcp.send_text("é", Encoding::Iso8859_1).await.unwrap();
    tcp.send_text("é", Encoding::default()).await.unwrap();
    let mut got = [0u8; 5];
    within("reading", peer.read_exact(&mut got)).await.unwrap();
    assert_eq!(got, [0xE9, 0x00, 0xE9, 0xC3, 0xA9]);
    assert_eq!(
        tcp.send_text("é", Encoding::UsAscii)
            .await
            .unwrap_err()
            .code(),
        2_100_001
    );
}

#[tokio::test]
async fn options_are_read_back_with_getsockopt() {
    let server = echo_server().await;
    let tcp = TcpSocket::new();
    tcp.connect(TcpConnectOptions::new(server)).await.unwrap();
    tcp.set_extra_options(TcpExtraOptions {
        keep_alive: Some(true),
        oob_inline: Some(true),
        tcp_no_delay: Some(true),
        socket_linger: Some(SocketLinger {
            on: true,
            linger: 10,
        }),
        common: ExtraOptions {
            receive_buffer_size: Some(65_536),
            send_buffer_size: Some(32_768),
            reuse_address: Some(true),
            socket_timeout: Some(3000),
        },
    })
    .await
    .unwrap();
    let read = tcp
        .with_socket(|s| {
            (
                s.keepalive().unwrap(),
                s.out_of_band_inline().unwrap(),
                s.tcp_nodelay().unwrap(),
                s.linger().unwrap(),
                s.recv_buffer_size().unwrap(),
                s.send_buffer_size().unwrap(),
                s.reuse_address().unwrap(),
                s.read_timeout().unwrap(),
            )
        })
        .unwrap();
    assert_eq!(
        read,
        (
            true,
            true,
            true,
            Some(Duration::from_secs(1)),
            131_072,
            65_536,
            true,
            Some(Duration::from_secs(3))
        )
    );

    // linger off, and the largest value the seed allows.
    tcp.set_extra_options(TcpExtraOptions {
        socket_linger: Some(SocketLinger {
            on: false,
            linger: 0,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(tcp.with_socket(|s| s.linger().unwrap()).unwrap(), None);
    tcp.set_extra_options(TcpExtraOptions {
        socket_linger: Some(SocketLinger {
            on: true,
            linger: 65_535,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        tcp.with_socket(|s| s.linger().unwrap()).unwrap(),
        Some(Duration::from_secs(66)),
        "65535 ms lingers 66 s"
    );

    // Out of range: refused, and nothing else in the call is set.
    let bad = TcpExtraOptions {
        keep_alive: Some(false),
        socket_linger: Some(SocketLinger {
            on: true,
            linger: 65_536,
        }),
        ..Default::default()
    };
    assert_eq!(
        tcp.set_extra_options(bad).await.unwrap_err().code(),
        2_100_001
    );
    let bad = TcpExtraOptions {
        keep_alive: Some(false),
        common: ExtraOptions {
            send_buffer_size: Some(u64::MAX),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        tcp.set_extra_options(bad).await.unwrap_err().code(),
        2_100_001
    );
    assert!(tcp.with_socket(|s| s.keepalive().unwrap()).unwrap());
}

#[tokio::test]
async fn peer_reset_gives_error_then_close() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tcp = TcpSocket::new();
    let mut events = tcp.events();
    tcp.connect(TcpConnectOptions::new(loopback(port)))
        .await
        .unwrap();
    let (peer, _) = listener.accept().await.unwrap();
    assert!(matches!(next(&mut events).await, SocketEvent::Connect));
    // Linger 0 turns the close into a reset.
    socket2::SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(peer);
    match next(&mut events).await {
        SocketEvent::Error(e) => {
            assert_eq!(e.code(), 2_100_003);
            assert!(e.to_string().contains("reset"), "{e}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(matches!(next(&mut events).await, SocketEvent::Close));
    assert!(tcp.get_state().await.unwrap().is_close);
    let error = tcp.send("late").await.unwrap_err();
    assert_eq!(error.code(), 2_100_003);
    assert!(error.to_string().contains("closed"), "{error}");
}

#[tokio::test]
async fn peer_close_gives_close() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tcp = TcpSocket::new();
    let mut events = tcp.events();
    tcp.connect(TcpConnectOptions::new(loopback(port)))
        .await
        .unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    peer.write_all(b"bye").await.unwrap();
    drop(peer);
    assert!(matches!(next(&mut events).await, SocketEvent::Connect));
    assert_eq!(receive(&mut events, 3).await, b"bye");
    assert!(matches!(next(&mut events).await, SocketEvent::Close));
}

#[tokio::test]
async fn bad_input_and_wrong_states_fail_with_codes() {
    let tcp = TcpSocket::new();
    assert_eq!(tcp.send("x").await.unwrap_err().code(), 2_100_003);
    assert_eq!(
        tcp.get_remote_address().await.unwrap_err().code(),
        2_100_003
    );
    assert_eq!(
        tcp.set_extra_options(TcpExtraOptions::default())
            .await
            .unwrap_err()
            .code(),
        2_100_003
    );
    assert_eq!(
        tcp.on(EventKind::Listening, |_| {}).unwrap_err().code(),
        401
    );
    // Port 0 and a zero timeout are invalid values.
    assert_eq!(
        tcp.connect(TcpConnectOptions::new(loopback(0)))
            .await
            .unwrap_err()
            .code(),
        2_100_001
    );
    let server = echo_server().await;
    let zero = TcpConnectOptions {
        address: server,
        timeout: Some(Duration::ZERO),
    };
    assert_eq!(tcp.connect(zero).await.unwrap_err().code(), 2_100_001);

    // Nothing listens on a port we just freed: refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let error = tcp
        .connect(TcpConnectOptions::new(loopback(port)))
        .await
        .unwrap_err();
    assert_eq!(error.code(), 2_100_003);
    assert!(error.to_string().contains("refused"), "{error}");

    // The socket can still connect after a failure; then a family mismatch after bind.
    tcp.connect(TcpConnectOptions::new(server)).await.unwrap();
    assert_eq!(
        tcp.connect(TcpConnectOptions::new(server))
            .await
            .unwrap_err()
            .code(),
        2_100_003
    );
    let v6 = TcpSocket::new();
    v6.bind(NetAddress::parse("::1", Some(2), Some(0)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        v6.connect(TcpConnectOptions::new(server))
            .await
            .unwrap_err()
            .code(),
        2_100_001
    );

    tcp.close().await.unwrap();
    for error in [
        tcp.send("x").await.unwrap_err(),
        tcp.connect(TcpConnectOptions::new(server))
            .await
            .unwrap_err(),
        tcp.bind(loopback(0)).await.unwrap_err(),
        tcp.get_remote_address().await.unwrap_err(),
        tcp.close().await.unwrap_err(),
    ] {
        assert_eq!(error.code(), 2_100_003);
        assert!(error.to_string().contains("closed"), "{error}");
    }
}

/// A peer that sends `data` to whoever connects, then closes.
async fn sending_peer(data: Arc<Vec<u8>>) -> NetAddress {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let data = Arc::clone(&data);
            tokio::spawn(async move {
                let _ = stream.write_all(&data).await;
            });
        }
    });
    NetAddress::new(address.ip(), address.port())
}

fn pattern(len: usize) -> Arc<Vec<u8>> {
    Arc::new((0..len).map(|i| (i % 251) as u8).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_left_unread_holds_back_reading_until_dropped() {
    const TOTAL: usize = 16 * 1024 * 1024;
    let peer = sending_peer(pattern(TOTAL)).await;
    let tcp = TcpSocket::new();
    let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    tcp.on(EventKind::Message, move |event| {
        if let SocketEvent::Message(m) = event {
            counter.fetch_add(m.message.len(), std::sync::atomic::Ordering::SeqCst);
        }
    })
    .unwrap();
    let unread = tcp.events();
    tcp.connect(TcpConnectOptions::new(peer)).await.unwrap();

    tokio::time::sleep(Duration::from_millis(300)).await;
    let held_back = received.load(std::sync::atomic::Ordering::SeqCst);
    assert!(held_back > 0, "the callbacks read nothing");
    assert!(
        held_back <= 1024 * 1024,
        "{held_back} bytes were read while a stream held its messages unread"
    );

    drop(unread);
    within("reading on after the stream was dropped", async {
        while received.load(std::sync::atomic::Ordering::SeqCst) < TOTAL {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), TOTAL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_streams_on_two_tasks_each_get_every_byte_in_order() {
    const TOTAL: usize = 4 * 1024 * 1024;
    let data = pattern(TOTAL);
    let peer = sending_peer(Arc::clone(&data)).await;
    let tcp = TcpSocket::new();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut events = tcp.events();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    match next(&mut events).await {
                        SocketEvent::Message(m) => got.extend_from_slice(&m.message),
                        SocketEvent::Connect => {}
                        SocketEvent::Close => return got,
                        other => panic!("unexpected {other:?}"),
                    }
                }
            })
        })
        .collect();
    tcp.connect(TcpConnectOptions::new(peer)).await.unwrap();
    for reader in readers {
        let got = within("reading two streams", reader).await.unwrap();
        assert_eq!(got.len(), TOTAL);
        assert!(got == *data, "a stream's bytes differ from what was sent");
    }
}
