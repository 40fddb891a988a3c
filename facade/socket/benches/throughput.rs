//! Throughput through this crate's API next to plain tokio / tokio-rustls, in one run:
//! bulk TCP (API client to API server connection vs tokio to tokio), UDP messages
//! (API to API vs tokio to tokio) and TLS (API client vs tokio-rustls client, both to
//! the same tokio-rustls server). The target is at least 0.9x of the plain baseline.
//! Each run of one side is followed by a run of the other, timed only on its own
//! side: both then see the same machine (on a shared 2-core VM, measuring one side
//! after the other moved the ratio by up to +-30 %).
//!
//! TCP runs on a 2-worker runtime and on a current-thread one. Both TCP pairs get the
//! same fixed socket buffers: with the kernel's autotuning each connection settled on
//! its own window, which moved the ratio by +-20 % from run to run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use netcore::NetAddress;
use netcore_socket::{
    EventSource, EventStream, ExtraOptions, ServerEvent, SocketEvent, TcpConnectOptions,
    TcpExtraOptions, TcpSocket, TcpSocketServer, TlsConnectOptions, TlsSecureOptions, TlsSocket,
    UdpExtraOptions, UdpSocket,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

const BULK: usize = 8 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;
const DATAGRAMS: usize = 2048;
const WINDOW: usize = 64;
const DATAGRAM: usize = 64;
/// `SO_RCVBUF` and `SO_SNDBUF` of both ends of each TCP pair.
const TCP_SOCKET_BUFFER: usize = 1024 * 1024;

fn loopback(port: u16) -> NetAddress {
    NetAddress::new([127, 0, 0, 1].into(), port)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A single-threaded runtime: no hand-off between threads, so it shows the cost of
/// the API's own data path apart from scheduling on a busy machine.
fn current_thread_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Sums message sizes from `events` until `total` bytes came.
async fn drain(events: &mut EventStream<SocketEvent>, total: usize) {
    let mut got = 0;
    while got < total {
        match events.next().await {
            Some(SocketEvent::Message(m)) => got += m.message.len(),
            Some(_) => {}
            None => panic!("the stream ended"),
        }
    }
}

fn tcp(c: &mut Criterion) {
    tcp_on(c, "tcp_bulk", runtime());
    tcp_on(c, "tcp_bulk_current_thread", current_thread_runtime());
}

/// TCP bulk through this API and through plain tokio, on `rt`.
fn tcp_on(c: &mut Criterion, name: &str, rt: Runtime) {
    let chunk = vec![7u8; CHUNK];
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(BULK as u64));

    let (client, mut received, _server) = rt.block_on(async {
        let server = TcpSocketServer::new();
        let mut server_events = server.events();
        server.listen(loopback(0)).await.unwrap();
        let client = TcpSocket::new();
        client
            .connect(TcpConnectOptions::new(server.local_address().unwrap()))
            .await
            .unwrap();
        let Some(ServerEvent::Connect(connection)) = server_events.next().await else {
            panic!("no connection")
        };
        let events = connection.events();
        let buffers = TcpExtraOptions {
            common: ExtraOptions {
                receive_buffer_size: Some(TCP_SOCKET_BUFFER as u64),
                send_buffer_size: Some(TCP_SOCKET_BUFFER as u64),
                ..Default::default()
            },
            ..Default::default()
        };
        client.set_extra_options(buffers).await.unwrap();
        connection.set_extra_options(buffers).await.unwrap();
        (client, events, server)
    });
    let (mut writer, mut reader) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let writer = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (reader, _) = listener.accept().await.unwrap();
        for end in [
            socket2::SockRef::from(&writer),
            socket2::SockRef::from(&reader),
        ] {
            end.set_recv_buffer_size(TCP_SOCKET_BUFFER).unwrap();
            end.set_send_buffer_size(TCP_SOCKET_BUFFER).unwrap();
        }
        (writer, reader)
    });
    let mut api = async || {
        let send = async {
            for _ in 0..BULK / CHUNK {
                client.send(&chunk).await.unwrap();
            }
        };
        tokio::join!(send, drain(&mut received, BULK));
    };
    let mut buffer = vec![0u8; CHUNK];
    let mut plain = async || {
        let send = async {
            for _ in 0..BULK / CHUNK {
                writer.write_all(&chunk).await.unwrap();
            }
        };
        let receive = async {
            let mut got = 0;
            while got < BULK {
                got += reader.read(&mut buffer).await.unwrap();
            }
        };
        tokio::join!(send, receive);
    };
    paired(&mut group, &rt, "plain_tokio", &mut api, &mut plain);
    group.finish();
}

fn udp(c: &mut Criterion) {
    let rt = runtime();
    let datagram = [1u8; DATAGRAM];
    let mut group = c.benchmark_group("udp_messages");
    group.throughput(Throughput::Elements(DATAGRAMS as u64));

    let (sender, receiver_address, mut received, _receiver) = rt.block_on(async {
        let receiver = UdpSocket::new();
        receiver.bind(loopback(0)).await.unwrap();
        receiver
            .set_extra_options(UdpExtraOptions {
                common: ExtraOptions {
                    receive_buffer_size: Some(1 << 20),
                    ..Default::default()
                },
                ..Default::default()
            })
            .await
            .unwrap();
        let events = receiver.events();
        let sender = UdpSocket::new();
        sender.bind(loopback(0)).await.unwrap();
        let address = receiver.local_address().unwrap();
        (sender, address, events, receiver)
    });
    let (plain_sender, plain_receiver) = rt.block_on(async {
        let receiver = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket2::SockRef::from(&receiver)
            .set_recv_buffer_size(1 << 20)
            .unwrap();
        let sender = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        (sender, receiver)
    });
    let mut api = async || {
        for _ in 0..DATAGRAMS / WINDOW {
            for _ in 0..WINDOW {
                sender.send(datagram, receiver_address).await.unwrap();
            }
            drain(&mut received, WINDOW * DATAGRAM).await;
        }
    };
    let to = plain_receiver.local_addr().unwrap();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut plain = async || {
        for _ in 0..DATAGRAMS / WINDOW {
            for _ in 0..WINDOW {
                plain_sender.send_to(&datagram, to).await.unwrap();
            }
            for _ in 0..WINDOW {
                plain_receiver.recv_from(&mut buffer).await.unwrap();
            }
        }
    };
    paired(&mut group, &rt, "plain_tokio", &mut api, &mut plain);
    group.finish();
}

/// A tokio-rustls server that reads and discards, acknowledging each `BULK` bytes
/// with one byte.
async fn tls_sink() -> (u16, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params
        .signed_by(&key, &rcgen::Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut tls = acceptor.accept(stream).await.unwrap();
                let mut buffer = vec![0u8; CHUNK];
                let mut got = 0;
                loop {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                    while got >= BULK {
                        got -= BULK;
                        tls.write_all(b"k").await.unwrap();
                        tls.flush().await.unwrap();
                    }
                }
            });
        }
    });
    (port, ca.pem())
}

fn tls(c: &mut Criterion) {
    let rt = runtime();
    let chunk = vec![7u8; CHUNK];
    let mut group = c.benchmark_group("tls_bulk");
    group.throughput(Throughput::Bytes(BULK as u64));
    let (port, ca_pem) = rt.block_on(tls_sink());

    let (client, mut acks) = rt.block_on(async {
        let client = TlsSocket::new();
        let acks = client.events();
        let secure = TlsSecureOptions {
            ca: vec![ca_pem.clone()],
            ..Default::default()
        };
        client
            .connect(TlsConnectOptions::new(loopback(port), secure))
            .await
            .unwrap();
        (client, acks)
    });
    let mut plain_client = rt.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(ca_pem.as_bytes()) {
            let cert: CertificateDer<'static> = cert.unwrap();
            roots.add(cert).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(
                ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into()),
                stream,
            )
            .await
            .unwrap()
    });
    let mut api = async || {
        for _ in 0..BULK / CHUNK {
            client.send(&chunk).await.unwrap();
        }
        drain(&mut acks, 1).await;
    };
    let mut plain = async || {
        let mut ack = [0u8; 1];
        for _ in 0..BULK / CHUNK {
            plain_client.write_all(&chunk).await.unwrap();
            plain_client.flush().await.unwrap();
        }
        plain_client.read_exact(&mut ack).await.unwrap();
    };
    paired(&mut group, &rt, "plain_tokio_rustls", &mut api, &mut plain);
    group.finish();
}

/// Benchmarks `api` as `netcore_socket` and `plain` as `plain_name`, each run of
/// one followed by an untimed run of the other.
fn paired(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    plain_name: &str,
    api: &mut impl AsyncFnMut(),
    plain: &mut impl AsyncFnMut(),
) {
    group.bench_function("netcore_socket", |b| {
        b.iter_custom(|iters| rt.block_on(alternate(iters, &mut *api, &mut *plain)))
    });
    group.bench_function(plain_name, |b| {
        b.iter_custom(|iters| rt.block_on(alternate(iters, &mut *plain, &mut *api)))
    });
}

/// Runs `measured` and `other` in turn `iters` times; the time `measured` took.
async fn alternate(
    iters: u64,
    measured: &mut impl AsyncFnMut(),
    other: &mut impl AsyncFnMut(),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        measured().await;
        total += start.elapsed();
        other().await;
    }
    total
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
}

criterion_group! {
    name = benches;
    config = config();
    targets = tcp, udp, tls
}
criterion_main!(benches);
