"""The ``[egress]`` section: the proxies and TLS profiles deliveries leave through.

``[[egress.proxies]]`` and ``[[egress.tls]]`` are named tables of the config file only;
a subscriber names one of each by name (``proxy``, ``tls``), never a URL or a file, so
nothing an API token can set makes the gateway read a file or learn whether one exists.
A proxy's URL may carry its credentials (``http://user:password@proxy:3128``): it is
never shown nor logged (the Struct's ``repr`` hides the password). ``proxy`` names the
proxy every HTTP subscriber goes through unless it names another, or ``"direct"``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from msgspec import Meta

from gateway.brokers.config import hidden_url
from gateway.config.types import FilePath, Section
from gateway.domain.subscriber import DIRECT, EgressName, SubscriberSettings
from gateway.domain.validation import Invalid

__all__ = ["DIRECT", "EgressConfig", "EgressProxy", "EgressTls", "egress_problem"]


class EgressProxy(Section, frozen=True):
    """An HTTP proxy: ``http://[user:password@]host:port``. https:// destinations go
    through it by ``CONNECT`` to the address the gateway checked."""

    name: EgressName
    url: Annotated[str, Meta(min_length=8, max_length=2048)]

    def __post_init__(self) -> None:
        if self.name == DIRECT:
            raise Invalid("name", f"{DIRECT!r} means no proxy: name the proxy otherwise")
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise Invalid("url", "must be an http:// URL with a host (the proxy's own address)")
        if parts.path not in {"", "/"} or parts.query or parts.fragment:
            raise Invalid("url", "must be the proxy's address only, without a path or query")
        try:
            parts.port  # noqa: B018 - raises for a port out of range
        except ValueError:
            raise Invalid("url", "has an invalid port") from None
        if parts.username is not None and not parts.password:
            raise Invalid("url", "names a user without a password")

    def __repr__(self) -> str:
        return f"EgressProxy(name={self.name!r}, url={hidden_url(self.url)!r})"


class EgressTls(Section, frozen=True):
    """How deliveries speak TLS: a client certificate and key (mTLS), the CAs trusted
    (``ca_bundle`` instead of, or with ``trust_system_cas``, besides the system's) and
    the lowest TLS version. Files are PEM, read at start and again when they change."""

    name: EgressName
    client_certificate: FilePath | None = None
    client_key: FilePath | None = None
    ca_bundle: FilePath | None = None
    trust_system_cas: bool = True
    min_version: Literal["1.2", "1.3"] = "1.2"

    def __post_init__(self) -> None:
        if self.client_certificate is not None and self.client_key is None:
            raise Invalid("client_key", "client_certificate needs client_key too")
        if self.client_key is not None and self.client_certificate is None:
            raise Invalid("client_certificate", "client_key needs client_certificate too")
        if not self.trust_system_cas and self.ca_bundle is None:
            raise Invalid("ca_bundle", "trust_system_cas = false needs a ca_bundle to trust")


class EgressConfig(Section, frozen=True):
    proxy: EgressName | None = None  # every HTTP subscriber's, unless it names its own
    proxies: tuple[EgressProxy, ...] = ()
    tls: tuple[EgressTls, ...] = ()

    def __post_init__(self) -> None:
        _unique("proxies", [p.name for p in self.proxies])
        _unique("tls", [t.name for t in self.tls])
        if self.proxy is not None and self.proxy != DIRECT:
            problem = _unknown("proxy", self.proxy, [p.name for p in self.proxies])
            if problem:
                raise Invalid("proxy", problem)

    def proxy_named(self, name: str) -> EgressProxy | None:
        return next((p for p in self.proxies if p.name == name), None)

    def tls_named(self, name: str) -> EgressTls | None:
        return next((t for t in self.tls if t.name == name), None)


def egress_problem(egress: EgressConfig, settings: SubscriberSettings) -> tuple[str, str] | None:
    """``(field, why)`` when ``settings`` name a proxy or TLS profile ``egress`` does not
    declare; ``None`` when every name they give is declared."""
    if settings.proxy is not None and settings.proxy != DIRECT:
        problem = _unknown("proxy", settings.proxy, [p.name for p in egress.proxies])
        if problem:
            return "proxy", problem
    proxy = settings.proxy if settings.proxy is not None else egress.proxy
    if proxy not in (None, DIRECT) and urlsplit(settings.url or "").scheme == "http":
        return (
            "proxy" if settings.proxy is not None else "url",
            f"proxy {proxy!r} carries https:// deliveries only (the gateway asks it for the"
            ' checked address by CONNECT); use an https:// URL, or proxy = "direct"',
        )
    if settings.tls is not None:
        problem = _unknown("tls", settings.tls, [t.name for t in egress.tls])
        if problem:
            return "tls", problem
    return None


def _unknown(table: str, name: str, names: list[str]) -> str | None:
    if name in names:
        return None
    known = ", ".join(repr(n) for n in names) or "none"
    plural = "proxies" if table == "proxy" else "tls"
    return f"no {table} named {name!r} in [[egress.{plural}]] (declared: {known})"


def _unique(key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise Invalid(f"{key}[{i}].name", f"duplicate name {name!r}")
        seen.add(name)
