//! ModemManager's objects as the bearer reads them: strict, size-bounded readers of
//! D-Bus property maps that never panic. A property of the wrong type, missing or
//! too long is logged and read as absent.

use std::collections::HashMap;
use std::net::IpAddr;

use netcore::bearer::MAX_NAME_LEN;
use zbus::zvariant::{OwnedValue, Value};

/// ModemManager's bus name.
pub const SERVICE: &str = "org.freedesktop.ModemManager1";
/// The path of ModemManager's object manager; modems live below it.
pub const MANAGER_PATH: &str = "/org/freedesktop/ModemManager1";
/// The modem interface (`State`, `Bearers`, `SignalQuality`, SIM slots).
pub const MODEM_IFACE: &str = "org.freedesktop.ModemManager1.Modem";
/// The simple connection interface of a modem (`Connect`, `Disconnect`).
pub const SIMPLE_IFACE: &str = "org.freedesktop.ModemManager1.Modem.Simple";
/// The interface of a bearer object (`Connected`, `Interface`, `Ip4Config`, ...).
pub const BEARER_IFACE: &str = "org.freedesktop.ModemManager1.Bearer";
/// The most DNS servers read from one IP configuration.
pub const MAX_DNS: usize = 16;
/// The most bearers read from one modem.
pub const MAX_BEARERS: usize = 64;

/// A property map: property name to value.
pub type Properties = HashMap<String, OwnedValue>;
/// The reply of `GetManagedObjects`: object path to interface to properties.
pub type ManagedObjects = HashMap<zbus::zvariant::OwnedObjectPath, HashMap<String, Properties>>;

/// What the bearer knows of a modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modem {
    /// The modem's object path.
    pub path: String,
    /// `State` (MMModemState), when readable.
    pub state: Option<i32>,
    /// The identifier of its active SIM slot: `slot0` or `slot1` ([`slot_identifier`]).
    pub slot: String,
    /// `SignalQuality` in percent, when readable.
    pub quality: Option<u8>,
    /// The object paths of its bearers (`Bearers`).
    pub bearers: Vec<String>,
}

/// What the bearer knows of a ModemManager bearer object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BearerObject {
    /// `Connected`; absent or unreadable is `false`.
    pub connected: bool,
    /// `Interface`: the kernel interface carrying the data, when readable and a
    /// valid interface name.
    pub interface: Option<String>,
    /// The DNS servers of `Ip4Config` then `Ip6Config` (`dns1`, `dns2`, ...).
    pub dns: Vec<IpAddr>,
}

/// The seed's `bearerPrivateIdentifier` of a modem whose `PrimarySimSlot` is
/// `primary`: slot 1 is `slot0`, slot 2 is `slot1`, ...; 0 (no slots) or absent is
/// `slot0`.
pub fn slot_identifier(primary: Option<u32>) -> String {
    let index = primary.unwrap_or(0).saturating_sub(1);
    format!("slot{index}")
}

/// The slot index of an identifier `slotN` (N from 0 to 15), `None` otherwise.
pub fn parse_slot(identifier: &str) -> Option<u32> {
    let digits = identifier.strip_prefix("slot")?;
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n < 16)
}

/// The modems among `objects`: every object with the modem interface, in path order.
pub fn modems(objects: &ManagedObjects) -> Vec<Modem> {
    let mut modems: Vec<Modem> = objects
        .iter()
        .filter_map(|(path, interfaces)| {
            let props = interfaces.get(MODEM_IFACE)?;
            Some(modem(path.as_str(), props))
        })
        .collect();
    modems.sort_by(|a, b| a.path.cmp(&b.path));
    modems
}

/// A modem from its `Modem` interface's properties.
pub fn modem(path: &str, props: &Properties) -> Modem {
    let primary = read(path, props, "PrimarySimSlot", |v| match v {
        Value::U32(n) => Some(*n),
        _ => None,
    });
    let quality = read(path, props, "SignalQuality", |v| match v {
        Value::Structure(s) => match s.fields() {
            [Value::U32(q), Value::Bool(_)] => Some((*q).min(100) as u8),
            _ => None,
        },
        _ => None,
    });
    let bearers = read(path, props, "Bearers", |v| match v {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|item| match item {
                    Value::ObjectPath(p) if p.as_str() != "/" => Some(p.as_str().to_owned()),
                    _ => None,
                })
                .take(MAX_BEARERS)
                .collect::<Vec<_>>(),
        ),
        _ => None,
    })
    .unwrap_or_default();
    Modem {
        path: path.to_owned(),
        state: read(path, props, "State", |v| match v {
            Value::I32(n) => Some(*n),
            _ => None,
        }),
        slot: slot_identifier(primary),
        quality,
        bearers,
    }
}

/// A bearer object from its `Bearer` interface's properties.
pub fn bearer_object(path: &str, props: &Properties) -> BearerObject {
    let connected = read(path, props, "Connected", |v| match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    })
    .unwrap_or(false);
    let interface = read(path, props, "Interface", |v| match v {
        Value::Str(s) if is_interface_name(s.as_str()) => Some(s.as_str().to_owned()),
        _ => None,
    });
    let mut dns = Vec::new();
    for key in ["Ip4Config", "Ip6Config"] {
        let servers = read(path, props, key, |v| match v {
            Value::Dict(_) => Some(dns_servers(v)),
            _ => None,
        });
        dns.extend(servers.unwrap_or_default());
    }
    dns.truncate(MAX_DNS);
    BearerObject {
        connected,
        interface,
        dns,
    }
}

/// The `dnsN` entries (N from 1) of an IP configuration dictionary (`a{sv}`), in order;
/// entries that are not IP addresses are skipped (logged).
fn dns_servers(config: &Value<'_>) -> Vec<IpAddr> {
    let Value::Dict(dict) = config else {
        return Vec::new();
    };
    let mut entries: Vec<(u32, IpAddr)> = Vec::new();
    for (key, value) in dict.iter() {
        let Value::Str(key) = key else { continue };
        let Some(n) = key
            .as_str()
            .strip_prefix("dns")
            .and_then(|n| (n.len() <= 2).then(|| n.parse::<u32>().ok()).flatten())
        else {
            continue;
        };
        match unwrap_variant(value) {
            Value::Str(s) if s.len() <= 64 => match s.as_str().parse::<IpAddr>() {
                Ok(ip) => entries.push((n, ip)),
                Err(_) => {
                    tracing::warn!(entry = %key.as_str(), "ignoring a DNS server that is not an IP address")
                }
            },
            _ => {
                tracing::warn!(entry = %key.as_str(), "ignoring a DNS server that is not a short string")
            }
        }
    }
    entries.sort_by_key(|(n, _)| *n);
    entries
        .into_iter()
        .map(|(_, ip)| ip)
        .take(MAX_DNS)
        .collect()
}

/// Whether `name` can be a kernel interface name (1 to 15 bytes, no '/', spaces or
/// control characters).
pub fn is_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name.len() < MAX_NAME_LEN
        && name != "."
        && name != ".."
        && !name.contains(['/', ' ', ':'])
        && !name.chars().any(char::is_control)
}

/// Reads property `name` of `object` with `parse`; absent is `None` quietly, a value
/// `parse` refuses is `None` with a warning.
fn read<T>(
    object: &str,
    props: &Properties,
    name: &str,
    parse: impl FnOnce(&Value<'_>) -> Option<T>,
) -> Option<T> {
    let value = props.get(name)?;
    let parsed = parse(unwrap_variant(value));
    if parsed.is_none() {
        tracing::warn!(
            object = %netcore_dbus::clip(object),
            property = name,
            signature = %netcore_dbus::clip(&value.value_signature().to_string()),
            "ignoring a ModemManager property of an unexpected type or value"
        );
    }
    parsed
}

/// The value inside any number of variant wrappers.
fn unwrap_variant<'a>(mut value: &'a Value<'a>) -> &'a Value<'a> {
    while let Value::Value(inner) = value {
        value = inner;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::zvariant::{ObjectPath, OwnedObjectPath};

    fn owned(value: Value<'_>) -> OwnedValue {
        value.try_to_owned().unwrap()
    }

    fn props(entries: Vec<(&str, Value<'_>)>) -> Properties {
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), owned(v)))
            .collect()
    }

    fn path(p: &str) -> ObjectPath<'static> {
        ObjectPath::try_from(p.to_owned()).unwrap()
    }

    fn ip_config(entries: Vec<(&str, Value<'static>)>) -> Value<'static> {
        let map: HashMap<String, Value<'static>> = entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        Value::from(map)
    }

    #[test]
    fn slots() {
        assert_eq!(slot_identifier(None), "slot0");
        assert_eq!(slot_identifier(Some(0)), "slot0");
        assert_eq!(slot_identifier(Some(1)), "slot0");
        assert_eq!(slot_identifier(Some(2)), "slot1");
        assert_eq!(parse_slot("slot0"), Some(0));
        assert_eq!(parse_slot("slot1"), Some(1));
        for bad in [
            "slot", "slotx", "slot-1", "slot99", "Slot0", "slot 1", "1", "",
        ] {
            assert_eq!(parse_slot(bad), None, "{bad}");
        }
    }

    #[test]
    fn modem_properties() {
        let m = modem(
            "/org/freedesktop/ModemManager1/Modems/8",
            &props(vec![
                ("State", Value::I32(11)),
                ("PrimarySimSlot", Value::U32(2)),
                ("SignalQuality", Value::from((70u32, true))),
                (
                    "Bearers",
                    Value::from(vec![path("/b/1"), path("/"), path("/b/0")]),
                ),
                ("Model", Value::from("E1750")),
            ]),
        );
        assert_eq!(
            m,
            Modem {
                path: "/org/freedesktop/ModemManager1/Modems/8".into(),
                state: Some(11),
                slot: "slot1".into(),
                quality: Some(70),
                bearers: vec!["/b/1".into(), "/b/0".into()],
            }
        );
    }

    #[test]
    fn modem_properties_of_wrong_types_are_absent() {
        let m = modem(
            "/m",
            &props(vec![
                ("State", Value::from("connected")),
                ("PrimarySimSlot", Value::I32(2)),
                ("SignalQuality", Value::from((70i32, true))),
                ("Bearers", Value::from(vec!["/b/0"])),
            ]),
        );
        assert_eq!(
            m,
            Modem {
                path: "/m".into(),
                state: None,
                slot: "slot0".into(),
                quality: None,
                bearers: vec![],
            }
        );
        // Out-of-range quality is clamped; no properties at all is a bare modem.
        let m = modem(
            "/m",
            &props(vec![("SignalQuality", Value::from((250u32, false)))]),
        );
        assert_eq!(m.quality, Some(100));
        assert_eq!(modem("/m", &Properties::new()).slot, "slot0");
    }

    #[test]
    fn bearer_properties() {
        let b = bearer_object(
            "/b/0",
            &props(vec![
                ("Connected", Value::Bool(true)),
                ("Interface", Value::from("wwan0")),
                (
                    "Ip4Config",
                    ip_config(vec![
                        ("method", Value::U32(2)),
                        ("dns2", Value::from("10.64.0.54")),
                        ("dns1", Value::from("10.64.0.53")),
                        ("dns3", Value::from("not an address")),
                        ("dns4", Value::U32(7)),
                    ]),
                ),
                (
                    "Ip6Config",
                    ip_config(vec![("dns1", Value::from("2001:db8::53"))]),
                ),
            ]),
        );
        assert_eq!(
            b,
            BearerObject {
                connected: true,
                interface: Some("wwan0".into()),
                dns: vec![
                    "10.64.0.53".parse().unwrap(),
                    "10.64.0.54".parse().unwrap(),
                    "2001:db8::53".parse().unwrap()
                ],
            }
        );
    }

    #[test]
    fn malformed_bearer_properties_are_absent() {
        let huge = "w".repeat(1 << 20);
        for (name, value) in [
            ("Connected", Value::from("yes")),
            ("Interface", Value::from(huge.as_str())),
            ("Interface", Value::from("")),
            ("Interface", Value::from("a/b")),
            ("Interface", Value::U32(3)),
            ("Ip4Config", Value::from("dns1=1.1.1.1")),
        ] {
            let b = bearer_object("/b", &props(vec![(name, value)]));
            assert_eq!(b, BearerObject::default(), "{name}");
        }
    }

    #[test]
    fn modems_are_the_objects_with_the_modem_interface() {
        let mut objects = ManagedObjects::new();
        let with_modem = |state: i32| {
            HashMap::from([(
                MODEM_IFACE.to_owned(),
                props(vec![("State", Value::I32(state))]),
            )])
        };
        objects.insert(OwnedObjectPath::from(path("/m/2")), with_modem(8));
        objects.insert(OwnedObjectPath::from(path("/m/1")), with_modem(11));
        objects.insert(
            OwnedObjectPath::from(path("/sim/1")),
            HashMap::from([(
                "org.freedesktop.ModemManager1.Sim".to_owned(),
                Properties::new(),
            )]),
        );
        let found = modems(&objects);
        assert_eq!(
            found
                .iter()
                .map(|m| (m.path.as_str(), m.state))
                .collect::<Vec<_>>(),
            [("/m/1", Some(11)), ("/m/2", Some(8))]
        );
    }
}
