"""ecgssl.data"""
