"""Recorded facts of the reference QEMU (data only)."""
