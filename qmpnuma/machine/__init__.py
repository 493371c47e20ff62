"""qmpnuma.machine"""
