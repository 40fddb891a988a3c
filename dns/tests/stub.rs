//! The DNS stub against real DNS servers (hickory-server) on loopback, asked over UDP
//! and TCP as a resolver library would.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Answer, TestServer, ip, loopback_interface, net};
use hickory_proto::op::{Edns, Message, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use netcore_dns::stub::{DnsStub, Identify, StubConfig, Transport};
use netcore_dns::{AppId, DnsConfig, DnsService};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const APP: AppId = AppId::from_uid(10_001);
const OTHER_APP: AppId = AppId::from_uid(10_002);

/// Which app owns which client port: the test's stand-in for sock_diag.
#[derive(Clone, Default)]
struct Owners(Arc<Mutex<HashMap<u16, AppId>>>);

impl Owners {
    fn identify(&self) -> Identify {
        let owners = self.clone();
        Arc::new(move |_: Transport, client: SocketAddr, _: SocketAddr| {
            owners.0.lock().unwrap().get(&client.port()).copied()
        })
    }

    fn own(&self, port: u16, app: AppId) {
        self.0.lock().unwrap().insert(port, app);
    }
}

struct Rig {
    dns: DnsService,
    stub: DnsStub,
    a: TestServer,
    b: TestServer,
    owners: Owners,
}

/// Two networks (100, the default, and 101) whose servers answer `shared.test`
/// differently, and a stub in front of them.
async fn rig(config: StubConfig) -> Rig {
    let a = TestServer::start("127.0.0.1").await;
    let b = TestServer::start("127.0.0.2").await;
    a.set("shared.test", Answer::Addresses(vec![ip("10.0.0.1")], 300));
    b.set("shared.test", Answer::Addresses(vec![ip("10.0.0.2")], 300));
    a.set("v6only.test", Answer::Addresses(vec![ip("fd00::6")], 300));
    a.set("text.test", Answer::Txt("hello from a".into(), 300));
    let mut dns_config = DnsConfig::default();
    dns_config.timeout = Duration::from_millis(500);
    dns_config.attempts = 0;
    let dns = DnsService::new(dns_config);
    let iface = loopback_interface();
    dns.set_network(net(100), &a.properties(iface)).unwrap();
    dns.set_network(net(101), &b.properties(iface)).unwrap();
    dns.set_default_network(net(100));
    let owners = Owners::default();
    let stub = DnsStub::start(dns.clone(), config, owners.identify())
        .await
        .unwrap();
    Rig {
        dns,
        stub,
        a,
        b,
        owners,
    }
}

fn local_config() -> StubConfig {
    let mut config = StubConfig::default();
    config.listen = vec!["127.0.0.3:0".parse().unwrap()];
    config
}

fn query(id: u16, name: &str, rtype: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.id = id;
    message.metadata.recursion_desired = true;
    message.add_query(hickory_proto::op::Query::query(
        Name::from_ascii(name).unwrap(),
        rtype,
    ));
    message
}

/// A client socket of `app`.
async fn client(rig: &Rig, app: AppId) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    rig.owners.own(socket.local_addr().unwrap().port(), app);
    socket.connect(rig.stub.addresses()[0]).await.unwrap();
    socket
}

async fn ask_raw(socket: &UdpSocket, bytes: &[u8]) -> Option<Vec<u8>> {
    socket.send(bytes).await.unwrap();
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buf)).await {
        Ok(Ok(len)) => Some(buf[..len].to_vec()),
        _ => None,
    }
}

async fn ask(socket: &UdpSocket, message: &Message) -> Message {
    let answer = ask_raw(socket, &message.to_vec().unwrap())
        .await
        .expect("an answer");
    let answer = Message::from_vec(&answer).unwrap();
    assert_eq!(answer.metadata.id, message.metadata.id);
    answer
}

/// The addresses and TXT strings of an answer.
fn data(answer: &Message) -> Vec<String> {
    answer
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::A(a) => a.0.to_string(),
            RData::AAAA(a) => a.0.to_string(),
            RData::TXT(t) => t.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn each_app_gets_its_rules_its_network_or_the_default() {
    let rig = rig(local_config()).await;
    rig.dns
        .add_custom_dns_rule(APP, "shared.test", &["192.0.2.7"])
        .unwrap();
    let app = client(&rig, APP).await;
    let other = client(&rig, OTHER_APP).await;
    let unknown = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    unknown.connect(rig.stub.addresses()[0]).await.unwrap();

    let answer = ask(&app, &query(1, "shared.test.", RecordType::A)).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(answer.metadata.recursion_available);
    assert_eq!(
        answer.queries,
        query(1, "shared.test.", RecordType::A).queries
    );
    assert_eq!(data(&answer), ["192.0.2.7"], "the app's rule");
    let answer = ask(&other, &query(2, "shared.test.", RecordType::A)).await;
    assert_eq!(data(&answer), ["10.0.0.1"], "the default network");
    let answer = ask(&unknown, &query(3, "shared.test.", RecordType::A)).await;
    assert_eq!(data(&answer), ["10.0.0.1"], "no app: the default network");

    rig.dns.set_app_network(OTHER_APP, net(101));
    let answer = ask(&other, &query(4, "shared.test.", RecordType::A)).await;
    assert_eq!(data(&answer), ["10.0.0.2"], "the app's network");
    rig.dns.set_app_network(OTHER_APP, netcore::NetHandle::NONE);
    let answer = ask(&other, &query(5, "shared.test.", RecordType::A)).await;
    assert_eq!(data(&answer), ["10.0.0.1"], "the default again");
    // Answered from the cache: one query reached each server.
    assert_eq!(rig.a.count("shared.test", RecordType::A), 1);
    assert_eq!(rig.b.count("shared.test", RecordType::A), 1);

    // A name with only IPv6 addresses exists: no A record, but no NXDOMAIN.
    let answer = ask(&other, &query(6, "v6only.test.", RecordType::A)).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(answer.answers.is_empty());
    let answer = ask(&other, &query(7, "v6only.test.", RecordType::AAAA)).await;
    assert_eq!(data(&answer), ["fd00::6"]);
    let answer = ask(&other, &query(8, "missing.test.", RecordType::A)).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
    // Other types are asked of the network's servers.
    let answer = ask(&other, &query(9, "text.test.", RecordType::TXT)).await;
    assert_eq!(data(&answer), ["hello from a"]);
    let answer = ask(&other, &query(10, "missing.test.", RecordType::MX)).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
}

#[tokio::test]
async fn tcp_answers_several_queries_per_connection() {
    let rig = rig(local_config()).await;
    rig.dns
        .add_custom_dns_rule(APP, "shared.test", &["192.0.2.7"])
        .unwrap();
    let mut stream = TcpStream::connect(rig.stub.addresses()[0]).await.unwrap();
    rig.owners.own(stream.local_addr().unwrap().port(), APP);
    for (id, name, wanted) in [
        (1, "shared.test.", "192.0.2.7"),
        (2, "text.test.", "hello from a"),
    ] {
        let rtype = if id == 1 {
            RecordType::A
        } else {
            RecordType::TXT
        };
        let bytes = query(id, name, rtype).to_vec().unwrap();
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        stream.write_all(&framed).await.unwrap();
        let len = stream.read_u16().await.unwrap();
        let mut answer = vec![0; usize::from(len)];
        stream.read_exact(&mut answer).await.unwrap();
        let answer = Message::from_vec(&answer).unwrap();
        assert_eq!(answer.metadata.id, id);
        assert_eq!(data(&answer), [wanted]);
    }
    // A message longer than any query closes the connection.
    stream.write_all(&60_000u16.to_be_bytes()).await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut rest)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
}

#[tokio::test]
async fn udp_answers_too_long_are_truncated_for_tcp() {
    let rig = rig(local_config()).await;
    let many: Vec<String> = (1..=60).map(|i| format!("10.1.0.{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    rig.dns
        .add_custom_dns_rule(APP, "many.test", &many)
        .unwrap();
    let app = client(&rig, APP).await;
    let answer = ask(&app, &query(1, "many.test.", RecordType::A)).await;
    assert!(
        answer.metadata.truncation,
        "60 records do not fit 512 bytes"
    );
    assert!(answer.answers.is_empty());
    // With EDNS and 1232 bytes they do.
    let mut edns_query = query(2, "many.test.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    edns_query.set_edns(edns);
    let answer = ask(&app, &edns_query).await;
    assert!(!answer.metadata.truncation);
    assert_eq!(answer.answers.len(), 60);
    assert!(answer.edns.is_some(), "EDNS answered with EDNS");
}

#[tokio::test]
async fn bad_queries_get_clear_codes_or_nothing() {
    let rig = rig(local_config()).await;
    let app = client(&rig, APP).await;
    // Not even a header: nothing to answer.
    assert_eq!(ask_raw(&app, b"\x12\x34\x01").await, None);
    // A header and garbage: FORMERR with the same id.
    let answer = ask_raw(
        &app,
        &[0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
    )
    .await
    .unwrap();
    let answer = Message::from_vec(&answer).unwrap();
    assert_eq!(answer.metadata.id, 0xabcd);
    assert_eq!(answer.metadata.response_code, ResponseCode::FormErr);
    // Two questions.
    let mut two = query(3, "shared.test.", RecordType::A);
    two.add_query(hickory_proto::op::Query::query(
        Name::from_ascii("text.test.").unwrap(),
        RecordType::A,
    ));
    assert_eq!(
        ask(&app, &two).await.metadata.response_code,
        ResponseCode::FormErr
    );
    // Another opcode, another class, zone transfers.
    let mut status = query(4, "shared.test.", RecordType::A);
    status.metadata.op_code = OpCode::Status;
    assert_eq!(
        ask(&app, &status).await.metadata.response_code,
        ResponseCode::NotImp
    );
    let mut chaos = query(5, "version.bind.", RecordType::TXT);
    chaos.queries[0].query_class = DNSClass::CH;
    assert_eq!(
        ask(&app, &chaos).await.metadata.response_code,
        ResponseCode::NotImp
    );
    let axfr = query(6, "test.", RecordType::AXFR);
    assert_eq!(
        ask(&app, &axfr).await.metadata.response_code,
        ResponseCode::NotImp
    );
    // A datagram over the limit is dropped.
    let mut huge = query(7, "shared.test.", RecordType::A).to_vec().unwrap();
    huge.resize(netcore_dns::stub::MAX_QUERY_LEN + 100, 0);
    assert_eq!(ask_raw(&app, &huge).await, None);
    // The stub still answers.
    let answer = ask(&app, &query(8, "shared.test.", RecordType::A)).await;
    assert_eq!(data(&answer), ["10.0.0.1"]);
}

#[tokio::test]
async fn one_apps_flood_does_not_starve_another() {
    let mut config = local_config();
    config.max_in_flight_per_app = 8;
    let rig = rig(config).await;
    for i in 0..100u16 {
        rig.a.set(
            &format!("n{i}.slow.test"),
            Answer::Delayed(
                Duration::from_millis(300),
                Box::new(Answer::Addresses(vec![ip("10.9.9.9")], 300)),
            ),
        );
    }
    let flooder = client(&rig, APP).await;
    // Distinct names: nothing coalesces, every query waits for the server.
    for i in 0..100u16 {
        let name = format!("n{i}.slow.test.");
        flooder
            .send(&query(i, &name, RecordType::A).to_vec().unwrap())
            .await
            .unwrap();
    }
    // Another app is answered at once.
    let other = client(&rig, OTHER_APP).await;
    let started = std::time::Instant::now();
    let answer = ask(&other, &query(500, "shared.test.", RecordType::A)).await;
    assert_eq!(data(&answer), ["10.0.0.1"]);
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    // The flooder got at most its 8 in-flight answers; the rest were dropped.
    let mut answered = 0;
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), flooder.recv(&mut buf)).await
    {
        answered += 1;
    }
    assert!((1..=8).contains(&answered), "{answered} answered");
    // Once they are answered, the flooder is served again.
    let answer = ask(&flooder, &query(600, "shared.test.", RecordType::A)).await;
    assert_eq!(data(&answer), ["10.0.0.1"]);
}
