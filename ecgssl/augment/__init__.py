"""ecgssl.augment"""
