//! BlueZ's objects as the bearer reads them: strict, size-bounded readers of D-Bus
//! property maps that never panic. A property of the wrong type, missing or too long
//! is logged and read as absent.

use std::collections::HashMap;

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

/// BlueZ's bus name.
pub const SERVICE: &str = "org.bluez";
/// The device interface (`Address`, `Alias`, `Connected`, `Paired`).
pub const DEVICE_IFACE: &str = "org.bluez.Device1";
/// The PAN client interface of a device (`Connect`, `Disconnect`, `Connected`,
/// `Interface`, `UUID`).
pub const NETWORK_IFACE: &str = "org.bluez.Network1";

/// A property map: property name to value.
pub type Properties = HashMap<String, OwnedValue>;
/// The reply of `GetManagedObjects`: object path to interface to properties.
pub type ManagedObjects = HashMap<OwnedObjectPath, HashMap<String, Properties>>;

/// A device that offers a PAN (has `Network1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanDevice {
    /// The device's object path.
    pub path: String,
    /// Its Bluetooth address (`Device1.Address`), the network's identifier, when
    /// readable.
    pub address: Option<String>,
    /// `Network1.Connected`; unreadable is `false`.
    pub connected: bool,
    /// `Network1.Interface` (`bnepN`) when readable and a valid interface name.
    pub interface: Option<String>,
}

/// The PAN devices among `objects` (objects with `Network1`), in path order.
pub fn pan_devices(objects: &ManagedObjects) -> Vec<PanDevice> {
    let mut devices: Vec<PanDevice> = objects
        .iter()
        .filter_map(|(path, interfaces)| {
            let network = interfaces.get(NETWORK_IFACE)?;
            let path = path.as_str();
            let device = interfaces.get(DEVICE_IFACE);
            Some(PanDevice {
                path: path.to_owned(),
                address: device.and_then(|d| {
                    read(path, d, "Address", |v| match v {
                        Value::Str(s) if is_bluetooth_address(s.as_str()) => {
                            Some(s.as_str().to_ascii_uppercase())
                        }
                        _ => None,
                    })
                }),
                connected: read(path, network, "Connected", |v| match v {
                    Value::Bool(b) => Some(*b),
                    _ => None,
                })
                .unwrap_or(false),
                interface: read(path, network, "Interface", |v| match v {
                    Value::Str(s) if s.is_empty() => Some(None),
                    Value::Str(s) if is_interface_name(s.as_str()) => {
                        Some(Some(s.as_str().to_owned()))
                    }
                    _ => None,
                })
                .flatten(),
            })
        })
        .collect();
    devices.sort_by(|a, b| a.path.cmp(&b.path));
    devices
}

/// Whether `text` is a Bluetooth address (`AA:BB:CC:DD:EE:FF`, either case).
pub fn is_bluetooth_address(text: &str) -> bool {
    text.len() == 17
        && text.split(':').count() == 6
        && text
            .split(':')
            .all(|part| part.len() == 2 && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `name` can be a kernel interface name (1 to 15 bytes, no '/', ':',
/// spaces or control characters).
pub fn is_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name.contains(['/', ' ', ':'])
        && !name.chars().any(char::is_control)
}

pub use netcore_dbus::clip;

/// Reads property `name` of `object` with `parse`; absent is `None` quietly, a value
/// `parse` refuses is `None` with a warning.
fn read<T>(
    object: &str,
    props: &Properties,
    name: &str,
    parse: impl FnOnce(&Value<'_>) -> Option<T>,
) -> Option<T> {
    let value = props.get(name)?;
    let mut inner: &Value<'_> = value;
    while let Value::Value(v) = inner {
        inner = v;
    }
    let parsed = parse(inner);
    if parsed.is_none() {
        tracing::warn!(
            object = %clip(object),
            property = name,
            signature = %clip(&value.value_signature().to_string()),
            "ignoring a BlueZ property of an unexpected type or value"
        );
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::zvariant::ObjectPath;

    fn props(entries: Vec<(&str, Value<'_>)>) -> Properties {
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.try_to_owned().unwrap()))
            .collect()
    }

    fn object(
        path: &str,
        device: Vec<(&str, Value<'_>)>,
        network: Option<Vec<(&str, Value<'_>)>>,
    ) -> (OwnedObjectPath, HashMap<String, Properties>) {
        let mut interfaces = HashMap::from([(DEVICE_IFACE.to_owned(), props(device))]);
        if let Some(network) = network {
            interfaces.insert(NETWORK_IFACE.to_owned(), props(network));
        }
        (
            OwnedObjectPath::from(ObjectPath::try_from(path.to_owned()).unwrap()),
            interfaces,
        )
    }

    #[test]
    fn pan_devices_are_the_devices_with_network1() {
        let objects: ManagedObjects = [
            object(
                "/org/bluez/hci0/dev_B",
                vec![("Address", Value::from("aa:bb:cc:dd:ee:02"))],
                Some(vec![
                    ("Connected", Value::Bool(true)),
                    ("Interface", Value::from("bnep0")),
                ]),
            ),
            object(
                "/org/bluez/hci0/dev_A",
                vec![("Address", Value::from("AA:BB:CC:DD:EE:01"))],
                Some(vec![
                    ("Connected", Value::Bool(false)),
                    ("Interface", Value::from("")),
                ]),
            ),
            object("/org/bluez/hci0/dev_C", vec![], None),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            pan_devices(&objects),
            [
                PanDevice {
                    path: "/org/bluez/hci0/dev_A".into(),
                    address: Some("AA:BB:CC:DD:EE:01".into()),
                    connected: false,
                    interface: None,
                },
                PanDevice {
                    path: "/org/bluez/hci0/dev_B".into(),
                    address: Some("AA:BB:CC:DD:EE:02".into()),
                    connected: true,
                    interface: Some("bnep0".into()),
                },
            ]
        );
    }

    #[test]
    fn malformed_properties_are_absent() {
        let huge = "b".repeat(1 << 20);
        let objects: ManagedObjects = [object(
            "/d",
            vec![("Address", Value::from("not-an-address"))],
            Some(vec![
                ("Connected", Value::from("yes")),
                ("Interface", Value::from(huge.as_str())),
            ]),
        )]
        .into_iter()
        .collect();
        assert_eq!(
            pan_devices(&objects),
            [PanDevice {
                path: "/d".into(),
                address: None,
                connected: false,
                interface: None,
            }]
        );
    }

    #[test]
    fn addresses() {
        assert!(is_bluetooth_address("AA:BB:CC:DD:EE:FF"));
        assert!(is_bluetooth_address("aa:bb:cc:dd:ee:0f"));
        for bad in [
            "AA:BB:CC:DD:EE",
            "AA:BB:CC:DD:EE:FG",
            "AABBCCDDEEFF",
            "AA:BB:CC:DD:EE:FF:",
        ] {
            assert!(!is_bluetooth_address(bad), "{bad}");
        }
    }
}
