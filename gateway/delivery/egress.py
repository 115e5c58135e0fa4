"""How a delivery leaves: straight out or through a proxy, with which TLS settings.

:class:`Egress` holds the ``[egress]`` section's proxies (their URLs) and TLS profiles
(their contexts, current with their files); :meth:`Egress.route` turns a subscriber's
``proxy`` and ``tls`` names into what the outbound client sends with.
"""

from __future__ import annotations

import dataclasses
import ssl

from yarl import URL

from gateway.config import ConfigError
from gateway.config.egress import DIRECT, EgressConfig
from gateway.delivery.tlsfiles import TlsFileError, TlsFiles

__all__ = ["Egress", "Route", "UnknownRoute"]


class UnknownRoute(Exception):
    """A subscriber names a proxy or TLS profile this process's config file lacks."""


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """The proxy to go through (``None``: straight out) and the TLS context (``True``:
    the system's defaults)."""

    proxy: URL | None
    ssl: ssl.SSLContext | bool


class Egress:
    """The proxies and TLS profiles of ``[egress]``, by name.

    Made at start: a TLS profile whose files cannot be read or used raises
    :class:`ConfigError` naming ``file`` and the key (``egress.tls[0].client_key``)."""

    def __init__(self, config: EgressConfig | None = None, file: str = "<config>") -> None:
        self.config = config or EgressConfig()
        self.proxies = {p.name: URL(p.url) for p in self.config.proxies}
        self.tls: dict[str, TlsFiles] = {}
        for i, profile in enumerate(self.config.tls):
            try:
                self.tls[profile.name] = TlsFiles(profile)
            except TlsFileError as exc:
                raise ConfigError(file, f"egress.tls[{i}].{exc.key}", exc.reason) from None

    def route(self, proxy: str | None, tls: str | None) -> Route:
        """The route of a subscriber that names ``proxy`` and ``tls`` (either unset)."""
        name = proxy if proxy is not None else self.config.proxy
        via = None
        if name is not None and name != DIRECT:
            via = self.proxies.get(name)
            if via is None:
                raise UnknownRoute(f"no proxy named {name!r} in [[egress.proxies]]")
        context: ssl.SSLContext | bool = True
        if tls is not None:
            files = self.tls.get(tls)
            if files is None:
                raise UnknownRoute(f"no TLS profile named {tls!r} in [[egress.tls]]")
            context = files.context()
        return Route(via, context)
