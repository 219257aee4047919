"""Compile portfolio packs from structured content into fillable PDF and Word files."""

__version__ = "0.1.0"
