"""python-dbusmock's ModemManager template, plus what netcore's tests need on top:
a modem with SIM slots and Modem.Simple Connect / Disconnect that create and update
a Bearer object (Connected, Interface, Ip4Config, Ip6Config)."""

import dbus

from dbusmock import MOCK_IFACE, mockobject
from dbusmock.templates import modemmanager as _mm
from dbusmock.templates.modemmanager import *  # noqa: F401,F403 the real template

BEARER_IFACE = "org.freedesktop.ModemManager1.Bearer"
SIMPLE_IFACE = "org.freedesktop.ModemManager1.Modem.Simple"
BEARER_PATH = "/org/freedesktop/ModemManager1/Bearer/0"


def _connect(modem, properties):
    apn = str(properties.get("apn", ""))
    if BEARER_PATH in mockobject.objects:
        mockobject.objects[BEARER_PATH].UpdateProperties(
            BEARER_IFACE, {"Connected": dbus.Boolean(True)}
        )
    else:
        props = {
            "Connected": dbus.Boolean(True),
            "Interface": dbus.String(modem.netcore_interface),
            "Ip4Config": dbus.Dictionary(
                {
                    "method": dbus.UInt32(2),
                    "address": "10.64.0.2",
                    "prefix": dbus.UInt32(30),
                    "gateway": "10.64.0.1",
                    "dns1": "10.64.0.53",
                    "dns2": "10.64.0.54",
                },
                signature="sv",
            ),
            "Ip6Config": dbus.Dictionary({"method": dbus.UInt32(0)}, signature="sv"),
            "Properties": dbus.Dictionary({"apn": apn}, signature="sv"),
        }
        modem.AddObject(BEARER_PATH, BEARER_IFACE, props, [])
    modem.UpdateProperties(
        _mm.MODEM_IFACE,
        {
            "Bearers": dbus.Array([dbus.ObjectPath(BEARER_PATH)], signature="o"),
            "State": dbus.Int32(_mm.MMModemState.STATE_CONNECTED),
        },
    )
    return dbus.ObjectPath(BEARER_PATH)


def _disconnect(modem, path):
    if BEARER_PATH in mockobject.objects and str(path) in ("/", BEARER_PATH):
        mockobject.objects[BEARER_PATH].UpdateProperties(
            BEARER_IFACE, {"Connected": dbus.Boolean(False)}
        )
    modem.UpdateProperties(
        _mm.MODEM_IFACE, {"State": dbus.Int32(_mm.MMModemState.STATE_REGISTERED)}
    )


@dbus.service.method(MOCK_IFACE, in_signature="su", out_signature="s")
def AddNetcoreModem(self, interface, primary_slot):
    """The template's AddSimpleModem, with PrimarySimSlot, SimSlots, Bearers and
    Modem.Simple; its bearer object reports `interface`. Returns the modem path."""
    modem_path, sim_path = AddSimpleModem(self)  # noqa: F405
    modem = mockobject.objects[modem_path]
    modem.netcore_interface = str(interface)
    modem.AddProperties(
        _mm.MODEM_IFACE,
        {
            "PrimarySimSlot": dbus.UInt32(primary_slot),
            "SimSlots": dbus.Array(
                [dbus.ObjectPath(sim_path), dbus.ObjectPath("/")], signature="o"
            ),
            "Bearers": dbus.Array([], signature="o"),
        },
    )
    modem.AddMethods(
        SIMPLE_IFACE,
        [("Connect", "a{sv}", "o", _connect), ("Disconnect", "o", "", _disconnect)],
    )
    return modem_path


@dbus.service.method(MOCK_IFACE, in_signature="ss", out_signature="")
def SetNetcoreBearerProperty(self, name, json_value):
    """Sets a Bearer property to a value of any type (JSON), for malformed-reply
    tests: e.g. Connected to a string."""
    import json

    value = json.loads(json_value)
    if isinstance(value, bool):
        value = dbus.Boolean(value)
    elif isinstance(value, int):
        value = dbus.Int64(value)
    elif isinstance(value, str):
        value = dbus.String(value)
    mockobject.objects[BEARER_PATH].UpdateProperties(BEARER_IFACE, {str(name): value})
