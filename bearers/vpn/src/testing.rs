//! Packet helpers for tests and examples (feature `testing`): answering ICMP echo
//! requests read from a tunnel.

/// The internet checksum (RFC 1071) of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The echo reply to `packet` when it is an IPv4 ICMP echo request (type 8, code
/// 0) with valid lengths: addresses swapped, type 0, both checksums computed anew.
/// `None` for anything else.
pub fn icmp_echo_reply(packet: &[u8]) -> Option<Vec<u8>> {
    let version = packet.first()? >> 4;
    let header_len = usize::from(packet.first()? & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
    if version != 4 || header_len < 20 || total_len < header_len + 8 || total_len > packet.len() {
        return None;
    }
    if packet[9] != 1 || packet[header_len] != 8 || packet[header_len + 1] != 0 {
        return None;
    }
    let mut reply = packet[..total_len].to_vec();
    // Swap the source (12..16) and destination (16..20) addresses.
    let (source, destination) = reply[12..20].split_at_mut(4);
    source.swap_with_slice(destination);
    reply[8] = 64; // TTL
    reply[10..12].copy_from_slice(&[0, 0]);
    let checksum = internet_checksum(&reply[..header_len]);
    reply[10..12].copy_from_slice(&checksum.to_be_bytes());
    let icmp = &mut reply[header_len..];
    icmp[0] = 0; // echo reply
    icmp[2..4].copy_from_slice(&[0, 0]);
    let checksum = internet_checksum(icmp);
    icmp[2..4].copy_from_slice(&checksum.to_be_bytes());
    Some(reply)
}

/// Answers the ICMP echo requests read from `tunnel` until it fails; returns how
/// many it answered. Other packets are ignored.
pub async fn echo_pings(tunnel: &crate::VpnTunnel) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 65_536];
    let mut answered = 0;
    loop {
        let len = tunnel.recv(&mut buf).await?;
        if let Some(reply) = buf.get(..len).and_then(icmp_echo_reply) {
            tunnel.send(&reply).await?;
            answered += 1;
            tracing::debug!(answered, "answered an echo request");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo request 10.99.0.1 → 10.98.0.5, id 0x1234, seq 1, payload "ping".
    fn request() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 32, 0, 1, 0x40, 0, 64, 1, 0, 0, 10, 99, 0, 1, 10, 98, 0, 5, // IPv4
            8, 0, 0, 0, 0x12, 0x34, 0, 1, b'p', b'i', b'n', b'g', // ICMP
        ];
        let c = internet_checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let c = internet_checksum(&p[20..]);
        p[22..24].copy_from_slice(&c.to_be_bytes());
        p
    }

    #[test]
    fn reply_swaps_addresses_and_checksums_verify() {
        let reply = icmp_echo_reply(&request()).unwrap();
        assert_eq!(&reply[12..16], &[10, 98, 0, 5]);
        assert_eq!(&reply[16..20], &[10, 99, 0, 1]);
        assert_eq!(reply[20], 0);
        assert_eq!(&reply[24..], &request()[24..]);
        // A packet with its checksum included sums to zero.
        assert_eq!(internet_checksum(&reply[..20]), 0);
        assert_eq!(internet_checksum(&reply[20..]), 0);
    }

    #[test]
    fn other_packets_get_no_reply() {
        assert_eq!(icmp_echo_reply(&[]), None);
        assert_eq!(icmp_echo_reply(&request()[..27]), None);
        let mut reply = request();
        reply[20] = 0;
        assert_eq!(icmp_echo_reply(&reply), None);
        let mut udp = request();
        udp[9] = 17;
        assert_eq!(icmp_echo_reply(&udp), None);
        let mut v6 = request();
        v6[0] = 0x60;
        assert_eq!(icmp_echo_reply(&v6), None);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..128)) {
            if let Some(reply) = icmp_echo_reply(&bytes) {
                proptest::prop_assert_eq!(internet_checksum(&reply[20..]), 0);
            }
        }
    }
}
