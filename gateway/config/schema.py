"""The configuration's sections: each key's type, default and constraints beside it.

What one key can say of itself is a ``Meta`` constraint on its type, checked by msgspec
as the file is decoded; a rule that ties keys together is the section's
``__post_init__``, which raises :class:`~gateway.domain.validation.Invalid` naming the
key. Either way the error names the file and the key (see ``gateway.config.errors``).
"""

from __future__ import annotations

import base64
import math
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from gateway.brokers.config import Broker, broker_problem, check_brokers
from gateway.config.delivery import DeliveryConfig
from gateway.config.egress import EgressConfig, egress_problem
from gateway.config.operational import OperationalEventsConfig
from gateway.config.tracing import TracingConfig
from gateway.config.types import AtLeastOne, FilePath, NonNegative, Port, Positive, Section
from gateway.domain.broker_destination import BrokerDestination
from gateway.domain.destination import InvalidDestination
from gateway.domain.receive import Receive
from gateway.domain.source import SLUG, SourceConfig, check_source
from gateway.domain.subscriber import SubscriberSettings, url_destination
from gateway.domain.validation import Invalid, check_cidrs, check_rate_limit

__all__ = [
    "AdminConfig",
    "ApiConfig",
    "Config",
    "DatabaseConfig",
    "DeliveryConfig",
    "EgressConfig",
    "IngressConfig",
    "LogConfig",
    "MetricsConfig",
    "PrivacyConfig",
    "RetentionConfig",
    "SubscriberConfig",
    "WriterConfig",
]

MAX_REVOCATION_REFRESH_SECONDS = 300.0

JwtAlgorithm = Literal[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"
]
Pointer = Annotated[str, Meta(pattern="^/", description="a JSON pointer")]
HostPattern = Annotated[
    str,
    Meta(
        pattern=r"^(\*|[a-z0-9-]{1,63})(\.(\*|[a-z0-9-]{1,63}))*$",
        description="a host name, ``*`` standing for one label",
    ),
]


class IngressConfig(Section, frozen=True):
    host: str = "0.0.0.0"  # noqa: S104 - the public listener
    port: Port = 8080
    max_body_bytes: int = 1024 * 1024
    ack_timeout_seconds: float = 10.0
    retry_after_seconds: int = 5
    # Answer webhooks 503 + Retry-After at once while the event loop runs this late
    # (the CPU is overloaded and senders would time out waiting). 0: never.
    shed_loop_lag_ms: Annotated[float, Meta(ge=0)] = 200.0
    # ... and while this many webhooks are already being handled (0: no limit). Beyond
    # it a sender would wait longer than it waits for an answer, and time out.
    max_concurrent_requests: Annotated[int, Meta(ge=0)] = 256
    # Store and answer plain webhooks from their bytes, without aiohttp's request objects
    # (the same checks and answers, a fifth less CPU a webhook). false: every request goes
    # through aiohttp's request path.
    fast_path: bool = True
    header_timeout_seconds: float = 10.0
    keepalive_timeout_seconds: float = 75.0
    sources_refresh_seconds: float = 5.0  # how soon API changes to sources take effect
    # Where an SNS envelope's SigningCertURL may point (https only; ``*`` is one DNS
    # label): Amazon's SNS endpoints. Certificates are fetched once and kept.
    sns_certificate_hosts: tuple[HostPattern, ...] = (
        "sns.*.amazonaws.com",
        "sns.*.amazonaws.com.cn",
    )
    trusted_proxies: tuple[str, ...] = ()
    allowed_cidrs: tuple[str, ...] = ()
    rate_limit_per_second: Positive | None = None
    rate_limit_burst: AtLeastOne | None = None
    tls_cert_file: FilePath | None = None
    tls_key_file: FilePath | None = None
    tls_client_ca_file: FilePath | None = None
    tls_min_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"
    require_tls: bool | None = None  # default: true when tls_cert_file is set

    def __post_init__(self) -> None:
        check_cidrs("trusted_proxies", self.trusted_proxies)
        check_cidrs("allowed_cidrs", self.allowed_cidrs)
        check_rate_limit(self.rate_limit_per_second, self.rate_limit_burst)
        if self.tls_cert_file is not None and self.tls_key_file is None:
            raise Invalid("tls_key_file", "tls_cert_file needs tls_key_file too")
        if self.tls_key_file is not None and self.tls_cert_file is None:
            raise Invalid("tls_cert_file", "tls_key_file needs tls_cert_file too")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise Invalid(
                "tls_client_ca_file",
                "client certificates (mTLS) need tls_cert_file and tls_key_file",
            )
        if self.require_tls and self.tls_cert_file is None and not self.trusted_proxies:
            raise Invalid(
                "require_tls",
                "needs tls_cert_file, or trusted_proxies when TLS is terminated upstream",
            )

    @property
    def tls_required(self) -> bool:
        """Whether plain HTTP is refused: ``require_tls``, else whether TLS is configured."""
        if self.require_tls is None:
            return self.tls_cert_file is not None
        return self.require_tls


class AdminConfig(Section, frozen=True):
    host: str = "127.0.0.1"
    port: Port = 8081


class DatabaseConfig(Section, frozen=True):
    url: str | None = None
    data_dir: str = ".gateway"
    pool_min: AtLeastOne = 2
    pool_max: AtLeastOne = 10
    connect_timeout_seconds: float = 5.0
    command_timeout_seconds: float = 30.0
    migrate_on_start: bool | None = None  # default: only for the embedded database

    def __post_init__(self) -> None:
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in {"postgres", "postgresql"}:
                raise Invalid("url", "must be a postgresql:// URL")
            if not parts.netloc and "host=" not in parts.query:
                raise Invalid("url", "names no host")
        if self.pool_max < self.pool_min:
            raise Invalid("pool_max", "needs 1 <= pool_min <= pool_max")


class WriterConfig(Section, frozen=True):
    batch_max: AtLeastOne = 64
    # Wait this long for more events before storing a batch while a commit slot is free.
    # 0: store at once; under load batches still form while every slot is busy.
    batch_wait_ms: float = 0.0
    queue_size: AtLeastOne = 10_000
    # Batches committed at once, each on its own connection: while one waits for its
    # WAL flush the next is already on its way (PostgreSQL flushes them together).
    max_in_flight: AtLeastOne = 4
    # While a batch commits, a further one starts beside it only once this many events
    # wait; fewer wait for its end and go together (cheaper for PostgreSQL, and their
    # commits would wait for its WAL flush anyway). 1: every free slot starts at once.
    spread_at: AtLeastOne = 8
    # Refuse new events (503 + Retry-After) once the oldest waiting one has waited this
    # long: a sender is better told to come back than left to time out. 0: never.
    shed_after_ms: Annotated[float, Meta(ge=0)] = 1000.0


class ApiConfig(Section, frozen=True):
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
    idempotency_hours: Annotated[float, Meta(gt=0)] = 24.0
    revocation_refresh_seconds: Annotated[float, Meta(gt=0, le=MAX_REVOCATION_REFRESH_SECONDS)] = (
        5.0
    )
    require_jti: bool | None = None

    def __post_init__(self) -> None:
        algorithm = self.jwt_algorithm
        minimum = {"HS384": 48, "HS512": 64}.get(algorithm, 32)
        if self.jwt_secret is not None and len(self.jwt_secret) < minimum:
            raise Invalid(
                "jwt_secret",
                f"needs {minimum}+ characters for {algorithm} (or unset: one is generated)",
            )
        if self.symmetric:
            for key in ("jwt_public_key_file", "jwt_jwks_file", "jwt_private_key_file"):
                if getattr(self, key) is not None:
                    raise Invalid(key, f"is for asymmetric algorithms, not {self.jwt_algorithm}")
            return
        if self.jwt_secret is not None:
            raise Invalid(
                "jwt_secret", f"{self.jwt_algorithm} verifies with a public key, not a secret"
            )
        if (self.jwt_public_key_file is None) == (self.jwt_jwks_file is None):
            raise Invalid(
                "jwt_public_key_file",
                f"{self.jwt_algorithm} needs jwt_public_key_file or jwt_jwks_file",
            )

    @property
    def symmetric(self) -> bool:
        return self.jwt_algorithm.startswith("HS")

    @property
    def jti_required(self) -> bool:
        """``require_jti``, else whether the tokens are the gateway's own (HS*)."""
        return self.symmetric if self.require_jti is None else self.require_jti


class PrivacyConfig(Section, frozen=True):
    """JSON pointers masked in everything the gateway shows about an event (API, logs).

    ``redact`` applies to every source; ``sources`` adds rules per source name.
    """

    redact: tuple[Pointer, ...] = ()
    # Checked by __post_init__, not by the type: msgspec would not name the source.
    sources: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, rules in self.sources.items():
            for i, rule in enumerate(rules):
                if not rule.startswith("/"):
                    raise Invalid(
                        f"sources.{name}[{i}]", "must be a JSON pointer starting with '/'"
                    )

    def rules_for(self, source: str) -> tuple[str, ...]:
        return self.redact + self.sources.get(source, ())


class LogConfig(Section, frozen=True):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class MetricsConfig(Section, frozen=True):
    # Read the backlog gauges this often; 0: never.
    backlog_interval_seconds: NonNegative = 15.0


class RetentionConfig(Section, frozen=True):
    """How long stored data is kept; 0 days keeps it for ever.

    An event goes with its deliveries and attempts once it is older than ``events_days``
    (or its source's entry in ``sources``) and none of its deliveries is still pending,
    in flight, or dead for less than ``dead_letter_days``.
    """

    enabled: bool = True
    interval_seconds: Positive = 900.0
    batch_size: Annotated[int, Meta(ge=1, le=100_000)] = 1000
    events_days: NonNegative = 30.0
    finished_deliveries_days: NonNegative = 30.0
    attempts_days: NonNegative = 14.0
    dead_letter_days: NonNegative = 90.0
    # Checked by __post_init__, not by the type: msgspec would not name the source.
    sources: dict[str, float] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, days in self.sources.items():
            if not (math.isfinite(days) and days >= 0):
                raise Invalid(f"sources.{name}", "must be a number of days >= 0 (0 keeps for ever)")
        for name in self.sources:
            if not SLUG.match(name):
                raise Invalid(f"sources.{name}", "is not a source name (a lowercase slug)")

    def events_days_for(self, source: str) -> float:
        return self.sources.get(source, self.events_days)


class SubscriberConfig(SubscriberSettings, frozen=True, kw_only=True):
    """A subscriber declared in the file (its settings and its secret); reconciled into
    the database at start.

    Such subscribers are read-only through the API (``managed_by: "config"``); one removed
    from the file is disabled, not deleted, so its history stays.
    """

    secret: str

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            url_destination(self)
        except InvalidDestination as exc:
            raise Invalid("url", str(exc)) from None
        secret = self.secret.removeprefix("whsec_")
        try:
            decoded = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
        except ValueError:
            decoded = b""
        if not self.secret.startswith("whsec_") or len(decoded) < 16:
            raise Invalid("secret", "must be whsec_ followed by at least 16 bytes of base64")


class Config(Section, frozen=True):
    ingress: IngressConfig = msgspec.field(default_factory=IngressConfig)
    admin: AdminConfig = msgspec.field(default_factory=AdminConfig)
    database: DatabaseConfig = msgspec.field(default_factory=DatabaseConfig)
    writer: WriterConfig = msgspec.field(default_factory=WriterConfig)
    delivery: DeliveryConfig = msgspec.field(default_factory=DeliveryConfig)
    egress: EgressConfig = msgspec.field(default_factory=EgressConfig)
    api: ApiConfig = msgspec.field(default_factory=ApiConfig)
    log: LogConfig = msgspec.field(default_factory=LogConfig)
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    retention: RetentionConfig = msgspec.field(default_factory=RetentionConfig)
    privacy: PrivacyConfig = msgspec.field(default_factory=PrivacyConfig)
    operational_events: OperationalEventsConfig = msgspec.field(
        default_factory=OperationalEventsConfig
    )
    tracing: TracingConfig = msgspec.field(default_factory=TracingConfig)
    brokers: tuple[Broker, ...] = ()
    sources: tuple[SourceConfig, ...] = ()
    subscribers: tuple[SubscriberConfig, ...] = ()
    source_file: str = "<defaults>"

    def __post_init__(self) -> None:
        for i, source in enumerate(self.sources):
            try:
                check_source(source)
            except Invalid as exc:
                raise Invalid(f"sources[{i}].{exc.field}", exc.reason) from None
        check_brokers(self.brokers)
        named: list[tuple[str, Receive | BrokerDestination | None]] = [
            (f"sources[{i}].receive", s.receive) for i, s in enumerate(self.sources)
        ]
        named += [
            (f"subscribers[{i}].destination", s.destination) for i, s in enumerate(self.subscribers)
        ]
        for key, to in named:  # each broker named is declared, of the kind named
            problem = to and broker_problem(self.brokers, to.broker, to.kind)
            if problem:
                raise Invalid(f"{key}.broker", problem)
        for i, subscriber in enumerate(self.subscribers):  # each proxy and TLS profile named
            found = egress_problem(self.egress, subscriber)
            if found:
                raise Invalid(f"subscribers[{i}].{found[0]}", found[1])
        _unique("subscribers", "subscriber", [s.name for s in self.subscribers])
        _unique("sources", "source", [s.name for s in self.sources])

    def source(self, name: str) -> SourceConfig | None:
        for source in self.sources:
            if source.name == name:
                return source
        return None

    def broker(self, name: str) -> Broker | None:
        for broker in self.brokers:
            if broker.name == name:
                return broker
        return None

    def with_database_url(self, url: str) -> Config:
        return msgspec.structs.replace(
            self, database=msgspec.structs.replace(self.database, url=url)
        )


def _unique(key: str, kind: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise Invalid(f"{key}[{i}].name", f"duplicate {kind} name {name!r}")
        seen.add(name)
