"""Headwater: a self-hosted Flow Service API for database sources, landing data in Apache Iceberg."""

__version__ = "0.1.0"
