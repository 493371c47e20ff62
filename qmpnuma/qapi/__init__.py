"""qmpnuma.qapi"""
