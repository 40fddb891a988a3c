//! wpa_supplicant's control interface text protocol: replies and unsolicited events,
//! parsed strictly with bounded sizes. Pure functions, no I/O.
//!
//! Every parser returns [`netcore::Error::Service`] (2100002) naming the command and
//! what was wrong when the peer's text does not have the expected form; nothing here
//! panics on any input.

use netcore::Error;

/// The largest reply or event accepted, in bytes; a larger datagram is refused.
pub const MAX_REPLY_LEN: usize = 8192;
/// The longest line of a reply accepted, in bytes.
pub const MAX_LINE_LEN: usize = 1024;
/// The longest SSID text accepted, in bytes (32 octets, each escaped as up to 4
/// characters by wpa_supplicant).
pub const MAX_SSID_LEN: usize = 128;
/// The most lines of a reply read (networks, scan results); more are refused.
pub const MAX_LINES: usize = 256;

fn malformed(what: &str, why: impl std::fmt::Display) -> Error {
    Error::Service(format!("wpa_supplicant: malformed {what} reply: {why}"))
}

/// The text of a reply checked for size and encoding, without a trailing newline.
pub fn reply_text<'a>(what: &str, bytes: &'a [u8]) -> Result<&'a str, Error> {
    if bytes.len() > MAX_REPLY_LEN {
        return Err(malformed(
            what,
            format!("{} bytes, at most {MAX_REPLY_LEN}", bytes.len()),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| malformed(what, e))?;
    Ok(text.strip_suffix('\n').unwrap_or(text))
}

/// Checks that a reply is `OK`; `FAIL` and anything else are errors naming `what`.
pub fn expect_ok(what: &str, reply: &str) -> Result<(), Error> {
    match reply.trim_end() {
        "OK" => Ok(()),
        "FAIL" => Err(Error::Service(format!("wpa_supplicant refused {what}"))),
        other => Err(malformed(
            what,
            format!("expected OK, got {:?}", clip(other)),
        )),
    }
}

/// At most 64 characters of `text`, for error messages and logs.
pub fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

/// The lines of a reply, checked for count and length.
fn lines<'a>(what: &str, reply: &'a str) -> Result<Vec<&'a str>, Error> {
    let lines: Vec<&str> = reply.lines().collect();
    if lines.len() > MAX_LINES {
        return Err(malformed(
            what,
            format!("{} lines, at most {MAX_LINES}", lines.len()),
        ));
    }
    if let Some(long) = lines.iter().find(|l| l.len() > MAX_LINE_LEN) {
        return Err(malformed(
            what,
            format!("a line of {} bytes, at most {MAX_LINE_LEN}", long.len()),
        ));
    }
    Ok(lines)
}

/// `key=value` lines (STATUS, SIGNAL_POLL). Keys are non-empty ASCII letters, digits
/// and `_`; a line without `=` is an error.
fn key_values<'a>(what: &str, reply: &'a str) -> Result<Vec<(&'a str, &'a str)>, Error> {
    if reply.trim() == "FAIL" {
        return Err(Error::Service(format!("wpa_supplicant refused {what}")));
    }
    lines(what, reply)?
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| malformed(what, format!("line {:?} has no '='", clip(line))))?;
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(malformed(what, format!("bad key {:?}", clip(key))));
            }
            Ok((key, value))
        })
        .collect()
}

fn network_id(what: &str, text: &str) -> Result<u32, Error> {
    text.parse::<u32>()
        .map_err(|_| malformed(what, format!("network id {:?} is not a number", clip(text))))
}

fn ssid(what: &str, text: &str) -> Result<String, Error> {
    if text.len() > MAX_SSID_LEN {
        return Err(malformed(
            what,
            format!("an SSID of {} bytes, at most {MAX_SSID_LEN}", text.len()),
        ));
    }
    Ok(text.to_owned())
}

/// wpa_supplicant's connection state (`wpa_state=` of STATUS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WpaState {
    /// `DISCONNECTED`.
    Disconnected,
    /// `INTERFACE_DISABLED`.
    InterfaceDisabled,
    /// `INACTIVE`: no enabled network.
    Inactive,
    /// `SCANNING`.
    Scanning,
    /// `AUTHENTICATING`, `ASSOCIATING`, `ASSOCIATED`, `4WAY_HANDSHAKE` or
    /// `GROUP_HANDSHAKE`: on the way to a connection.
    Connecting(String),
    /// `COMPLETED`: connected and authenticated.
    Completed,
    /// A state this crate does not know.
    Other(String),
}

impl WpaState {
    fn parse(text: &str) -> Self {
        match text {
            "DISCONNECTED" => Self::Disconnected,
            "INTERFACE_DISABLED" => Self::InterfaceDisabled,
            "INACTIVE" => Self::Inactive,
            "SCANNING" => Self::Scanning,
            "AUTHENTICATING" | "ASSOCIATING" | "ASSOCIATED" | "4WAY_HANDSHAKE"
            | "GROUP_HANDSHAKE" => Self::Connecting(text.to_owned()),
            "COMPLETED" => Self::Completed,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A MAC address (`02:00:00:00:01:00`), lower-cased; `None` for anything else.
fn mac_address(text: &str) -> Option<String> {
    let octets: Vec<&str> = text.split(':').collect();
    let is_mac = octets.len() == 6
        && octets
            .iter()
            .all(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_hexdigit()));
    is_mac.then(|| text.to_ascii_lowercase())
}

/// A short printable text (at most 64 bytes of printable ASCII and spaces, as in
/// `IEEE 802.1X (no WPA)`); `None` for anything else.
fn short_text(text: &str) -> Option<String> {
    let printable = text.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    (!text.is_empty() && text.len() <= 64 && printable).then(|| text.to_owned())
}

/// The reply to `STATUS`: the fields the bearer uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `wpa_state`.
    pub state: WpaState,
    /// `id`: the network id of the current network.
    pub id: Option<u32>,
    /// `ssid` of the current network, as wpa_supplicant escapes it.
    pub ssid: Option<String>,
    /// `bssid` of the current access point (left out unless a MAC address).
    pub bssid: Option<String>,
    /// `freq` in MHz.
    pub frequency: Option<u32>,
    /// `key_mgmt` (e.g. `WPA2-PSK`, `NONE`; left out unless short printable text).
    pub key_mgmt: Option<String>,
}

impl Status {
    /// Parses a STATUS reply; `wpa_state` is required.
    pub fn parse(reply: &str) -> Result<Self, Error> {
        const WHAT: &str = "STATUS";
        let mut status = Status {
            state: WpaState::Other(String::new()),
            id: None,
            ssid: None,
            bssid: None,
            frequency: None,
            key_mgmt: None,
        };
        let mut has_state = false;
        for (key, value) in key_values(WHAT, reply)? {
            match key {
                "wpa_state" => {
                    status.state = WpaState::parse(value);
                    has_state = true;
                }
                "id" => status.id = Some(network_id(WHAT, value)?),
                "ssid" => status.ssid = Some(ssid(WHAT, value)?),
                // Details only: a value of the wrong form is left out, not fatal.
                "bssid" => status.bssid = mac_address(value),
                "key_mgmt" => status.key_mgmt = short_text(value),
                "freq" => {
                    status.frequency = Some(value.parse().map_err(|_| {
                        malformed(WHAT, format!("freq {:?} is not a number", clip(value)))
                    })?)
                }
                _ => {}
            }
        }
        if !has_state {
            return Err(malformed(WHAT, "no wpa_state"));
        }
        Ok(status)
    }

    /// Whether the interface is connected (`wpa_state=COMPLETED`).
    pub fn is_connected(&self) -> bool {
        self.state == WpaState::Completed
    }
}

/// The reply to `SIGNAL_POLL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// `RSSI` in dBm.
    pub rssi_dbm: i32,
    /// `LINKSPEED` in Mbit/s, when reported.
    pub link_speed_mbps: Option<u32>,
    /// `FREQUENCY` in MHz, when reported.
    pub frequency: Option<u32>,
}

impl Signal {
    /// Parses a SIGNAL_POLL reply; `RSSI` is required and must be within -200..=100
    /// dBm. `FAIL` (a driver without signal, not connected) is an error.
    pub fn parse(reply: &str) -> Result<Self, Error> {
        const WHAT: &str = "SIGNAL_POLL";
        let mut rssi = None;
        let mut signal = Signal {
            rssi_dbm: 0,
            link_speed_mbps: None,
            frequency: None,
        };
        let number = |key: &str, value: &str| -> Result<i64, Error> {
            value
                .parse::<i64>()
                .map_err(|_| malformed(WHAT, format!("{key} {:?} is not a number", clip(value))))
        };
        for (key, value) in key_values(WHAT, reply)? {
            match key {
                "RSSI" => {
                    let dbm = number(key, value)?;
                    if !(-200..=100).contains(&dbm) {
                        return Err(malformed(WHAT, format!("RSSI {dbm} dBm is out of range")));
                    }
                    rssi = Some(dbm as i32);
                }
                "LINKSPEED" => signal.link_speed_mbps = u32::try_from(number(key, value)?).ok(),
                "FREQUENCY" => signal.frequency = u32::try_from(number(key, value)?).ok(),
                _ => {}
            }
        }
        signal.rssi_dbm = rssi.ok_or_else(|| malformed(WHAT, "no RSSI"))?;
        Ok(signal)
    }
}

/// Signal strength as quality in percent: -100 dBm or less is 0, -50 dBm or more is
/// 100, linear in between (2 percent per dB).
pub fn rssi_to_quality(rssi_dbm: i32) -> u8 {
    let clamped = rssi_dbm.clamp(-100, -50);
    // In 0..=100 after the clamp.
    ((clamped + 100) * 2) as u8
}

/// One line of `LIST_NETWORKS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkEntry {
    /// The network id.
    pub id: u32,
    /// The SSID, as wpa_supplicant escapes it.
    pub ssid: String,
    /// The BSSID it is locked to, or `any`.
    pub bssid: String,
    /// The flags: `[CURRENT]`, `[DISABLED]`, `[TEMP-DISABLED]`.
    pub flags: String,
}

impl NetworkEntry {
    /// Parses a LIST_NETWORKS reply: a header line, then one tab-separated line per
    /// network (id, ssid, bssid, flags).
    pub fn parse_list(reply: &str) -> Result<Vec<Self>, Error> {
        const WHAT: &str = "LIST_NETWORKS";
        let lines = lines(WHAT, reply)?;
        let mut rows = lines.into_iter();
        match rows.next() {
            Some(header) if header.starts_with("network id") => {}
            other => return Err(malformed(WHAT, format!("header {:?}", other.map(clip)))),
        }
        rows.filter(|l| !l.is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                let [id, name, bssid, flags] = fields[..] else {
                    return Err(malformed(
                        WHAT,
                        format!("line {:?} has not 4 fields", clip(line)),
                    ));
                };
                Ok(NetworkEntry {
                    id: network_id(WHAT, id)?,
                    ssid: ssid(WHAT, name)?,
                    bssid: bssid.to_owned(),
                    flags: flags.to_owned(),
                })
            })
            .collect()
    }
}

/// One line of `SCAN_RESULTS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanResult {
    /// The access point's BSSID.
    pub bssid: String,
    /// The frequency in MHz.
    pub frequency: u32,
    /// The signal level in dBm.
    pub signal_dbm: i32,
    /// The flags (`[WPA2-PSK-CCMP][ESS]`).
    pub flags: String,
    /// The SSID, as wpa_supplicant escapes it.
    pub ssid: String,
}

impl ScanResult {
    /// Parses a SCAN_RESULTS reply: a header line, then one tab-separated line per
    /// access point (bssid, frequency, signal level, flags, ssid).
    pub fn parse_list(reply: &str) -> Result<Vec<Self>, Error> {
        const WHAT: &str = "SCAN_RESULTS";
        let lines = lines(WHAT, reply)?;
        let mut rows = lines.into_iter();
        match rows.next() {
            Some(header) if header.starts_with("bssid") => {}
            other => return Err(malformed(WHAT, format!("header {:?}", other.map(clip)))),
        }
        rows.filter(|l| !l.is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.splitn(5, '\t').collect();
                let [bssid, frequency, signal, flags, name] = fields[..] else {
                    return Err(malformed(
                        WHAT,
                        format!("line {:?} has not 5 fields", clip(line)),
                    ));
                };
                let number = |text: &str| {
                    text.parse::<i32>()
                        .map_err(|_| malformed(WHAT, format!("{:?} is not a number", clip(text))))
                };
                Ok(ScanResult {
                    bssid: bssid.to_owned(),
                    frequency: u32::try_from(number(frequency)?)
                        .map_err(|_| malformed(WHAT, "negative frequency"))?,
                    signal_dbm: number(signal)?,
                    flags: flags.to_owned(),
                    ssid: ssid(WHAT, name)?,
                })
            })
            .collect()
    }
}

/// An unsolicited message from an attached control socket (`<LEVEL>TEXT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `CTRL-EVENT-CONNECTED - Connection to BSSID completed [id=N id_str=...]`.
    Connected {
        /// The access point's BSSID, when given.
        bssid: Option<String>,
        /// The network id, when given.
        id: Option<u32>,
    },
    /// `CTRL-EVENT-DISCONNECTED bssid=... reason=N ...`.
    Disconnected {
        /// The access point's BSSID, when given.
        bssid: Option<String>,
        /// The IEEE 802.11 reason code, when given.
        reason: Option<u16>,
    },
    /// `CTRL-EVENT-TERMINATING`: wpa_supplicant is stopping.
    Terminating,
    /// Any other message (state changes, scans, ...), with its text.
    Other(String),
}

impl Event {
    /// Parses an unsolicited message: `<N>` (a log level digit) and the text.
    pub fn parse(message: &str) -> Result<Self, Error> {
        const WHAT: &str = "event";
        let message = message.strip_suffix('\n').unwrap_or(message);
        if message.len() > MAX_LINE_LEN {
            return Err(malformed(
                WHAT,
                format!("{} bytes, at most {MAX_LINE_LEN}", message.len()),
            ));
        }
        let text = message
            .strip_prefix('<')
            .and_then(|rest| rest.split_once('>'))
            .filter(|(level, _)| !level.is_empty() && level.bytes().all(|b| b.is_ascii_digit()))
            .map(|(_, text)| text)
            .ok_or_else(|| malformed(WHAT, format!("{:?} has no <level>", clip(message))))?;
        let mut words = text.split(' ');
        let name = words.next().unwrap_or_default();
        let field = |key: &str| {
            text.split([' ', '[', ']'])
                .find_map(|w| w.strip_prefix(key))
                .filter(|v| !v.is_empty())
        };
        Ok(match name {
            "CTRL-EVENT-CONNECTED" => Event::Connected {
                // "- Connection to BSSID completed ..."
                bssid: text
                    .split(' ')
                    .skip_while(|w| *w != "to")
                    .nth(1)
                    .map(str::to_owned),
                id: field("id=").and_then(|v| v.parse().ok()),
            },
            "CTRL-EVENT-DISCONNECTED" => Event::Disconnected {
                bssid: field("bssid=").map(str::to_owned),
                reason: field("reason=").and_then(|v| v.parse().ok()),
            },
            "CTRL-EVENT-TERMINATING" => Event::Terminating,
            _ => Event::Other(text.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_of_a_connected_interface() {
        let reply = "bssid=02:00:00:00:01:00\nfreq=2412\nssid=netcore test\nid=3\nmode=station\n\
                     pairwise_cipher=NONE\ngroup_cipher=NONE\nkey_mgmt=NONE\nwpa_state=COMPLETED\n\
                     address=02:00:00:00:00:01\nuuid=abc\n";
        let s = Status::parse(reply).unwrap();
        assert_eq!(
            s,
            Status {
                state: WpaState::Completed,
                id: Some(3),
                ssid: Some("netcore test".into()),
                bssid: Some("02:00:00:00:01:00".into()),
                frequency: Some(2412),
                key_mgmt: Some("NONE".into()),
            }
        );
        assert!(s.is_connected());
    }

    #[test]
    fn status_details_of_the_wrong_form_are_left_out() {
        for bad in [
            "bssid=02:00:00:00:01\nkey_mgmt=bad\tvalue\nwpa_state=COMPLETED\n",
            "bssid=zz:00:00:00:01:00\nwpa_state=COMPLETED\n",
        ] {
            let s = Status::parse(bad).unwrap();
            assert_eq!(
                (s.bssid, s.key_mgmt, s.state),
                (None, None, WpaState::Completed)
            );
        }
        let long = format!("key_mgmt={}\nwpa_state=COMPLETED\n", "K".repeat(65));
        assert_eq!(Status::parse(&long).unwrap().key_mgmt, None);
        let spaced = Status::parse("key_mgmt=IEEE 802.1X (no WPA)\nwpa_state=COMPLETED\n");
        assert_eq!(
            spaced.unwrap().key_mgmt.as_deref(),
            Some("IEEE 802.1X (no WPA)")
        );
    }

    #[test]
    fn status_of_a_disconnected_interface() {
        let s = Status::parse("wpa_state=DISCONNECTED\naddress=02:00:00:00:00:01\n").unwrap();
        assert_eq!(s.state, WpaState::Disconnected);
        assert!(!s.is_connected());
        assert_eq!(s.id, None);
        assert_eq!(
            Status::parse("wpa_state=4WAY_HANDSHAKE").unwrap().state,
            WpaState::Connecting("4WAY_HANDSHAKE".into())
        );
        assert_eq!(
            Status::parse("wpa_state=MARS").unwrap().state,
            WpaState::Other("MARS".into())
        );
    }

    #[test]
    fn malformed_status_is_an_error() {
        for (reply, why) in [
            ("", "no wpa_state"),
            ("ssid=x\n", "no wpa_state"),
            ("wpa_state=COMPLETED\nid=zero\n", "network id"),
            ("wpa_state=COMPLETED\nid=-1\n", "network id"),
            ("wpa_state=COMPLETED\nid=99999999999\n", "network id"),
            ("wpa_state=COMPLETED\ngarbage\n", "has no '='"),
            ("wpa_state=COMPLETED\n=x\n", "bad key"),
            ("wpa_state=COMPLETED\nfreq=2.4\n", "freq"),
            ("FAIL\n", "refused STATUS"),
        ] {
            let e = Status::parse(reply).unwrap_err();
            assert_eq!(e.code(), 2_100_002, "{reply:?}");
            assert!(e.to_string().contains(why), "{reply:?}: {e}");
        }
        let huge_ssid = format!("wpa_state=COMPLETED\nssid={}\n", "x".repeat(129));
        assert!(
            Status::parse(&huge_ssid)
                .unwrap_err()
                .to_string()
                .contains("SSID of 129")
        );
        let long_line = format!("wpa_state=COMPLETED\nuuid={}\n", "x".repeat(2000));
        assert!(
            Status::parse(&long_line)
                .unwrap_err()
                .to_string()
                .contains("line of")
        );
        let many_lines = "a=b\n".repeat(300) + "wpa_state=COMPLETED\n";
        assert!(
            Status::parse(&many_lines)
                .unwrap_err()
                .to_string()
                .contains("301 lines")
        );
    }

    #[test]
    fn reply_text_checks_size_and_encoding() {
        assert_eq!(reply_text("PING", b"PONG\n").unwrap(), "PONG");
        assert!(reply_text("PING", &[0xff, 0xfe]).is_err());
        let big = vec![b'a'; MAX_REPLY_LEN + 1];
        let e = reply_text("STATUS", &big).unwrap_err();
        assert!(e.to_string().contains("8193 bytes"), "{e}");
        assert!(expect_ok("SELECT_NETWORK 1", "OK\n").is_ok());
        let e = expect_ok("SELECT_NETWORK 9", "FAIL\n").unwrap_err();
        assert!(e.to_string().contains("refused SELECT_NETWORK 9"), "{e}");
        assert!(expect_ok("X", "UNKNOWN COMMAND\n").is_err());
    }

    #[test]
    fn signal_poll() {
        let s = Signal::parse("RSSI=-61\nLINKSPEED=65\nNOISE=9999\nFREQUENCY=2412\n").unwrap();
        assert_eq!(
            s,
            Signal {
                rssi_dbm: -61,
                link_speed_mbps: Some(65),
                frequency: Some(2412)
            }
        );
        for (reply, why) in [
            ("FAIL\n", "refused SIGNAL_POLL"),
            ("LINKSPEED=65\n", "no RSSI"),
            ("RSSI=loud\n", "RSSI \"loud\""),
            ("RSSI=-5000\n", "out of range"),
            ("RSSI=99999999999999999999\n", "not a number"),
        ] {
            let e = Signal::parse(reply).unwrap_err();
            assert!(e.to_string().contains(why), "{reply:?}: {e}");
        }
    }

    #[test]
    fn rssi_maps_to_quality() {
        assert_eq!(rssi_to_quality(-100), 0);
        assert_eq!(rssi_to_quality(-120), 0);
        assert_eq!(rssi_to_quality(-75), 50);
        assert_eq!(rssi_to_quality(-61), 78);
        assert_eq!(rssi_to_quality(-50), 100);
        assert_eq!(rssi_to_quality(-20), 100);
        assert_eq!(rssi_to_quality(i32::MIN), 0);
        assert_eq!(rssi_to_quality(i32::MAX), 100);
    }

    #[test]
    fn list_networks() {
        let reply = "network id / ssid / bssid / flags\n0\tnetcore-test\tany\t[CURRENT]\n\
                     7\thome net\t02:00:00:00:01:00\t[DISABLED]\n";
        let list = NetworkEntry::parse_list(reply).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0],
            NetworkEntry {
                id: 0,
                ssid: "netcore-test".into(),
                bssid: "any".into(),
                flags: "[CURRENT]".into()
            }
        );
        assert_eq!(list[1].id, 7);
        assert_eq!(list[1].ssid, "home net");
        assert_eq!(
            NetworkEntry::parse_list("network id / ssid / bssid / flags\n").unwrap(),
            vec![]
        );
        for (reply, why) in [
            ("", "header"),
            ("0\tx\tany\t\n", "header"),
            (
                "network id / ssid / bssid / flags\n0\tx\tany\n",
                "not 4 fields",
            ),
            (
                "network id / ssid / bssid / flags\nx\tx\tany\t\n",
                "network id",
            ),
        ] {
            let e = NetworkEntry::parse_list(reply).unwrap_err();
            assert!(e.to_string().contains(why), "{reply:?}: {e}");
        }
    }

    #[test]
    fn scan_results() {
        let reply = "bssid / frequency / signal level / flags / ssid\n\
                     02:00:00:00:01:00\t2412\t-40\t[WPA2-PSK-CCMP][ESS]\tcafe\twith tab\n";
        let list = ScanResult::parse_list(reply).unwrap();
        assert_eq!(
            list,
            vec![ScanResult {
                bssid: "02:00:00:00:01:00".into(),
                frequency: 2412,
                signal_dbm: -40,
                flags: "[WPA2-PSK-CCMP][ESS]".into(),
                ssid: "cafe\twith tab".into(),
            }]
        );
        let bad = "bssid / frequency / signal level / flags / ssid\nx\t-1\t-40\t\ty\n";
        assert!(ScanResult::parse_list(bad).is_err());
    }

    #[test]
    fn events() {
        assert_eq!(
            Event::parse(
                "<3>CTRL-EVENT-CONNECTED - Connection to 02:00:00:00:01:00 completed [id=0 id_str=]"
            )
            .unwrap(),
            Event::Connected {
                bssid: Some("02:00:00:00:01:00".into()),
                id: Some(0)
            }
        );
        assert_eq!(
            Event::parse(
                "<3>CTRL-EVENT-DISCONNECTED bssid=02:00:00:00:01:00 reason=3 locally_generated=1\n"
            )
            .unwrap(),
            Event::Disconnected {
                bssid: Some("02:00:00:00:01:00".into()),
                reason: Some(3)
            }
        );
        assert_eq!(
            Event::parse("<2>CTRL-EVENT-TERMINATING").unwrap(),
            Event::Terminating
        );
        assert_eq!(
            Event::parse("<3>CTRL-EVENT-SCAN-STARTED ").unwrap(),
            Event::Other("CTRL-EVENT-SCAN-STARTED ".into())
        );
        // Missing fields are None, not errors.
        assert_eq!(
            Event::parse("<3>CTRL-EVENT-DISCONNECTED reason=x").unwrap(),
            Event::Disconnected {
                bssid: None,
                reason: None
            }
        );
        for bad in [
            "CTRL-EVENT-TERMINATING",
            "<>CTRL-EVENT-TERMINATING",
            "<x>CTRL-EVENT-TERMINATING",
            "<3",
            "",
        ] {
            assert!(Event::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Event::parse(&format!("<3>{}", "x".repeat(2000))).is_err());
    }
}
