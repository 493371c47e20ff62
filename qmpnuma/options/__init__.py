"""qmpnuma.options"""
