"""ecgssl: self-supervised learning for multi-lead electrocardiograms."""

__version__ = "0.1.0.dev0"
