"""The reader portal and JSON API (aiohttp): `create_app(registry)`; served by `balis serve`."""

from portal.app import create_app

__all__ = ["create_app"]
