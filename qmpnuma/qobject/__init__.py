"""QEMU's QObject layer as far as qmpnuma needs it: hash orders of QDict and GLib tables.

Neutral ground shared by the option parser, the machine model and the protocol core (in QEMU this
is `qobject/` plus GLib): nothing here knows about options, machines or QMP.
"""
