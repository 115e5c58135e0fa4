"""Typed, frozen configuration: TOML file plus ``GATEWAY_<SECTION>__<KEY>`` overrides.

Every value is validated once at load; an invalid config raises :class:`ConfigError`
naming the file, the key and the reason.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from gateway.domain.destination import InvalidDestination, parse_destination

__all__ = [
    "AdminConfig",
    "ApiConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "DeliveryConfig",
    "IngressConfig",
    "LogConfig",
    "MetricsConfig",
    "PrivacyConfig",
    "RetentionConfig",
    "SourceConfig",
    "SubscriberConfig",
    "WriterConfig",
    "load_config",
    "validate_source",
]

ENV_PREFIX = "GATEWAY_"
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
MAX_REVOCATION_REFRESH_SECONDS = 300.0
MAX_REPLAY_WINDOW = 3650 * 86400.0

Scheme = Literal[
    "hmac",
    "shopify",
    "woocommerce",
    "github",
    "stripe",
    "standard-webhooks",
    "basic",
    "api-key",
    "none",
]


class ConfigError(Exception):
    """The configuration is invalid; the message names the file, the key and the reason."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}")
        self.file = file
        self.key = key
        self.reason = reason


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class IngressConfig(_Section, frozen=True):
    host: str = "0.0.0.0"  # noqa: S104 - the public listener
    port: int = 8080
    max_body_bytes: int = 1024 * 1024
    ack_timeout_seconds: float = 10.0
    retry_after_seconds: int = 5
    # Answer webhooks 503 + Retry-After at once while the event loop runs this late
    # (the CPU is overloaded and senders would time out waiting). 0: never.
    shed_loop_lag_ms: float = 200.0
    # ... and while this many webhooks are already being handled (0: no limit). Beyond
    # it a sender would wait longer than it waits for an answer, and time out.
    max_concurrent_requests: int = 256
    # Store and answer plain webhooks from their bytes, without aiohttp's request objects
    # (the same checks and answers, a fifth less CPU a webhook). false: every request goes
    # through aiohttp's request path.
    fast_path: bool = True
    header_timeout_seconds: float = 10.0
    keepalive_timeout_seconds: float = 75.0
    sources_refresh_seconds: float = 5.0  # how soon API changes to sources take effect
    trusted_proxies: tuple[str, ...] = ()
    allowed_cidrs: tuple[str, ...] = ()
    rate_limit_per_second: float | None = None
    rate_limit_burst: int | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None
    tls_min_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"
    require_tls: bool | None = None  # default: true when tls_cert_file is set

    @property
    def tls_required(self) -> bool:
        """Whether plain HTTP is refused: ``require_tls``, else whether TLS is configured."""
        if self.require_tls is None:
            return self.tls_cert_file is not None
        return self.require_tls


class AdminConfig(_Section, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8081


class DatabaseConfig(_Section, frozen=True):
    url: str | None = None
    data_dir: str = ".gateway"
    pool_min: int = 2
    pool_max: int = 10
    connect_timeout_seconds: float = 5.0
    command_timeout_seconds: float = 30.0
    migrate_on_start: bool | None = None  # default: only for the embedded database


class WriterConfig(_Section, frozen=True):
    batch_max: int = 64
    # Wait this long for more events before storing a batch while a commit slot is free.
    # 0: store at once; under load batches still form while every slot is busy.
    batch_wait_ms: float = 0.0
    queue_size: int = 10_000
    # Batches committed at once, each on its own connection: while one waits for its
    # WAL flush the next is already on its way (PostgreSQL flushes them together).
    max_in_flight: int = 4
    # While a batch commits, a further one starts beside it only once this many events
    # wait; fewer wait for its end and go together (cheaper for PostgreSQL, and their
    # commits would wait for its WAL flush anyway). 1: every free slot starts at once.
    spread_at: int = 8
    # Refuse new events (503 + Retry-After) once the oldest waiting one has waited this
    # long: a sender is better told to come back than left to time out. 0: never.
    shed_after_ms: float = 1000.0


class DeliveryConfig(_Section, frozen=True):
    enabled: bool = True
    concurrency: int = 256
    claim_batch: int = 64
    # In-flight cap, across replicas, for subscribers without max_in_flight: one slow
    # subscriber then holds at most this many slots (half of one process's) and the
    # others keep flowing. A slot comes back when its attempt is settled, so this also
    # bounds one fast subscriber's rate, to about cap / the claim-send-settle cycle.
    # On a busy database that cycle is 100-130 ms, most of it waiting for the
    # settlement: 128 / 130 ms is about 1,000 deliveries/s.
    subscriber_max_in_flight: int | None = 128
    poll_interval_seconds: float = 1.0
    lease_seconds: float = 60.0
    timeout_seconds: float = 15.0
    connect_timeout_seconds: float = 5.0
    max_attempts: int = 10
    backoff_base_seconds: float = 5.0
    backoff_cap_seconds: float = 3600.0
    response_snippet_bytes: int = 2048
    grace_seconds: float = 25.0
    allowed_private_cidrs: tuple[str, ...] = ()
    user_agent: str = "webhook-gateway"
    # Retries (a subscriber's own settings win): exponential backoff with full jitter, or an
    # explicit schedule of delays in seconds; give up after max_attempts or max_age_seconds.
    retry_schedule: tuple[float, ...] = ()
    max_age_seconds: float = 3 * 86400.0
    retry_after_max_seconds: float = 3600.0  # Retry-After on 429/503 is clamped to this
    # Circuit breaker per subscriber: open after consecutive failures, or a failure ratio
    # over a window; probe with one delivery after the cool-down.
    circuit_breaker: bool = True
    circuit_consecutive_failures: int = 10
    circuit_failure_ratio: float = 0.7
    circuit_min_requests: int = 20
    circuit_window_seconds: float = 300.0
    circuit_cooldown_seconds: float = 60.0
    disable_after_seconds: float = 5 * 86400.0  # failing continuously this long; 0: never
    forward_headers: tuple[str, ...] = ()  # inbound headers passed on (per subscriber too)
    # Thin payloads: a signed, expiring link on the ingress listener instead of the body.
    payload_base_url: str | None = None  # how subscribers reach the ingress listener
    payload_link_secret: str | None = None  # unset: a key kept in the data directory
    payload_link_ttl_seconds: float = 3600.0
    job_batch_size: int = 500


JwtAlgorithm = Literal[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"
]


class ApiConfig(_Section, frozen=True):
    """Bearer JWT for the admin API; the algorithm is fixed here, never taken from a token.

    HS* verify with ``jwt_secret`` (or a key generated in the data directory); RS*, ES*
    and EdDSA verify with ``jwt_public_key_file`` (PEM) or ``jwt_jwks_file`` (a JWKS
    document, keys chosen by ``kid``); ``token create`` signs with ``jwt_private_key_file``.

    Revoked tokens (by ``jti``) are refused by every replica within
    ``revocation_refresh_seconds``. ``require_jti``: whether a token without a ``jti``
    (which cannot be revoked) is refused; by default yes with HS* (every token is the
    gateway's own), no with the other algorithms (an identity provider may not set one).
    """

    jwt_secret: str | None = None
    jwt_algorithm: JwtAlgorithm = "HS256"
    jwt_public_key_file: str | None = None
    jwt_jwks_file: str | None = None
    jwt_private_key_file: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: float = 30.0
    idempotency_hours: float = 24.0
    revocation_refresh_seconds: float = 5.0
    require_jti: bool | None = None

    @property
    def symmetric(self) -> bool:
        return self.jwt_algorithm.startswith("HS")

    @property
    def jti_required(self) -> bool:
        """``require_jti``, else whether the tokens are the gateway's own (HS*)."""
        return self.symmetric if self.require_jti is None else self.require_jti


class PrivacyConfig(_Section, frozen=True):
    """JSON pointers masked in everything the gateway shows about an event (API, logs).

    ``redact`` applies to every source; ``sources`` adds rules per source name.
    """

    redact: tuple[str, ...] = ()
    sources: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)

    def rules_for(self, source: str) -> tuple[str, ...]:
        return self.redact + self.sources.get(source, ())


class LogConfig(_Section, frozen=True):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class MetricsConfig(_Section, frozen=True):
    backlog_interval_seconds: float = 15.0  # read the backlog gauges this often; 0: never


class RetentionConfig(_Section, frozen=True):
    """How long stored data is kept; 0 days keeps it for ever.

    An event goes with its deliveries and attempts once it is older than ``events_days``
    (or its source's entry in ``sources``) and none of its deliveries is still pending,
    in flight, or dead for less than ``dead_letter_days``.
    """

    enabled: bool = True
    interval_seconds: float = 900.0
    batch_size: int = 1000
    events_days: float = 30.0
    finished_deliveries_days: float = 30.0
    attempts_days: float = 14.0
    dead_letter_days: float = 90.0
    sources: dict[str, float] = msgspec.field(default_factory=dict)

    def events_days_for(self, source: str) -> float:
        return self.sources.get(source, self.events_days)


class SubscriberConfig(_Section, frozen=True):
    """A subscriber declared in the file; reconciled into the database at start.

    Such subscribers are read-only through the API (``managed_by: "config"``); one removed
    from the file is disabled, not deleted, so its history stays.
    """

    name: str
    url: str
    secret: str
    description: str | None = None
    sources: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    timeout_seconds: float | None = None
    max_attempts: int | None = None
    backoff_base_seconds: float | None = None
    backoff_cap_seconds: float | None = None
    max_in_flight: int | None = None
    rate_limit_per_second: float | None = None
    ordered: bool = False
    https_only: bool = False
    forward_headers: tuple[str, ...] | None = None
    retry_schedule: tuple[float, ...] | None = None
    max_age_seconds: float | None = None
    rate_limit_burst: int | None = None
    payload_mode: Literal["full", "thin"] = "full"
    thin_above_bytes: int | None = None


class SourceConfig(_Section, frozen=True):
    """One sender: how its requests are verified and where its ids come from.

    ``event_id``, ``event_type`` and ``ordering_key`` name a header, or a JSON pointer
    into the body when they start with ``/``.
    """

    name: str
    scheme: Scheme = "hmac"
    secret: str | None = None
    secrets: tuple[str, ...] = ()
    signature_header: str | None = None
    algorithm: Literal["sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    signature_prefix: str = ""
    timestamp_header: str | None = None
    tolerance_seconds: int = 300
    event_id: str | None = None
    event_type: str | None = None
    ordering_key: str | None = None
    allowed_cidrs: tuple[str, ...] = ()
    max_body_bytes: int | None = None
    content_types: tuple[str, ...] = ()
    rate_limit_per_second: float | None = None
    rate_limit_burst: int | None = None
    # A second event of the same type and body within this many seconds is a duplicate
    # of the first, whatever its event id: a body-only signature cannot tell a replay
    # under a new id from a new event. None: the scheme's default (7 days for hmac,
    # shopify, woocommerce and github; off for the others). 0: off.
    replay_window_seconds: float | None = None

    @property
    def all_secrets(self) -> tuple[str, ...]:
        """The current secret first, then any others still accepted (rotation)."""
        return ((self.secret,) if self.secret else ()) + self.secrets


class Config(_Section, frozen=True):
    ingress: IngressConfig = msgspec.field(default_factory=IngressConfig)
    admin: AdminConfig = msgspec.field(default_factory=AdminConfig)
    database: DatabaseConfig = msgspec.field(default_factory=DatabaseConfig)
    writer: WriterConfig = msgspec.field(default_factory=WriterConfig)
    delivery: DeliveryConfig = msgspec.field(default_factory=DeliveryConfig)
    api: ApiConfig = msgspec.field(default_factory=ApiConfig)
    log: LogConfig = msgspec.field(default_factory=LogConfig)
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    retention: RetentionConfig = msgspec.field(default_factory=RetentionConfig)
    privacy: PrivacyConfig = msgspec.field(default_factory=PrivacyConfig)
    sources: tuple[SourceConfig, ...] = ()
    subscribers: tuple[SubscriberConfig, ...] = ()
    source_file: str = "<defaults>"

    def source(self, name: str) -> SourceConfig | None:
        for source in self.sources:
            if source.name == name:
                return source
        return None

    def with_database_url(self, url: str) -> Config:
        return msgspec.structs.replace(
            self, database=msgspec.structs.replace(self.database, url=url)
        )


def load_config(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Load, merge and validate the configuration.

    ``path`` falls back to ``$GATEWAY_CONFIG``; with neither, built-in defaults apply.
    """
    env = os.environ if env is None else env
    chosen = path if path is not None else env.get("GATEWAY_CONFIG")
    file = str(chosen) if chosen else "<defaults>"
    raw: dict[str, Any] = _read_toml(Path(chosen)) if chosen else {}
    raw = _expand(raw, env, file, "")
    origins = _apply_env(raw, env)
    raw["source_file"] = file
    try:
        config = msgspec.convert(raw, Config, strict=True)
    except msgspec.ValidationError as exc:
        key, reason = _split_validation_error(str(exc))
        where = origins.get(key.split("[")[0], file)
        raise ConfigError(where, key, reason) from None
    try:
        _validate(config, file)
    except ConfigError as exc:
        origin = origins.get(exc.key)
        if origin is None:
            raise
        raise ConfigError(origin, exc.key, exc.reason) from None
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "-", f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(str(path), "-", f"cannot be read: {exc.strerror}") from None


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, env: Mapping[str, str], file: str, key: str) -> Any:
    """Replace ``${NAME}`` in string values with the environment variable NAME.

    This keeps secrets out of the file (Kubernetes injects them from a Secret); an
    unset variable is an error, never an empty string.
    """
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(file, key or "-", f"environment variable {name} is not set")
            return env[name]

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, env, file, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, file, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Merge ``GATEWAY_SECTION__KEY`` variables into ``raw``; return key -> env var name."""
    origins: dict[str, str] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if not section or not key or section in {"sources", "subscribers", "source_file"}:
            continue
        target = raw.setdefault(section, {})
        if not isinstance(target, dict):
            continue
        target[key] = value if _is_text(section, key) else _env_value(value)
        origins[f"{section}.{key}"] = f"${name}"
    return origins


def _is_text(section: str, key: str) -> bool:
    """Whether ``section.key`` holds text only, so its env value is taken verbatim."""
    fields = {f.name: f.type for f in msgspec.structs.fields(Config)}
    section_type = fields.get(section)
    if not (isinstance(section_type, type) and issubclass(section_type, msgspec.Struct)):
        return False
    hints = typing.get_type_hints(section_type)
    if key not in hints:
        return False
    kinds = set(typing.get_args(hints[key])) or {hints[key]}
    kinds.discard(type(None))
    return bool(kinds) and all(k is str or typing.get_origin(k) is Literal for k in kinds)


def _env_value(value: str) -> Any:
    """Read an env value as a TOML value (numbers, booleans, arrays); else a plain string."""
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


_PATH_RE = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def _split_validation_error(message: str) -> tuple[str, str]:
    match = _PATH_RE.match(message)
    assert match is not None
    path = (match.group("path") or "").lstrip(".")
    reason = match.group("reason").replace("`", "")
    if reason.startswith("Object contains unknown field"):
        field = reason.rsplit(" ", 1)[-1]
        path = f"{path}.{field}" if path else field
        reason = "unknown key"
    return path or "-", reason


def _validate(config: Config, file: str) -> None:
    def fail(key: str, reason: str) -> None:
        raise ConfigError(file, key, reason)

    for section, port in (("ingress", config.ingress.port), ("admin", config.admin.port)):
        if not 0 <= port <= 65535:
            fail(f"{section}.port", "must be between 0 and 65535")
    _validate_ingress(config.ingress, file)
    if config.database.url is not None:
        _validate_database_url(config.database.url, file)
    if config.database.pool_min < 1 or config.database.pool_max < config.database.pool_min:
        fail("database.pool_max", "needs 1 <= pool_min <= pool_max")
    if config.writer.batch_max < 1 or config.writer.queue_size < 1:
        fail("writer.batch_max", "batch_max and queue_size must be positive")
    if config.writer.max_in_flight < 1:
        fail("writer.max_in_flight", "must be at least 1")
    if config.writer.spread_at < 1:
        fail("writer.spread_at", "must be at least 1")
    if config.writer.shed_after_ms < 0:
        fail("writer.shed_after_ms", "must be 0 (never) or positive")
    _validate_delivery(config.delivery, file)
    _validate_api(config.api, file)
    _validate_lifecycle(config, file)
    names: set[str] = set()
    for i, sub in enumerate(config.subscribers):
        _validate_subscriber(sub, file, f"subscribers[{i}]")
        if sub.name in names:
            fail(f"subscribers[{i}].name", f"duplicate subscriber name {sub.name!r}")
        names.add(sub.name)
    for key, rules in [("privacy.redact", config.privacy.redact)] + [
        (f"privacy.sources.{name}", r) for name, r in config.privacy.sources.items()
    ]:
        for i, rule in enumerate(rules):
            if not rule.startswith("/"):
                fail(f"{key}[{i}]", "must be a JSON pointer starting with '/'")
    seen: set[str] = set()
    for i, source in enumerate(config.sources):
        _validate_source(source, file, f"sources[{i}]")
        if source.name in seen:
            fail(f"sources[{i}].name", f"duplicate source name {source.name!r}")
        seen.add(source.name)


def _validate_api(api: ApiConfig, file: str) -> None:
    if api.idempotency_hours <= 0:
        raise ConfigError(file, "api.idempotency_hours", "must be positive")
    refresh = api.revocation_refresh_seconds
    if not (math.isfinite(refresh) and 0 < refresh <= MAX_REVOCATION_REFRESH_SECONDS):
        raise ConfigError(
            file,
            "api.revocation_refresh_seconds",
            f"must be a number of seconds above 0, at most {MAX_REVOCATION_REFRESH_SECONDS:g}",
        )
    minimum = {"HS384": 48, "HS512": 64}.get(api.jwt_algorithm, 32)
    if api.jwt_secret is not None and len(api.jwt_secret) < minimum:
        raise ConfigError(
            file,
            "api.jwt_secret",
            f"needs {minimum}+ characters for {api.jwt_algorithm} (or unset: one is generated)",
        )
    if api.symmetric:
        for key in ("jwt_public_key_file", "jwt_jwks_file", "jwt_private_key_file"):
            if getattr(api, key) is not None:
                raise ConfigError(
                    file, f"api.{key}", f"is for asymmetric algorithms, not {api.jwt_algorithm}"
                )
        return
    if api.jwt_secret is not None:
        raise ConfigError(
            file, "api.jwt_secret", f"{api.jwt_algorithm} verifies with a public key, not a secret"
        )
    if (api.jwt_public_key_file is None) == (api.jwt_jwks_file is None):
        raise ConfigError(
            file,
            "api.jwt_public_key_file",
            f"{api.jwt_algorithm} needs jwt_public_key_file or jwt_jwks_file",
        )


def _validate_subscriber(sub: SubscriberConfig, file: str, key: str) -> None:
    try:
        parse_destination(sub.url, registering=True)
    except InvalidDestination as exc:
        raise ConfigError(file, f"{key}.url", str(exc)) from None
    secret = sub.secret.removeprefix("whsec_")
    try:
        decoded = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
    except ValueError:
        decoded = b""
    if not sub.secret.startswith("whsec_") or len(decoded) < 16:
        raise ConfigError(
            file, f"{key}.secret", "must be whsec_ followed by at least 16 bytes of base64"
        )


def _validate_database_url(url: str, file: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ConfigError(file, "database.url", "must be a postgresql:// URL")
    if not parts.netloc and "host=" not in parts.query:
        raise ConfigError(file, "database.url", "names no host")


def _validate_cidr(value: str, file: str, key: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ConfigError(file, key, f"{value!r} is not a CIDR") from None


def validate_source(source: SourceConfig, where: str = "<api>", key: str = "source") -> None:
    """The checks a source passes in the file, for sources that come through the API."""
    _validate_source(source, where, key)


def _validate_source(source: SourceConfig, file: str, key: str) -> None:
    if not SLUG.match(source.name):
        raise ConfigError(file, f"{key}.name", "must be a lowercase slug (a-z, 0-9, '-', '_')")
    secrets = source.all_secrets
    if source.scheme != "none":
        if not secrets:
            raise ConfigError(file, f"{key}.secret", f"scheme {source.scheme!r} needs a secret")
        if any(not s.strip() for s in secrets):
            raise ConfigError(file, f"{key}.secret", "an empty secret is never accepted")
    if source.scheme == "hmac" and not source.signature_header:
        raise ConfigError(file, f"{key}.signature_header", "scheme 'hmac' needs signature_header")
    if source.max_body_bytes is not None and source.max_body_bytes < 1:
        raise ConfigError(file, f"{key}.max_body_bytes", "must be positive")
    for i, cidr in enumerate(source.allowed_cidrs):
        _validate_cidr(cidr, file, f"{key}.allowed_cidrs[{i}]")
    _validate_rate_limit(source.rate_limit_per_second, source.rate_limit_burst, file, key)
    window = source.replay_window_seconds
    if window is not None and not (math.isfinite(window) and 0 <= window <= MAX_REPLAY_WINDOW):
        raise ConfigError(
            file,
            f"{key}.replay_window_seconds",
            f"must be a number of seconds from 0 (off) to {MAX_REPLAY_WINDOW:.0f} (10 years)",
        )


def _validate_ingress(ingress: IngressConfig, file: str) -> None:
    if ingress.shed_loop_lag_ms < 0:
        raise ConfigError(file, "ingress.shed_loop_lag_ms", "must be 0 (never) or positive")
    if ingress.max_concurrent_requests < 0:
        raise ConfigError(
            file, "ingress.max_concurrent_requests", "must be 0 (no limit) or positive"
        )
    for name in ("trusted_proxies", "allowed_cidrs"):
        for i, cidr in enumerate(getattr(ingress, name)):
            _validate_cidr(cidr, file, f"ingress.{name}[{i}]")
    _validate_rate_limit(ingress.rate_limit_per_second, ingress.rate_limit_burst, file, "ingress")
    _validate_tls(ingress, file)


def _validate_tls(ingress: IngressConfig, file: str) -> None:
    def fail(key: str, reason: str) -> None:
        raise ConfigError(file, f"ingress.{key}", reason)

    for name in ("tls_cert_file", "tls_key_file", "tls_client_ca_file"):
        if getattr(ingress, name) == "":
            fail(name, "must not be empty (leave it unset for none)")
    if ingress.tls_cert_file is not None and ingress.tls_key_file is None:
        fail("tls_key_file", "tls_cert_file needs tls_key_file too")
    if ingress.tls_key_file is not None and ingress.tls_cert_file is None:
        fail("tls_cert_file", "tls_key_file needs tls_cert_file too")
    if ingress.tls_client_ca_file is not None and ingress.tls_cert_file is None:
        fail("tls_client_ca_file", "client certificates (mTLS) need tls_cert_file and tls_key_file")
    if ingress.require_tls and ingress.tls_cert_file is None and not ingress.trusted_proxies:
        fail(
            "require_tls",
            "needs tls_cert_file, or trusted_proxies when TLS is terminated upstream",
        )


def _validate_rate_limit(rate: float | None, burst: int | None, file: str, key: str) -> None:
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ConfigError(file, f"{key}.rate_limit_per_second", "must be a positive number")
    if burst is not None and rate is None:
        raise ConfigError(file, f"{key}.rate_limit_burst", "needs rate_limit_per_second")
    if burst is not None and burst < 1:
        raise ConfigError(file, f"{key}.rate_limit_burst", "must be at least 1")


def _validate_lifecycle(config: Config, file: str) -> None:
    def fail(key: str, reason: str) -> None:
        raise ConfigError(file, key, reason)

    if not math.isfinite(config.metrics.backlog_interval_seconds) or (
        config.metrics.backlog_interval_seconds < 0
    ):
        fail("metrics.backlog_interval_seconds", "must be 0 (off) or a positive number")
    retention = config.retention
    if not (math.isfinite(retention.interval_seconds) and retention.interval_seconds > 0):
        fail("retention.interval_seconds", "must be a positive number")
    if not 1 <= retention.batch_size <= 100_000:
        fail("retention.batch_size", "must be between 1 and 100000")
    days = {
        "events_days": retention.events_days,
        "finished_deliveries_days": retention.finished_deliveries_days,
        "attempts_days": retention.attempts_days,
        "dead_letter_days": retention.dead_letter_days,
    } | {f"sources.{name}": value for name, value in retention.sources.items()}
    for key, value in days.items():
        if not (math.isfinite(value) and value >= 0):
            fail(f"retention.{key}", "must be a number of days >= 0 (0 keeps for ever)")
    for name in retention.sources:
        if not SLUG.match(name):
            fail(f"retention.sources.{name}", "is not a source name (a lowercase slug)")


def _validate_delivery(delivery: DeliveryConfig, file: str) -> None:
    def fail(key: str, reason: str) -> None:
        raise ConfigError(file, f"delivery.{key}", reason)

    if delivery.max_attempts < 1:
        fail("max_attempts", "must be at least 1")
    if (
        delivery.backoff_base_seconds <= 0
        or delivery.backoff_cap_seconds < delivery.backoff_base_seconds
    ):
        fail("backoff_cap_seconds", "needs 0 < backoff_base_seconds <= backoff_cap_seconds")
    if delivery.concurrency < 1 or delivery.claim_batch < 1:
        fail("concurrency", "concurrency and claim_batch must be positive")
    if delivery.subscriber_max_in_flight is not None and delivery.subscriber_max_in_flight < 1:
        fail("subscriber_max_in_flight", "must be at least 1 (or unset for no cap)")
    if delivery.lease_seconds <= delivery.timeout_seconds:
        fail("lease_seconds", "must be longer than delivery.timeout_seconds")
    for i, cidr in enumerate(delivery.allowed_private_cidrs):
        _validate_cidr(cidr, file, f"delivery.allowed_private_cidrs[{i}]")
    if any(not (math.isfinite(d) and d >= 0) for d in delivery.retry_schedule):
        fail("retry_schedule", "delays must be finite numbers of seconds, 0 or more")
    if len(delivery.retry_schedule) > 100:
        fail("retry_schedule", "at most 100 delays")
    positive = (
        "max_age_seconds",
        "retry_after_max_seconds",
        "circuit_window_seconds",
        "circuit_cooldown_seconds",
        "payload_link_ttl_seconds",
    )
    for name in positive:
        value = getattr(delivery, name)
        if not (math.isfinite(value) and value > 0):
            fail(name, "must be a positive number of seconds")
    if not (math.isfinite(delivery.disable_after_seconds) and delivery.disable_after_seconds >= 0):
        fail("disable_after_seconds", "must be 0 (never) or a positive number of seconds")
    if delivery.circuit_consecutive_failures < 0 or delivery.circuit_min_requests < 1:
        fail("circuit_consecutive_failures", "needs >= 0 (0: off), and circuit_min_requests >= 1")
    if not 0 < delivery.circuit_failure_ratio <= 1:
        fail("circuit_failure_ratio", "must be in (0, 1]")
    if delivery.job_batch_size < 1:
        fail("job_batch_size", "must be at least 1")
    for i, name in enumerate(delivery.forward_headers):
        if not HEADER_NAME.match(name):
            fail(f"forward_headers[{i}]", f"{name!r} is not a header name")
    if delivery.payload_base_url is not None:
        parts = urlsplit(delivery.payload_base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
            fail("payload_base_url", "must be an absolute http(s) URL without a query")
    if delivery.payload_link_secret is not None and len(delivery.payload_link_secret) < 32:
        fail("payload_link_secret", "must be at least 32 characters (or unset for a generated key)")
