"""Z39.50 client for the federator: Init (with charset negotiation), Type-1 Search, Present, Close."""

from connectors.z3950.connection import ConnectionDropped, Z3950Connection
from connectors.z3950.connector import Z3950Connector

__all__ = ["ConnectionDropped", "Z3950Connection", "Z3950Connector"]
