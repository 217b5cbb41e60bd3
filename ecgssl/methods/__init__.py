"""ecgssl.methods"""
