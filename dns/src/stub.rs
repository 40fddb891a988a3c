//! The DNS stub: a DNS server on loopback that every app's plain `getaddrinfo` asks
//! (as systemd-resolved's 127.0.0.53 and ConnMan's dnsproxy), answering each app as
//! netcore's API would.
//!
//! The stub learns which app sent a query from the uid owning the query's socket
//! (an [`Identify`] callback; netcored's asks the kernel with sock_diag). An A or
//! AAAA question is answered by [`DnsService`]: the app's custom rules first, else
//! the app's network (setAppNet) or the default network, with the cache and the
//! coalescing of identical lookups. Other record types go to the same network's
//! servers. UDP and TCP (RFC 7766 framing, several queries per connection).
//!
//! Queries are untrusted: a datagram or a TCP message over [`MAX_QUERY_LEN`] is
//! refused, one app has at most [`StubConfig::max_in_flight_per_app`] queries
//! waiting (more UDP queries are dropped, more TCP ones refused), the TCP
//! connections are bounded, and every answer comes within
//! [`StubConfig::answer_timeout`] (SERVFAIL otherwise).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use netcore::{AppId, Error, FamilyType, ResolveFailure, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::service::DnsService;

/// The longest query the stub reads (a question with EDNS options needs far less).
pub const MAX_QUERY_LEN: usize = 4096;
/// The largest UDP answer the stub sends to a query that offers EDNS (RFC 9715's
/// advice); without EDNS, 512 bytes.
const MAX_UDP_ANSWER: u16 = 1232;
/// The TTL of the stub's answers: the stub caches, its clients need not.
const ANSWER_TTL: u32 = 0;

/// How the stub listens and what it bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StubConfig {
    /// The addresses it answers on, UDP and TCP (port 0: any free port).
    pub listen: Vec<SocketAddr>,
    /// The most queries of one app waiting for an answer.
    pub max_in_flight_per_app: usize,
    /// The most TCP connections at once, over all apps.
    pub max_tcp_connections: usize,
    /// The longest a query waits for its answer (then SERVFAIL).
    pub answer_timeout: Duration,
    /// How long an idle TCP connection stays open.
    pub tcp_idle_timeout: Duration,
}

impl Default for StubConfig {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([127, 0, 0, 153], 53))],
            max_in_flight_per_app: 64,
            max_tcp_connections: 256,
            answer_timeout: Duration::from_secs(5),
            tcp_idle_timeout: Duration::from_secs(10),
        }
    }
}

/// The transport a query came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
}

/// Tells which app owns the client socket `client` that talks to the stub's
/// address `stub` over a transport; `None` when it cannot tell (the query is then
/// answered as no app's: no custom rule, the default network).
pub type Identify = Arc<dyn Fn(Transport, SocketAddr, SocketAddr) -> Option<AppId> + Send + Sync>;

/// A running stub; dropping it stops it.
pub struct DnsStub {
    addresses: Vec<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for DnsStub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsStub")
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

impl Drop for DnsStub {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What every task of a stub shares.
struct Context {
    service: DnsService,
    config: StubConfig,
    identify: Identify,
    in_flight: InFlight,
}

impl DnsStub {
    /// Binds every address of `config` (UDP and TCP) and starts answering there.
    /// Errors: 2100001 for no address or bad bounds, 2100003 when an address cannot
    /// be bound.
    pub async fn start(
        service: DnsService,
        config: StubConfig,
        identify: Identify,
    ) -> Result<Self> {
        if config.listen.is_empty() {
            return Err(Error::invalid("DNS stub: no address to listen on"));
        }
        if config.max_in_flight_per_app == 0 || config.max_tcp_connections == 0 {
            return Err(Error::invalid("DNS stub: the bounds must be at least 1"));
        }
        let context = Arc::new(Context {
            in_flight: InFlight::new(config.max_in_flight_per_app),
            service,
            config: config.clone(),
            identify,
        });
        let mut stub = DnsStub {
            addresses: Vec::new(),
            tasks: Vec::new(),
        };
        let tcp_slots = Arc::new(Semaphore::new(config.max_tcp_connections));
        for &address in &config.listen {
            let bind =
                |e: std::io::Error| Error::Internal(format!("DNS stub: binding {address}: {e}"));
            let udp = UdpSocket::bind(address).await.map_err(bind)?;
            let address = udp.local_addr().map_err(bind)?;
            let tcp = TcpListener::bind(address).await.map_err(bind)?;
            stub.addresses.push(address);
            stub.tasks
                .push(tokio::spawn(serve_udp(Arc::clone(&context), Arc::new(udp))));
            stub.tasks.push(tokio::spawn(serve_tcp(
                Arc::clone(&context),
                tcp,
                Arc::clone(&tcp_slots),
            )));
        }
        debug!(addresses = ?stub.addresses, "DNS stub answers");
        Ok(stub)
    }

    /// The addresses it answers on (with the ports bound).
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }
}

async fn serve_udp(context: Arc<Context>, socket: Arc<UdpSocket>) {
    let Ok(local) = socket.local_addr() else {
        return;
    };
    let mut buf = vec![0u8; MAX_QUERY_LEN + 1];
    loop {
        let (len, client) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                // An ICMP error of an earlier answer, for instance: not the stub's end.
                debug!("DNS stub: receiving: {e}");
                continue;
            }
        };
        if len > MAX_QUERY_LEN {
            debug!(%client, "DNS stub: a datagram over {MAX_QUERY_LEN} bytes dropped");
            continue;
        }
        let app = (context.identify)(Transport::Udp, client, local);
        let Some(permit) = context.in_flight.acquire(app) else {
            debug!(%client, ?app, "DNS stub: too many queries of one app in flight: dropped");
            continue;
        };
        let query = buf[..len].to_vec();
        let context = Arc::clone(&context);
        let socket = Arc::clone(&socket);
        tokio::spawn(async move {
            let answer = answer(&context, app, &query, Transport::Udp).await;
            drop(permit);
            if let Some(answer) = answer
                && let Err(e) = socket.send_to(&answer, client).await
            {
                debug!(%client, "DNS stub: sending an answer: {e}");
            }
        });
    }
}

async fn serve_tcp(context: Arc<Context>, listener: TcpListener, slots: Arc<Semaphore>) {
    loop {
        let (stream, client) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!("DNS stub: accepting: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            debug!(%client, "DNS stub: too many TCP connections: closed");
            continue;
        };
        let context = Arc::clone(&context);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = serve_connection(&context, stream, client).await {
                debug!(%client, "DNS stub: TCP connection ended: {e}");
            }
        });
    }
}

/// Answers the queries of one TCP connection, one after the other, until the client
/// closes it, stays idle too long or sends something too long.
async fn serve_connection(
    context: &Context,
    mut stream: TcpStream,
    client: SocketAddr,
) -> std::io::Result<()> {
    let local = stream.local_addr()?;
    let app = (context.identify)(Transport::Tcp, client, local);
    let idle = context.config.tcp_idle_timeout;
    loop {
        let len = match tokio::time::timeout(idle, stream.read_u16()).await {
            Ok(Ok(len)) => usize::from(len),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(()),
        };
        if len == 0 || len > MAX_QUERY_LEN {
            return Err(std::io::Error::other(format!("a {len}-byte message")));
        }
        let mut query = vec![0u8; len];
        tokio::time::timeout(idle, stream.read_exact(&mut query))
            .await
            .map_err(|_| std::io::Error::other("a message cut short"))??;
        let answer = match context.in_flight.acquire(app) {
            Some(permit) => {
                let answer = answer(context, app, &query, Transport::Tcp).await;
                drop(permit);
                answer
            }
            None => refuse(&query, ResponseCode::Refused),
        };
        let Some(answer) = answer else {
            return Err(std::io::Error::other("not a DNS message"));
        };
        let len = u16::try_from(answer.len()).map_err(std::io::Error::other)?;
        let mut framed = Vec::with_capacity(answer.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&answer);
        stream.write_all(&framed).await?;
    }
}

/// The answer to the wire-format `query` of `app`, encoded for `transport`; `None`
/// when `query` is not even a DNS header (nothing to answer).
async fn answer(
    context: &Context,
    app: Option<AppId>,
    query: &[u8],
    transport: Transport,
) -> Option<Vec<u8>> {
    let Ok(request) = Message::from_vec(query) else {
        return refuse(query, ResponseCode::FormErr);
    };
    if request.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.iter().cloned());
    let max_udp = match &request.edns {
        Some(edns) => {
            let mut ours = Edns::new();
            ours.set_max_payload(MAX_UDP_ANSWER);
            response.set_edns(ours);
            edns.max_payload().clamp(512, MAX_UDP_ANSWER)
        }
        None => 512,
    };
    let outcome = tokio::time::timeout(
        context.config.answer_timeout,
        resolve(&context.service, app, &request),
    )
    .await
    .unwrap_or(Err(ResponseCode::ServFail));
    match outcome {
        Ok(records) => {
            response.add_answers(records);
        }
        Err(code) => response.metadata.response_code = code,
    }
    let encoded = response.to_vec().ok()?;
    if transport == Transport::Udp && encoded.len() > usize::from(max_udp) {
        // The client asks again over TCP.
        return response.truncate().to_vec().ok();
    }
    Some(encoded)
}

/// A bare answer with `code` to `query`, which may not parse: its id and question
/// when they can be read.
fn refuse(query: &[u8], code: ResponseCode) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let id = u16::from_be_bytes([query[0], query[1]]);
    let mut response = Message::error_msg(id, OpCode::Query, code);
    if let Ok(request) = Message::from_vec(query) {
        response.add_queries(request.queries.iter().cloned());
    }
    response.to_vec().ok()
}

/// The records answering the one question of `request`, or the response code.
async fn resolve(
    service: &DnsService,
    app: Option<AppId>,
    request: &Message,
) -> std::result::Result<Vec<Record>, ResponseCode> {
    if request.metadata.op_code != OpCode::Query {
        return Err(ResponseCode::NotImp);
    }
    let [question] = request.queries.as_slice() else {
        return Err(ResponseCode::FormErr);
    };
    if question.query_class() != DNSClass::IN {
        return Err(ResponseCode::NotImp);
    }
    let name = question.name().clone();
    let family = match question.query_type() {
        RecordType::A => FamilyType::Ipv4,
        RecordType::AAAA => FamilyType::Ipv6,
        RecordType::ANY | RecordType::AXFR | RecordType::IXFR => return Err(ResponseCode::NotImp),
        other => return service.lookup_records(app, name, other).await,
    };
    // Absolute, as the client applied its own search list; but a single label is
    // tried with the network's search domains (the app's network's: resolv.conf
    // cannot say which app has which).
    let mut host = name.to_ascii();
    if name.num_labels() <= 1 {
        host = host.trim_end_matches('.').to_owned();
    } else if !host.ends_with('.') {
        host.push('.');
    }
    match service.lookup(app, None, &host, family).await {
        Ok(ips) => Ok(ips
            .into_iter()
            .map(|ip| {
                let data = match ip {
                    IpAddr::V4(v4) => RData::A(A(v4)),
                    IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
                };
                Record::from_rdata(name.clone(), ANSWER_TTL, data)
            })
            .collect()),
        Err(Error::Resolve {
            failure: ResolveFailure::NotFound,
            ..
        }) => {
            // No address of this family: the name exists if it has the other one.
            let other = match family {
                FamilyType::Ipv4 => FamilyType::Ipv6,
                _ => FamilyType::Ipv4,
            };
            match service.lookup(app, None, &host, other).await {
                Ok(_) => Ok(Vec::new()),
                Err(_) => Err(ResponseCode::NXDomain),
            }
        }
        Err(Error::InvalidValue(_)) => Err(ResponseCode::Refused),
        Err(_) => Err(ResponseCode::ServFail),
    }
}

/// The queries of each app waiting for an answer.
struct InFlight {
    max: usize,
    counts: Arc<Mutex<HashMap<Option<AppId>, usize>>>,
}

/// One query in flight; dropping it frees its place.
struct Permit {
    app: Option<AppId>,
    counts: Arc<Mutex<HashMap<Option<AppId>, usize>>>,
}

impl InFlight {
    fn new(max: usize) -> Self {
        Self {
            max,
            counts: Arc::default(),
        }
    }

    fn acquire(&self, app: Option<AppId>) -> Option<Permit> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(app).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Permit {
            app,
            counts: Arc::clone(&self.counts),
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.app) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.app);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn context() -> Context {
        Context {
            service: DnsService::default(),
            config: StubConfig::default(),
            identify: Arc::new(|_, _, _| None),
            in_flight: InFlight::new(1),
        }
    }

    fn valid_query() -> Vec<u8> {
        let mut query = Message::query();
        query.add_query(hickory_proto::op::Query::query(
            hickory_proto::rr::Name::from_ascii("www.example.test.").unwrap(),
            RecordType::A,
        ));
        query.set_edns(Edns::new());
        query.to_vec().unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any bytes, or a valid query with bytes changed: an answer with the
        /// query's id or nothing, never a panic.
        #[test]
        fn the_parser_survives_anything(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
            cut in any::<usize>(),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let context = context();
            let mut mutated = valid_query();
            for (at, value) in flips {
                let len = mutated.len();
                mutated[at % len] = value;
            }
            mutated.truncate(cut % (mutated.len() + 1));
            for query in [bytes, mutated] {
                for transport in [Transport::Udp, Transport::Tcp] {
                    let answer = runtime.block_on(answer(&context, None, &query, transport));
                    if let Some(answer) = answer {
                        prop_assert!(query.len() >= 12);
                        prop_assert_eq!(&answer[..2], &query[..2]);
                    }
                }
            }
        }
    }

    #[test]
    fn in_flight_places_come_back() {
        let in_flight = InFlight::new(2);
        let app = Some(AppId::from_uid(10_001));
        let first = in_flight.acquire(app).unwrap();
        let _second = in_flight.acquire(app).unwrap();
        assert!(in_flight.acquire(app).is_none());
        assert!(
            in_flight.acquire(None).is_some(),
            "another app has its own places"
        );
        drop(first);
        assert!(in_flight.acquire(app).is_some());
    }
}
