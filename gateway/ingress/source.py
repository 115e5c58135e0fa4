"""Sources ready to serve: presets applied, verifier built, allowlist and rate limit parsed.

Built once at start-up (and by ``check-config``); a secret that its scheme cannot use is
a :class:`~gateway.config.ConfigError` naming ``sources[i].secret``, never a start-up crash.
"""

from __future__ import annotations

import dataclasses
import math

from gateway.config import Config, ConfigError, SourceConfig
from gateway.ingress.allowlist import CidrAllowlist
from gateway.ingress.ratelimit import TokenBuckets
from gateway.ingress.schemes import apply_preset, build_verifier
from gateway.ingress.verify import Verifier

__all__ = ["Source", "build_sources", "token_buckets"]


def token_buckets(
    rate_per_second: float | None, burst: int | None, max_keys: int = 10_000
) -> TokenBuckets | None:
    """Buckets for a configured rate (burst defaults to one second's worth); ``None`` if off."""
    if rate_per_second is None:
        return None
    return TokenBuckets(rate_per_second, burst or max(1, math.ceil(rate_per_second)), max_keys)


@dataclasses.dataclass(frozen=True, slots=True)
class Source:
    """One source as the ingress uses it; the allowlist and rate limit follow its config."""

    config: SourceConfig
    verifier: Verifier
    allowlist: CidrAllowlist = dataclasses.field(init=False)
    rate_limit: TokenBuckets | None = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        cfg = self.config
        object.__setattr__(self, "allowlist", CidrAllowlist(cfg.allowed_cidrs))
        limit = token_buckets(cfg.rate_limit_per_second, cfg.rate_limit_burst, max_keys=1)
        object.__setattr__(self, "rate_limit", limit)


def build_sources(config: Config) -> dict[str, Source]:
    """Every configured source by name; raises :class:`ConfigError` for an unusable secret."""
    sources: dict[str, Source] = {}
    for i, declared in enumerate(config.sources):
        source = apply_preset(declared)
        try:
            verifier = build_verifier(source)
        except ValueError as exc:
            raise ConfigError(config.source_file, f"sources[{i}].secret", str(exc)) from None
        sources[source.name] = Source(source, verifier)
    return sources
