"""`make bench`: qmpnuma measured side by side with the real QEMU 7.2, figure by figure."""
