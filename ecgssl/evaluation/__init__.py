"""ecgssl.evaluation"""
