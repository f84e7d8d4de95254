"""Lender routing: which members to ask for an edition, in what order, and why (pure functions, no I/O)."""

from routing.districts import Districts, load_districts
from routing.errors import RoutingError
from routing.rota import Excluded, Priors, Rota, RotaEntry, Track, build_rota

__all__ = ["Districts", "Excluded", "Priors", "Rota", "RotaEntry", "RoutingError", "Track", "build_rota",
           "load_districts"]
