"""How big each scenario is: the full run (``make chaos``) and the short one (``make test``)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Size:
    name: str
    rate: float  # events per second offered by the load generator
    senders: int  # concurrent sender connections
    kills: int  # scenario 1: kill -9 of the gateway, restarted each time
    between_kills: float  # seconds of load between two kills
    outage: float  # scenario 2: seconds the database is unreachable
    postgres_down: float  # scenario 3: seconds between kill -9 and restart of PostgreSQL
    replica_load: float  # scenario 4: seconds of load before and after the kill
    bad_events: int  # scenario 5: events per phase (healthy only; with bad subscribers)
    sigterm_load: float  # scenario 6: seconds of load before SIGTERM
    duplicate_events: int  # scenario 7: distinct sender events
    duplicate_copies: int  # scenario 7: copies of each, sent concurrently
    duplicate_senders: int  # scenario 7: concurrent connections
    fuzz_ingest: int  # hostile ingest requests
    fuzz_admin: int  # generated admin API requests (at least)
    slowloris: int  # slow clients held open during the fuzz
    header_timeout: float  # [ingress] header_timeout_seconds of the fuzzed gateway
    framing_examples: int  # generated requests judged against aiohttp's parsers


FULL = Size(
    name="full",
    rate=300.0,
    senders=16,
    kills=5,
    between_kills=4.0,
    outage=10.0,
    postgres_down=3.0,
    replica_load=6.0,
    bad_events=600,
    sigterm_load=4.0,
    duplicate_events=1000,
    duplicate_copies=20,
    duplicate_senders=200,
    fuzz_ingest=10_000,
    fuzz_admin=2_000,
    slowloris=200,
    header_timeout=2.0,
    framing_examples=10_000,
)

QUICK = Size(
    name="quick",
    rate=150.0,
    senders=8,
    kills=2,
    between_kills=1.0,
    outage=2.0,
    postgres_down=1.0,
    replica_load=2.0,
    bad_events=120,
    sigterm_load=1.5,
    duplicate_events=100,
    duplicate_copies=10,
    duplicate_senders=50,
    fuzz_ingest=1_000,
    fuzz_admin=60,
    slowloris=20,
    header_timeout=1.0,
    framing_examples=200,
)

SIZES = {size.name: size for size in (FULL, QUICK)}
