"""ECG encoders with a declared signal contract; see ``ENCODERS``."""

from ecgssl.encoders.base import Encoder
from ecgssl.encoders.inception1d import Inception1d
from ecgssl.encoders.multibranch import LeadConvBlock, MultiBranchEncoder
from ecgssl.encoders.resnet1d import ResNet1d
from ecgssl.encoders.wrapped import WrappedEncoder, wrap_model

__all__ = [
    "Encoder",
    "Inception1d",
    "LeadConvBlock",
    "MultiBranchEncoder",
    "ResNet1d",
    "WrappedEncoder",
    "wrap_model",
]
