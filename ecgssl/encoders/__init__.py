"""ecgssl.encoders"""
