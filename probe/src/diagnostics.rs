//! `queryProbeResult` and `queryTraceRoute`: ICMP or UDP probes with real sockets.
//!
//! Every probe gets a socket of its own, so an answer (or an ICMP error) reaching a
//! socket belongs to its probe and late answers of earlier probes cannot be mistaken
//! for it; a raw socket, which sees all ICMP of the host, additionally matches the
//! echo identifier and sequence number.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use netcore::{
    Error, NetHandle, PacketsType, ProbeResultInfo, Resolve, Result, TraceRouteInfo,
    TraceRouteOptions,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::config::{DiagnosticsConfig, IcmpSocket};
use crate::errqueue;
use crate::icmp::{self, Family, IcmpKind};
use crate::stats::{loss_rate, rtt_stats};
use crate::target::resolve_destination;

/// The first UDP destination port probed, as traceroute uses.
const UDP_BASE_PORT: u16 = 33434;
/// Probes per traceroute hop.
const PROBES_PER_HOP: u16 = 5;
/// The largest series (`duration` of `queryProbeResult`).
const MAX_PROBES: i64 = 1000;

/// Runs probe series and traceroutes, resolving names through an optional resolver.
#[derive(Clone, Default)]
pub struct Diagnostics {
    config: DiagnosticsConfig,
    resolver: Option<Arc<dyn Resolve>>,
    net: NetHandle,
}

impl std::fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diagnostics")
            .field("config", &self.config)
            .field("net", &self.net)
            .field("resolver", &self.resolver.as_ref().map(|_| "dyn Resolve"))
            .finish()
    }
}

/// How one probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// The destination answered (echo reply, UDP answer or port unreachable).
    Reached(IpAddr),
    /// A router said the TTL ran out.
    Hop(IpAddr),
    /// Someone said the destination cannot be reached.
    Unreachable(IpAddr),
}

impl Answer {
    /// What an ICMP message of `kind` from `from` means for a probe to `dest`.
    fn of(kind: IcmpKind, from: IpAddr, dest: IpAddr) -> Self {
        match kind {
            IcmpKind::EchoReply => Self::Reached(from),
            IcmpKind::TimeExceeded => Self::Hop(from),
            _ if from == dest => Self::Reached(from),
            _ => Self::Unreachable(from),
        }
    }

    fn from(self) -> IpAddr {
        match self {
            Self::Reached(a) | Self::Hop(a) | Self::Unreachable(a) => a,
        }
    }
}

/// A probe that was sent: its answer (if any came in time) and its round-trip time.
type Sent = Option<(Answer, Duration)>;

impl Diagnostics {
    /// Diagnostics with `config` and no resolver (destinations must be addresses).
    pub fn new(config: DiagnosticsConfig) -> Self {
        Self {
            config,
            resolver: None,
            net: NetHandle::NONE,
        }
    }

    /// Resolves destination names through `resolver` on `net` ([`NetHandle::NONE`]
    /// for the default network).
    pub fn with_resolver(mut self, net: NetHandle, resolver: Arc<dyn Resolve>) -> Self {
        self.net = net;
        self.resolver = Some(resolver);
        self
    }

    /// The seed's `queryProbeResult`: one ICMP echo a second for `duration` seconds
    /// (1 to 1000, else 2100001). Loss is in percent of the probes sent; RTTs are of
    /// the answered ones. When a probe cannot be sent, returns at once with what it has
    /// (that probe counts as lost). Resolution errors are the resolver's (2100003).
    pub async fn query_probe_result(
        &self,
        destination: &str,
        duration: i64,
    ) -> Result<ProbeResultInfo> {
        self.probe_series(
            destination,
            duration,
            Duration::from_secs(1),
            PacketsType::Icmp,
        )
        .await
    }

    /// A series of `count` probes (1 to 1000, else 2100001) of `packets` every
    /// `interval` (1 ms to 60 s, else 2100001); otherwise as
    /// [`Self::query_probe_result`]. UDP probes go to port 33434 and count as answered
    /// when the destination answers, be it with UDP or with ICMP port unreachable.
    pub async fn probe_series(
        &self,
        destination: &str,
        count: i64,
        interval: Duration,
        packets: PacketsType,
    ) -> Result<ProbeResultInfo> {
        if !(1..=MAX_PROBES).contains(&count) {
            return Err(Error::invalid(format!(
                "duration {count} is outside 1..=1000"
            )));
        }
        if interval < Duration::from_millis(1) || interval > Duration::from_secs(60) {
            return Err(Error::invalid(format!(
                "interval {interval:?} is outside 1 ms..=60 s"
            )));
        }
        let dest = self.destination(destination).await?;
        let reply_timeout = Duration::from_millis(self.config.reply_timeout_ms.max(1));
        let start = tokio::time::Instant::now();
        let mut sent = 0u32;
        let mut samples = Vec::new();
        for seq in 0..count {
            let seq = u16::try_from(seq).unwrap_or(u16::MAX);
            let last = i64::from(seq) + 1 == count;
            let wait = if last {
                reply_timeout
            } else {
                reply_timeout.min(interval)
            };
            sent += 1;
            match self.probe(packets, dest, seq, None, wait).await {
                Ok(Some((Answer::Reached(_), rtt))) => samples.push(rtt),
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(%dest, seq, error = %e, "probe not sent; ending the series");
                    break;
                }
            }
            if !last {
                tokio::time::sleep_until(start + interval * (u32::from(seq) + 1)).await;
            }
        }
        let answered = u32::try_from(samples.len()).unwrap_or(u32::MAX);
        Ok(ProbeResultInfo {
            loss_rate: loss_rate(sent, answered),
            rtt: rtt_stats(&samples),
        })
    }

    /// The seed's `queryTraceRoute`: five probes per hop with TTL 1, 2, ... up to the
    /// options' `maxJumpNumber` (default 30), stopping at the hop where the
    /// destination (or an unreachable) answers. A hop where nobody answered has the
    /// address `*` and RTTs of 0. Fails with 2100003 when no probe of a hop can be
    /// sent.
    pub async fn query_trace_route(
        &self,
        destination: &str,
        options: Option<TraceRouteOptions>,
    ) -> Result<Vec<TraceRouteInfo>> {
        let options = options.unwrap_or_default();
        let dest = self.destination(destination).await?;
        let wait = Duration::from_millis(self.config.hop_timeout_ms.max(1));
        let mut hops = Vec::new();
        for ttl in 1..=options.max_jump_number() {
            let probes = (0..PROBES_PER_HOP).map(|i| {
                let seq = u16::from(ttl - 1) * PROBES_PER_HOP + i;
                self.probe(options.packets_type, dest, seq, Some(u32::from(ttl)), wait)
            });
            let results = futures::future::join_all(probes).await;
            if let Some(Err(e)) = results.iter().find(|r| r.is_err())
                && results.iter().all(|r| r.is_err())
            {
                return Err(Error::Internal(format!("traceroute to {dest}: {e}")));
            }
            let answers: Vec<(Answer, Duration)> = results
                .into_iter()
                .filter_map(|r| r.ok().flatten())
                .collect();
            let address = answers
                .first()
                .map_or_else(|| "*".to_owned(), |(answer, _)| answer.from().to_string());
            let rtts: Vec<Duration> = answers.iter().map(|(_, rtt)| *rtt).collect();
            hops.push(TraceRouteInfo {
                jump_no: u32::from(ttl),
                address,
                rtt: rtt_stats(&rtts),
            });
            let done = answers.iter().any(|(answer, _)| {
                matches!(answer, Answer::Reached(_) | Answer::Unreachable(_))
                    || answer.from() == dest
            });
            if done {
                break;
            }
        }
        Ok(hops)
    }

    async fn destination(&self, destination: &str) -> Result<IpAddr> {
        resolve_destination(destination, self.resolver.as_deref(), self.net).await
    }

    /// Sends one probe and waits up to `wait` for its answer. Errors only when the
    /// probe could not be sent.
    async fn probe(
        &self,
        packets: PacketsType,
        dest: IpAddr,
        seq: u16,
        ttl: Option<u32>,
        wait: Duration,
    ) -> io::Result<Sent> {
        let interface = self.config.interface.as_deref();
        let family = Family::of(dest);
        let timed =
            |answer: Option<Answer>, started: Instant| answer.map(|a| (a, started.elapsed()));
        if packets == PacketsType::Udp {
            let port = UDP_BASE_PORT.wrapping_add(seq % 1000);
            let socket = datagram_socket(family, Type::DGRAM, Protocol::UDP, interface, ttl)?;
            socket.connect(SocketAddr::new(dest, port)).await?;
            let started = Instant::now();
            socket.send(b"netcore-probe").await?;
            let answer =
                tokio::time::timeout(wait, datagram_answer(&socket, family, dest, None)).await;
            return Ok(timed(answer.ok(), started));
        }
        let icmp_protocol = match family {
            Family::V4 => Protocol::ICMPV4,
            Family::V6 => Protocol::ICMPV6,
        };
        let datagram = match self.config.icmp_socket {
            IcmpSocket::Raw => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "raw socket asked for",
            )),
            IcmpSocket::Auto | IcmpSocket::Datagram => {
                datagram_socket(family, Type::DGRAM, icmp_protocol, interface, ttl)
            }
        };
        match datagram {
            Ok(socket) => {
                let started = Instant::now();
                let request = icmp::echo_request(family, 0, seq);
                socket.send_to(&request, SocketAddr::new(dest, 0)).await?;
                let answer = datagram_answer(&socket, family, dest, Some(seq));
                Ok(timed(
                    tokio::time::timeout(wait, answer).await.ok(),
                    started,
                ))
            }
            Err(e)
                if e.kind() == io::ErrorKind::PermissionDenied
                    && self.config.icmp_socket != IcmpSocket::Datagram =>
            {
                let socket = raw_icmp_socket(family, icmp_protocol, interface, ttl).map_err(|raw| {
                    io::Error::new(
                        raw.kind(),
                        format!(
                            "ICMP datagram socket: {e} (see net.ipv4.ping_group_range); raw ICMP socket: {raw}"
                        ),
                    )
                })?;
                let id = next_id();
                let started = Instant::now();
                let request = icmp::echo_request(family, id, seq);
                socket.send_to(&request, SocketAddr::new(dest, 0)).await?;
                let answer = raw_answer(&socket, family, dest, id, seq);
                Ok(timed(
                    tokio::time::timeout(wait, answer).await.ok(),
                    started,
                ))
            }
            Err(e) => Err(e),
        }
    }
}

/// A fresh echo identifier for a raw socket.
fn next_id() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = (std::process::id() & 0xffff) as u16;
    base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

fn domain(family: Family) -> Domain {
    match family {
        Family::V4 => Domain::IPV4,
        Family::V6 => Domain::IPV6,
    }
}

/// A datagram socket (UDP or ICMP) of `family` with the error queue on, bound to
/// `interface`, with `ttl` (the hop limit for IPv6).
fn datagram_socket(
    family: Family,
    kind: Type,
    protocol: Protocol,
    interface: Option<&str>,
    ttl: Option<u32>,
) -> io::Result<UdpSocket> {
    let socket = Socket::new(domain(family), kind, Some(protocol))?;
    prepare(&socket, family, interface, ttl)?;
    errqueue::enable(&socket, family)?;
    UdpSocket::from_std(socket.into())
}

/// A raw ICMP socket of `family` bound to `interface`, with `ttl`.
fn raw_icmp_socket(
    family: Family,
    protocol: Protocol,
    interface: Option<&str>,
    ttl: Option<u32>,
) -> io::Result<UdpSocket> {
    let socket = Socket::new(domain(family), Type::RAW, Some(protocol))?;
    prepare(&socket, family, interface, ttl)?;
    UdpSocket::from_std(socket.into())
}

fn prepare(
    socket: &Socket,
    family: Family,
    interface: Option<&str>,
    ttl: Option<u32>,
) -> io::Result<()> {
    if let Some(interface) = interface {
        socket.bind_device(Some(interface.as_bytes()))?;
    }
    match (ttl, family) {
        (Some(ttl), Family::V4) => socket.set_ttl_v4(ttl)?,
        (Some(hops), Family::V6) => socket.set_unicast_hops_v6(hops)?,
        (None, _) => {}
    }
    socket.set_nonblocking(true)
}

/// Waits for the answer on a datagram socket: a datagram (an echo reply with `seq`
/// for ICMP, anything for UDP) or an ICMP error from the error queue.
async fn datagram_answer(
    socket: &UdpSocket,
    family: Family,
    dest: IpAddr,
    seq: Option<u16>,
) -> Answer {
    let mut buf = [0u8; 1500];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                if seq.is_none_or(|seq| icmp::is_datagram_reply(family, &buf[..n], seq)) {
                    return Answer::Reached(from.ip());
                }
            }
            Err(e) => match errqueue::take(socket, family) {
                Ok(Some(error)) => {
                    return Answer::of(error.kind, error.offender.unwrap_or(dest), dest);
                }
                Ok(None) => tracing::trace!(error = %e, "probe socket error without ICMP detail"),
                Err(queue) => {
                    tracing::debug!(error = %e, %queue, "cannot read the error queue");
                    // Nothing more will come that we can read: let the timeout end it.
                    return std::future::pending().await;
                }
            },
        }
    }
}

/// Waits on a raw ICMP socket for the echo reply to (`id`, `seq`) or an error quoting
/// that request.
async fn raw_answer(socket: &UdpSocket, family: Family, dest: IpAddr, id: u16, seq: u16) -> Answer {
    let mut buf = [0u8; 1500];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                tracing::debug!(error = %e, "raw ICMP socket failed");
                // Nothing more will come: let the timeout end it.
                return std::future::pending().await;
            }
        };
        if let Some(kind) = icmp::parse_raw(family, &buf[..n], id, seq) {
            return Answer::of(kind, from.ip(), dest);
        }
    }
}
