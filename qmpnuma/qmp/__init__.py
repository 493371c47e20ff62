"""qmpnuma.qmp"""
