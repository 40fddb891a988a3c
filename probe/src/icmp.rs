//! ICMP and ICMPv6 echo packets: building requests and reading what comes back.

use std::net::IpAddr;

/// The address family of a probe, with its ICMP numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// IPv4 and ICMP.
    V4,
    /// IPv6 and ICMPv6.
    V6,
}

impl Family {
    /// The family of `ip`.
    pub(crate) fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self::V4,
            IpAddr::V6(_) => Self::V6,
        }
    }

    fn echo_request(self) -> u8 {
        match self {
            Self::V4 => 8,
            Self::V6 => 128,
        }
    }

    fn echo_reply(self) -> u8 {
        match self {
            Self::V4 => 0,
            Self::V6 => 129,
        }
    }

    /// What an ICMP message of this family with `icmp_type` and `code` says, if it
    /// is one of those a probe cares about.
    pub(crate) fn classify(self, icmp_type: u8, code: u8) -> Option<IcmpKind> {
        match (self, icmp_type, code) {
            (_, t, _) if t == self.echo_reply() => Some(IcmpKind::EchoReply),
            (Self::V4, 11, _) | (Self::V6, 3, _) => Some(IcmpKind::TimeExceeded),
            (Self::V4, 3, 3) | (Self::V6, 1, 4) => Some(IcmpKind::PortUnreachable),
            (Self::V4, 3, _) | (Self::V6, 1, _) => Some(IcmpKind::Unreachable),
            _ => None,
        }
    }
}

/// The ICMP messages a probe can get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpKind {
    /// An echo reply.
    EchoReply,
    /// Time (TTL, hop limit) exceeded in transit.
    TimeExceeded,
    /// Destination unreachable: port unreachable.
    PortUnreachable,
    /// Destination unreachable: any other code.
    Unreachable,
}

/// An echo request with `id`, `seq` and a small payload. The ICMPv4 checksum is
/// computed here; the kernel computes ICMPv6's (it covers the IPv6 pseudo-header).
pub(crate) fn echo_request(family: Family, id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![family.echo_request(), 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(b"netcore-probe\0\0\0");
    if family == Family::V4 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The internet checksum (RFC 1071).
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| {
            u32::from(u16::from_be_bytes([
                pair[0],
                pair.get(1).copied().unwrap_or(0),
            ]))
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Reads a packet from a raw ICMP socket (an IPv4 raw socket includes the IPv4
/// header, an ICMPv6 one does not) and returns what it says when it is an echo reply
/// to (`id`, `seq`) or an error quoting that echo request.
pub(crate) fn parse_raw(family: Family, packet: &[u8], id: u16, seq: u16) -> Option<IcmpKind> {
    let icmp = match family {
        Family::V4 => ipv4_payload(packet)?,
        Family::V6 => packet,
    };
    let (&icmp_type, &icmp_code) = (icmp.first()?, icmp.get(1)?);
    let ours = |echo: &[u8], wanted_type: u8| {
        echo.len() >= 8
            && echo[0] == wanted_type
            && echo[4..6] == id.to_be_bytes()
            && echo[6..8] == seq.to_be_bytes()
    };
    let kind = family.classify(icmp_type, icmp_code)?;
    let matches = match kind {
        IcmpKind::EchoReply => ours(icmp, family.echo_reply()),
        _ => {
            let quoted = icmp.get(8..)?;
            let quoted = match family {
                Family::V4 => ipv4_payload(quoted)?,
                Family::V6 => ipv6_icmp_payload(quoted)?,
            };
            ours(quoted, family.echo_request())
        }
    };
    matches.then_some(kind)
}

/// Whether a packet read from an ICMP datagram socket (no IP header; the kernel
/// matched the identifier) is the echo reply with `seq`.
pub(crate) fn is_datagram_reply(family: Family, packet: &[u8], seq: u16) -> bool {
    packet.len() >= 8 && packet[0] == family.echo_reply() && packet[6..8] == seq.to_be_bytes()
}

/// An IPv4 packet's payload.
fn ipv4_payload(packet: &[u8]) -> Option<&[u8]> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(first & 0x0f) * 4;
    if header_len < 20 {
        return None;
    }
    packet.get(header_len..)
}

/// The ICMPv6 payload of a quoted IPv6 packet without extension headers.
fn ipv6_icmp_payload(packet: &[u8]) -> Option<&[u8]> {
    let first = *packet.first()?;
    if first >> 4 != 6 || *packet.get(6)? != 58 {
        return None;
    }
    packet.get(40..)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(payload: &[u8]) -> Vec<u8> {
        let mut packet = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 127, 0, 0, 1,
        ];
        packet.extend_from_slice(payload);
        packet
    }

    fn ipv6(payload: &[u8]) -> Vec<u8> {
        let mut packet = vec![0x60, 0, 0, 0, 0, 0, 58, 64];
        packet.extend_from_slice(&[0; 32]);
        packet.extend_from_slice(payload);
        packet
    }

    #[test]
    fn checksum_of_a_request_verifies() {
        let request = echo_request(Family::V4, 0x1234, 7);
        assert_eq!(checksum(&request), 0);
        assert_eq!(&request[4..8], &[0x12, 0x34, 0, 7]);
        assert_eq!(echo_request(Family::V6, 1, 2)[0], 128);
    }

    #[test]
    fn raw_ipv4_replies_and_errors_are_matched() {
        let mut reply = echo_request(Family::V4, 9, 3);
        reply[0] = 0;
        let v4 = Family::V4;
        assert_eq!(
            parse_raw(v4, &ipv4(&reply), 9, 3),
            Some(IcmpKind::EchoReply)
        );
        assert_eq!(parse_raw(v4, &ipv4(&reply), 9, 4), None);
        assert_eq!(parse_raw(v4, &ipv4(&reply), 8, 3), None);
        // Our own request seen on loopback is not an answer.
        assert_eq!(parse_raw(v4, &ipv4(&echo_request(v4, 9, 3)), 9, 3), None);

        let mut exceeded = vec![11, 0, 0, 0, 0, 0, 0, 0];
        exceeded.extend(ipv4(&echo_request(v4, 9, 3)));
        assert_eq!(
            parse_raw(v4, &ipv4(&exceeded), 9, 3),
            Some(IcmpKind::TimeExceeded)
        );
        assert_eq!(parse_raw(v4, &ipv4(&exceeded), 9, 2), None);
        let mut unreachable = vec![3, 1, 0, 0, 0, 0, 0, 0];
        unreachable.extend(ipv4(&echo_request(v4, 9, 3)));
        assert_eq!(
            parse_raw(v4, &ipv4(&unreachable), 9, 3),
            Some(IcmpKind::Unreachable)
        );
        assert_eq!(parse_raw(v4, &exceeded[..5], 9, 3), None);
    }

    #[test]
    fn raw_ipv6_replies_and_errors_are_matched() {
        let v6 = Family::V6;
        let mut reply = echo_request(v6, 9, 3);
        reply[0] = 129;
        assert_eq!(parse_raw(v6, &reply, 9, 3), Some(IcmpKind::EchoReply));
        assert_eq!(parse_raw(v6, &reply, 9, 1), None);
        let mut exceeded = vec![3, 0, 0, 0, 0, 0, 0, 0];
        exceeded.extend(ipv6(&echo_request(v6, 9, 3)));
        assert_eq!(parse_raw(v6, &exceeded, 9, 3), Some(IcmpKind::TimeExceeded));
        assert_eq!(parse_raw(v6, &exceeded[..30], 9, 3), None);
    }

    #[test]
    fn icmp_numbers_per_family() {
        assert_eq!(Family::V4.classify(3, 3), Some(IcmpKind::PortUnreachable));
        assert_eq!(Family::V6.classify(1, 4), Some(IcmpKind::PortUnreachable));
        assert_eq!(Family::V6.classify(3, 0), Some(IcmpKind::TimeExceeded));
        assert_eq!(Family::V4.classify(11, 0), Some(IcmpKind::TimeExceeded));
        assert_eq!(Family::V4.classify(5, 0), None);
    }

    #[test]
    fn datagram_replies_match_the_sequence() {
        let mut reply = echo_request(Family::V4, 1, 5);
        reply[0] = 0;
        assert!(is_datagram_reply(Family::V4, &reply, 5));
        assert!(!is_datagram_reply(Family::V4, &reply, 6));
        assert!(!is_datagram_reply(Family::V4, &reply[..4], 5));
        assert!(!is_datagram_reply(Family::V6, &reply, 5));
    }
}
