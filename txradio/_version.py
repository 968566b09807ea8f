"""The version of txradio."""

__version__ = "0.1.0"
