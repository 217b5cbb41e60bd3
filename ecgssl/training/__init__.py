"""ecgssl.training"""
