"""qmpnuma.server"""
