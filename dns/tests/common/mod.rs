//! A real DNS server on loopback for the tests: hickory-server with a handler that
//! answers from a table the test sets, and counts the queries it gets.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_net::runtime::Time;
use hickory_proto::op::{Metadata, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo, Server};
use hickory_server::zone_handler::MessageResponseBuilder;
use netcore::{ConnectionProperties, NetAddress, NetHandle};

/// What the server answers for a name.
#[derive(Debug, Clone)]
pub enum Answer {
    /// These addresses (A or AAAA as asked) with this TTL.
    Addresses(Vec<IpAddr>, u32),
    /// NXDOMAIN with an SOA whose minimum is this negative TTL.
    NxDomain(u32),
    /// SERVFAIL.
    ServFail,
    /// A TXT record (to TXT queries; an empty answer to others) with this TTL.
    Txt(String, u32),
    /// The same answer after a delay.
    Delayed(Duration, Box<Answer>),
}

#[derive(Default)]
struct Table {
    answers: HashMap<String, Answer>,
    counts: HashMap<(String, RecordType), usize>,
}

#[derive(Clone, Default)]
struct Handler {
    table: Arc<Mutex<Table>>,
}

/// A DNS server on a loopback address, stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    table: Arc<Mutex<Table>>,
    _server: Server<Handler>,
}

impl TestServer {
    /// Starts a server on `ip` (a loopback address) at a free port.
    pub async fn start(ip: &str) -> Self {
        Self::start_at(ip, 0).await
    }

    /// Starts a server on `ip` (a loopback address) at `port` (0: a free one).
    pub async fn start_at(ip: &str, port: u16) -> Self {
        let socket = tokio::net::UdpSocket::bind((ip, port)).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let handler = Handler::default();
        let table = handler.table.clone();
        let mut server = Server::new(handler);
        server.register_socket(socket);
        // TCP on the same port, for truncated answers.
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        server.register_listener(listener, Duration::from_secs(5), 64);
        Self {
            addr,
            table,
            _server: server,
        }
    }

    /// Sets the answer for `name` (lower case, without the trailing dot).
    pub fn set(&self, name: &str, answer: Answer) {
        self.table
            .lock()
            .unwrap()
            .answers
            .insert(name.to_owned(), answer);
    }

    /// How many queries of `rtype` for `name` the server got.
    pub fn count(&self, name: &str, rtype: RecordType) -> usize {
        let table = self.table.lock().unwrap();
        table
            .counts
            .get(&(name.to_owned(), rtype))
            .copied()
            .unwrap_or(0)
    }

    /// The total number of queries the server got.
    pub fn total(&self) -> usize {
        self.table.lock().unwrap().counts.values().sum()
    }

    /// Properties of a network whose only DNS server is this one.
    pub fn properties(&self, interface: &str) -> ConnectionProperties {
        ConnectionProperties {
            interface_name: interface.to_owned(),
            dnses: vec![NetAddress::new(self.addr.ip(), self.addr.port())],
            ..Default::default()
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let Some(query) = request.queries.queries().first() else {
            let builder = MessageResponseBuilder::from_message_request(request);
            return response_handle
                .send_response(builder.error_msg(&request.metadata, ResponseCode::FormErr))
                .await
                .unwrap();
        };
        let qname = Name::from(query.name().clone());
        let key = qname.to_string().trim_end_matches('.').to_lowercase();
        let rtype = query.query_type();
        let mut answer = {
            let mut table = self.table.lock().unwrap();
            *table.counts.entry((key.clone(), rtype)).or_default() += 1;
            table
                .answers
                .get(&key)
                .cloned()
                .unwrap_or(Answer::NxDomain(0))
        };
        while let Answer::Delayed(delay, inner) = answer {
            tokio::time::sleep(delay).await;
            answer = *inner;
        }
        let builder = MessageResponseBuilder::from_message_request(request);
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        metadata.recursion_available = true;
        match answer {
            Answer::Addresses(ips, ttl) => {
                let records: Vec<Record> = ips
                    .iter()
                    .filter_map(|ip| match (ip, rtype) {
                        (IpAddr::V4(v4), RecordType::A) => Some(RData::A(A(*v4))),
                        (IpAddr::V6(v6), RecordType::AAAA) => Some(RData::AAAA(AAAA(*v6))),
                        _ => None,
                    })
                    .map(|rdata| Record::from_rdata(qname.clone(), ttl, rdata))
                    .collect();
                let soa = soa_record(60);
                let soa_section: Vec<&Record> = if records.is_empty() {
                    vec![&soa]
                } else {
                    vec![]
                };
                let response = builder.build(metadata, records.iter(), [], soa_section, []);
                response_handle.send_response(response).await.unwrap()
            }
            Answer::NxDomain(negative_ttl) => {
                metadata.response_code = ResponseCode::NXDomain;
                let soa = soa_record(negative_ttl);
                let response = builder.build(metadata, [], [], [&soa], []);
                response_handle.send_response(response).await.unwrap()
            }
            Answer::Txt(text, ttl) => {
                let records: Vec<Record> = (rtype == RecordType::TXT)
                    .then(|| {
                        Record::from_rdata(qname.clone(), ttl, RData::TXT(TXT::new(vec![text])))
                    })
                    .into_iter()
                    .collect();
                let response = builder.build(metadata, records.iter(), [], [], []);
                response_handle.send_response(response).await.unwrap()
            }
            Answer::ServFail | Answer::Delayed(..) => response_handle
                .send_response(builder.error_msg(&request.metadata, ResponseCode::ServFail))
                .await
                .unwrap(),
        }
    }
}

fn soa_record(minimum: u32) -> Record {
    let zone = Name::from_ascii("test.").unwrap();
    let soa = SOA::new(
        Name::from_ascii("ns.test.").unwrap(),
        Name::from_ascii("admin.test.").unwrap(),
        1,
        3600,
        600,
        86400,
        minimum,
    );
    Record::from_rdata(zone, minimum, RData::SOA(soa))
}

/// The interface the test networks bind to: `lo` when this process may bind sockets
/// to an interface (any process since Linux 5.7, else root or CAP_NET_RAW), else none (unbound sockets, still only on
/// loopback).
pub fn loopback_interface() -> &'static str {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    match socket.bind_device(Some(b"lo")) {
        Ok(()) => "lo",
        Err(e) => {
            eprintln!("note: cannot bind to lo ({e}); test networks use unbound sockets");
            ""
        }
    }
}

pub fn net(id: i64) -> NetHandle {
    NetHandle::new(id).unwrap()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
