//! ICMPv4 echo packets: building requests and reading what comes back.

use std::net::Ipv4Addr;

/// ICMP echo reply.
pub(crate) const ECHO_REPLY: u8 = 0;
/// ICMP destination unreachable.
pub(crate) const UNREACHABLE: u8 = 3;
/// ICMP echo request.
pub(crate) const ECHO_REQUEST: u8 = 8;
/// ICMP time exceeded.
pub(crate) const TIME_EXCEEDED: u8 = 11;
/// Destination unreachable code "port unreachable".
pub(crate) const PORT_UNREACHABLE: u8 = 3;

/// An echo request with `id`, `seq` and a small payload, checksummed.
pub(crate) fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![ECHO_REQUEST, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(b"netcore-probe\0\0\0");
    let sum = checksum(&packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
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

/// An ICMP message about one of our echo requests, as read from a raw socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawIcmp {
    /// Who sent it (the IPv4 source).
    pub from: Ipv4Addr,
    /// Its type.
    pub icmp_type: u8,
    /// Its code.
    pub icmp_code: u8,
}

/// Reads a packet from a raw ICMPv4 socket (IPv4 header included) and returns it when
/// it is an echo reply to (`id`, `seq`), or an error quoting that echo request.
pub(crate) fn parse_raw(packet: &[u8], id: u16, seq: u16) -> Option<RawIcmp> {
    let (from, icmp) = split_ipv4(packet)?;
    let (&icmp_type, &icmp_code) = (icmp.first()?, icmp.get(1)?);
    let ours = |echo: &[u8], wanted_type: u8| {
        echo.len() >= 8
            && echo[0] == wanted_type
            && echo[4..6] == id.to_be_bytes()
            && echo[6..8] == seq.to_be_bytes()
    };
    let matches = match icmp_type {
        ECHO_REPLY => ours(icmp, ECHO_REPLY),
        UNREACHABLE | TIME_EXCEEDED => {
            let (_, quoted) = split_ipv4(icmp.get(8..)?)?;
            ours(quoted, ECHO_REQUEST)
        }
        _ => false,
    };
    matches.then_some(RawIcmp {
        from,
        icmp_type,
        icmp_code,
    })
}

/// Whether a packet read from an ICMP datagram socket (no IP header; the kernel
/// matched the identifier) is the echo reply with `seq`.
pub(crate) fn is_datagram_reply(packet: &[u8], seq: u16) -> bool {
    packet.len() >= 8 && packet[0] == ECHO_REPLY && packet[6..8] == seq.to_be_bytes()
}

/// An IPv4 packet's source and payload.
fn split_ipv4(packet: &[u8]) -> Option<(Ipv4Addr, &[u8])> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(first & 0x0f) * 4;
    if header_len < 20 {
        return None;
    }
    let source: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
    Some((Ipv4Addr::from(source), packet.get(header_len..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(source: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
        packet.extend_from_slice(&source);
        packet.extend_from_slice(&[127, 0, 0, 1]);
        packet.extend_from_slice(payload);
        packet
    }

    #[test]
    fn checksum_of_a_request_verifies() {
        let request = echo_request(0x1234, 7);
        assert_eq!(checksum(&request), 0);
        assert_eq!(&request[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn raw_replies_and_errors_are_matched() {
        let mut reply = echo_request(9, 3);
        reply[0] = ECHO_REPLY;
        let got = parse_raw(&ipv4([10, 0, 0, 1], &reply), 9, 3).unwrap();
        assert_eq!(
            (got.from, got.icmp_type),
            (Ipv4Addr::new(10, 0, 0, 1), ECHO_REPLY)
        );
        assert_eq!(parse_raw(&ipv4([10, 0, 0, 1], &reply), 9, 4), None);
        assert_eq!(parse_raw(&ipv4([10, 0, 0, 1], &reply), 8, 3), None);
        // Our own request seen on loopback is not an answer.
        assert_eq!(
            parse_raw(&ipv4([10, 0, 0, 1], &echo_request(9, 3)), 9, 3),
            None
        );

        let mut exceeded = vec![TIME_EXCEEDED, 0, 0, 0, 0, 0, 0, 0];
        exceeded.extend(ipv4([10, 0, 0, 9], &echo_request(9, 3)));
        let got = parse_raw(&ipv4([10, 1, 1, 1], &exceeded), 9, 3).unwrap();
        assert_eq!(
            (got.from, got.icmp_type),
            (Ipv4Addr::new(10, 1, 1, 1), TIME_EXCEEDED)
        );
        assert_eq!(parse_raw(&ipv4([10, 1, 1, 1], &exceeded), 9, 2), None);
        assert_eq!(parse_raw(&exceeded[..5], 9, 3), None);
    }

    #[test]
    fn datagram_replies_match_the_sequence() {
        let mut reply = echo_request(1, 5);
        reply[0] = ECHO_REPLY;
        assert!(is_datagram_reply(&reply, 5));
        assert!(!is_datagram_reply(&reply, 6));
        assert!(!is_datagram_reply(&reply[..4], 5));
    }
}
