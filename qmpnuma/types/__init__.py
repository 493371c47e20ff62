"""qmpnuma.types"""
