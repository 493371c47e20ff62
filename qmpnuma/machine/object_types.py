"""Which QOM classes ``-object``/``object-add`` can create, per profile (facts of the binary).

QEMU checks an ``-object`` twice: the QAPI ``ObjectType`` enum (in the profile's schema) decides
what the visitor accepts, and the QOM class registry decides what can actually be created.  The
7.2 enum also names classes that the x86_64 binary does not build (``pef-guest``,
``s390-pv-guest``, ...); those pass the visit and then fail with ``invalid object type``.  The
tables here are the second fact: the user-creatable classes of each binary.
"""

from __future__ import annotations

RAM = "memory-backend-ram"
FILE = "memory-backend-file"
MEMFD = "memory-backend-memfd"
#: The memory backends the model simulates.
BACKEND_TYPES = (RAM, FILE, MEMFD)
BACKEND_TYPES_2_9 = (RAM, FILE)

#: ``MAX_NODES``: host-nodes values and guest NUMA node ids stay below this.
MAX_NODES = 128

#: Every other user-creatable class of QEMU 7.2 x86_64 (``qom-list-types`` with
#: ``implements: user-creatable`` on the reference binary): created and kept in ``/objects``
#: (they change the container's hash order) but not modelled further.  ``ObjectType`` values
#: missing here (``authz-listfile``, ``authz-pam``, ``memory-backend-epc``, ``pef-guest``,
#: ``x-vfio-user-server``, ...) pass the visit and fail as ``invalid object type``.
OTHER_OBJECT_TYPES_7_2 = (
    "authz-list", "authz-list-file", "authz-simple", "can-bus", "can-host-socketcan",
    "colo-compare", "cryptodev-backend", "cryptodev-backend-builtin", "cryptodev-vhost-user",
    "dbus-display", "dbus-vmstate", "filter-buffer", "filter-dump", "filter-mirror",
    "filter-redirector", "filter-replay", "filter-rewriter", "input-barrier", "input-linux",
    "iothread", "main-loop", "pr-manager-helper", "qtest", "rng-builtin", "rng-egd",
    "rng-random", "secret", "secret_keyring", "sev-guest", "thread-context", "throttle-group",
    "tls-cipher-suites", "tls-creds-anon", "tls-creds-psk", "tls-creds-x509", "x-remote-object",
)
OTHER_OBJECT_TYPES_2_9 = (
    "iothread", "rng-random", "rng-egd", "secret", "throttle-group", "tls-creds-anon",
    "tls-creds-x509", "filter-buffer", "filter-dump", "filter-mirror", "filter-redirector",
    "filter-rewriter", "colo-compare", "cryptodev-backend-builtin", "input-linux",
)

#: QEMU 2.9's QOM properties of its two backend classes, in the order its QOM class
#: registers them (2.9's schema has no typed ``ObjectOptions`` yet).
BACKEND_PROPERTIES_2_9: dict[str, tuple[tuple[str, str], ...]] = {
    RAM: (("size", "size"), ("merge", "bool"), ("dump", "bool"), ("prealloc", "bool"),
          ("host-nodes", "[uint16]"), ("policy", "HostMemPolicy")),
    FILE: (("size", "size"), ("merge", "bool"), ("dump", "bool"), ("prealloc", "bool"),
           ("host-nodes", "[uint16]"), ("policy", "HostMemPolicy"), ("share", "bool"),
           ("mem-path", "str")),
}
#: Members a 2.9 backend cannot be completed without.
MANDATORY_2_9 = {RAM: ("size",), FILE: ("size", "mem-path")}


def creatable_types(profile: str) -> tuple[str, ...]:
    """Every class ``-object`` can create in ``profile`` (backends first)."""
    if profile == "2.9":
        return BACKEND_TYPES_2_9 + OTHER_OBJECT_TYPES_2_9
    return BACKEND_TYPES + OTHER_OBJECT_TYPES_7_2
