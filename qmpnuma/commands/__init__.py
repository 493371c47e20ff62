"""qmpnuma.commands"""
