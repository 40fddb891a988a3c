"""python-dbusmock's bluez5 template, plus what netcore's tests need on top: a PAN
device with org.bluez.Network1 (Connected, Interface, UUID; Connect(role) and
Disconnect), which the template's devices lack."""

import dbus

from dbusmock import mockobject
from dbusmock.templates import bluez5 as _bz
from dbusmock.templates.bluez5 import *  # noqa: F401,F403 the real template

NETWORK_IFACE = "org.bluez.Network1"


def _connect(device, role):
    device.UpdateProperties(
        NETWORK_IFACE,
        {
            "Connected": dbus.Boolean(True),
            "Interface": dbus.String(device.netcore_interface),
            "UUID": dbus.String(str(role)),
        },
    )
    return dbus.String(device.netcore_interface)


def _disconnect(device):
    device.UpdateProperties(
        NETWORK_IFACE,
        {
            "Connected": dbus.Boolean(False),
            "Interface": dbus.String(""),
            "UUID": dbus.String(""),
        },
    )


@dbus.service.method(_bz.BLUEZ_MOCK_IFACE, in_signature="sss", out_signature="s")
def AddNetcorePanDevice(self, adapter, address, interface):
    """The template's AddAdapter (when missing) and AddDevice, with Network1 on the
    device; connecting reports `interface`. Returns the device path."""
    if "/org/bluez/" + adapter not in mockobject.objects:
        AddAdapter(self, adapter, "netcore")  # noqa: F405
    path = AddDevice(self, adapter, address, "phone")  # noqa: F405
    device = mockobject.objects[path]
    device.netcore_interface = str(interface)
    props = {
        "Connected": dbus.Boolean(False),
        "Interface": dbus.String(""),
        "UUID": dbus.String(""),
    }
    device.AddProperties(NETWORK_IFACE, props)
    device.AddMethods(
        NETWORK_IFACE,
        [("Connect", "s", "s", _connect), ("Disconnect", "", "", _disconnect)],
    )
    mockobject.objects["/"].EmitSignal(
        "org.freedesktop.DBus.ObjectManager",
        "InterfacesAdded",
        "oa{sa{sv}}",
        [dbus.ObjectPath(path), {NETWORK_IFACE: props}],
    )
    return path
