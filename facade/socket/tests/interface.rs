//! Binding every socket type to a network interface (what `NetHandle.bindSocket`
//! uses), on `lo`. The TLS socket's binding is tested in `tls.rs`.

mod common;

use common::{loopback, next};
use netcore_socket::{
    BindToInterface, EventSource, SocketEvent, TcpConnectOptions, TcpSocket, TcpSocketServer,
    UdpSocket,
};

#[tokio::test]
async fn tcp_bound_to_lo_before_connect_reaches_loopback() {
    let server = TcpSocketServer::new();
    server.bind_to_interface("lo").unwrap();
    server.listen(loopback(0)).await.unwrap();
    let address = server.local_address().unwrap();

    let tcp = TcpSocket::new();
    tcp.bind_to_interface("lo").unwrap();
    assert_eq!(tcp.bound_interface().unwrap().as_deref(), Some("lo"));
    tcp.connect(TcpConnectOptions::new(address)).await.unwrap();
    // Read back from the OS socket with getsockopt(SO_BINDTODEVICE).
    assert_eq!(tcp.bound_interface().unwrap().as_deref(), Some("lo"));
    tcp.send("x").await.unwrap();
}

#[tokio::test]
async fn tcp_bound_after_bind() {
    let tcp = TcpSocket::new();
    tcp.bind(loopback(0)).await.unwrap();
    tcp.bind_to_interface("lo").unwrap();
    let device = tcp.with_socket(|s| s.device().unwrap()).unwrap();
    assert_eq!(device.as_deref(), Some(&b"lo"[..]));
}

#[tokio::test]
async fn udp_bound_to_lo_after_bind_still_receives() {
    let udp = UdpSocket::new();
    udp.bind(loopback(0)).await.unwrap();
    udp.bind_to_interface("lo").unwrap();
    assert_eq!(udp.bound_interface().unwrap().as_deref(), Some("lo"));
    let mut events = udp.events();
    let sender = UdpSocket::new();
    sender.bind_to_interface("lo").unwrap();
    sender.bind(loopback(0)).await.unwrap();
    assert_eq!(sender.bound_interface().unwrap().as_deref(), Some("lo"));
    sender
        .send("hi", udp.local_address().unwrap())
        .await
        .unwrap();
    match next(&mut events).await {
        SocketEvent::Message(m) => assert_eq!(&m.message[..], b"hi"),
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_or_malformed_interfaces_are_invalid_values() {
    let tcp = TcpSocket::new();
    let udp = UdpSocket::new();
    let server = TcpSocketServer::new();
    for name in ["nosuchif0", "", "a-name-far-too-long", "l\0o"] {
        for error in [
            tcp.bind_to_interface(name).unwrap_err(),
            udp.bind_to_interface(name).unwrap_err(),
            server.bind_to_interface(name).unwrap_err(),
        ] {
            assert_eq!(error.code(), 2_100_001, "{name:?}: {error}");
        }
    }
    let error = tcp.bind_to_interface("nosuchif0").unwrap_err();
    assert!(
        error.to_string().contains("no network interface named"),
        "{error}"
    );
    // Nothing was recorded by the failed calls.
    assert_eq!(tcp.bound_interface().unwrap(), None);

    // On an existing OS socket too.
    udp.bind(loopback(0)).await.unwrap();
    assert_eq!(
        udp.bind_to_interface("nosuchif0").unwrap_err().code(),
        2_100_001
    );
    assert_eq!(udp.bound_interface().unwrap(), None);
}

/// How the facade's `NetHandle.bindSocket` uses the crate: through the trait, for any
/// socket type.
fn bind_socket(socket: &dyn BindToInterface, interface: &str) -> Result<(), netcore::Error> {
    socket.bind_to_interface(interface)
}

#[tokio::test]
async fn every_socket_type_binds_through_the_trait() {
    let tcp = TcpSocket::new();
    let udp = UdpSocket::new();
    let server = TcpSocketServer::new();
    let tls = netcore_socket::TlsSocket::new();
    for socket in [&tcp as &dyn BindToInterface, &udp, &server, &tls] {
        bind_socket(socket, "lo").unwrap();
        assert_eq!(
            bind_socket(socket, "nosuchif0").unwrap_err().code(),
            2_100_001
        );
    }
    udp.bind(loopback(0)).await.unwrap();
    assert_eq!(udp.bound_interface().unwrap().as_deref(), Some("lo"));
}
