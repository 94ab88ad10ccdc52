"""Hearth: a private, offline desktop assistant that runs Gemma 4 models locally."""

__version__ = "0.1.0"
APP_NAME = "Hearth"
