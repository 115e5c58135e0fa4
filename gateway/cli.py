"""Command line: ``webhook-gateway serve | migrate | check-config | token create|revoke``."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.config import Config, ConfigError, load_config

__all__ = ["main", "parse_duration"]

_DURATION = re.compile(r"^(?P<n>\d+)(?P<unit>[smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
ADMIN_TTL = "24h"  # what `token create` gives a token with the admin scope
OTHER_TTL = "30d"
REVOKE_TIMEOUT_SECONDS = 60.0  # `token revoke` gives up on a database that does not answer


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``12h``, ``30d``, ``2w`` → seconds."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group("n")) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 15m, 12h or 30d")
    return int(match.group("n")) * _UNITS[match.group("unit")]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webhook-gateway", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config", help="TOML file (default: $GATEWAY_CONFIG, else built-in defaults)"
        )
        return p

    serve = with_config(sub.add_parser("serve", help="run the gateway"))
    serve.add_argument("--role", choices=["all", "ingress", "worker", "api"], default="all")
    serve.add_argument("--log-format", choices=["json", "text"], help="overrides log.format")
    serve.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    with_config(sub.add_parser("migrate", help="apply database migrations"))
    with_config(sub.add_parser("check-config", help="validate the configuration and exit"))
    token = sub.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = with_config(token.add_parser("create", help="mint a bearer token for the admin API"))
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=["read", "write", "replay", "admin"],
        help="repeat for several",
    )
    create.add_argument(
        "--ttl",
        type=parse_duration,
        help=f"lifetime, e.g. 15m, 12h, 30d (default {ADMIN_TTL} with the admin scope, "
        f"else {OTHER_TTL})",
    )
    create.add_argument("--sub", default="cli", help="the token's subject (who holds it)")
    revoke = with_config(
        token.add_parser("revoke", help="refuse a token from now on, on every replica")
    )
    revoke.add_argument(
        "token",
        metavar="TOKEN_OR_JTI",
        help='the token itself, or its jti (after "--" when the jti begins with "-")',
    )
    revoke.add_argument("--reason", help="why, kept with the revocation")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _invalid(exc)
    if args.command == "check-config":
        return _check_config(config)
    if args.command == "serve":
        return _serve(config, args)
    if args.command == "migrate":
        return _migrate(config)
    if args.token_command == "revoke":
        return _token_revoke(config, args)
    return _token_create(config, args)


def _invalid(exc: ConfigError) -> int:
    print(f"webhook-gateway: invalid configuration: {exc}", file=sys.stderr)
    return 2


def _check_config(config: Config) -> int:
    """Beyond what loading checks: every secret fits its scheme, the TLS files load (the
    listener's and the egress profiles'), no declared subscriber names a private address
    that is not opened, every declared broker's library is installed, and so is tracing's
    when it is on."""
    from gateway.delivery.egress import Egress
    from gateway.ingress.listener import ingress_ssl_context
    from gateway.ingress.source import build_sources
    from gateway.runtime.reconcile import check_broker_libraries, check_declared_destinations
    from gateway.runtime.tracing import check_tracing

    try:
        build_sources(config)
        ingress_ssl_context(config)
        Egress(config.egress, config.source_file)
        check_declared_destinations(config)
        check_broker_libraries(config)
        check_tracing(config)
    except ConfigError as exc:
        return _invalid(exc)
    print(f"{config.source_file}: ok ({len(config.sources)} sources)")
    return 0


def _serve(config: Config, args: argparse.Namespace) -> int:
    from gateway.observability import configure_logging
    from gateway.runtime import ListenError, StartupError, run

    configure_logging(args.log_level or config.log.level, args.log_format or config.log.format)
    try:
        run(config, args.role)
    except ConfigError as exc:  # found at start-up: a secret its scheme cannot use, TLS files
        return _invalid(exc)
    # A port is taken (nothing was started), or a service could not start (those started
    # before it are stopped): one line.
    except (ListenError, StartupError) as exc:
        print(f"webhook-gateway: {exc}", file=sys.stderr)
        return 1
    return 0


def _migrate(config: Config) -> int:
    from gateway.observability import configure_logging
    from gateway.runtime import open_database
    from gateway.store import StoreError

    configure_logging(config.log.level, "text")

    async def go() -> None:
        async with open_database(config, migrate=True):
            pass

    try:
        asyncio.run(go())
    except StoreError as exc:
        print(f"webhook-gateway: migration failed: {exc}", file=sys.stderr)
        return 1
    print("migrations: at head")
    return 0


def _token_create(config: Config, args: argparse.Namespace) -> int:
    """The token alone on stdout (scripts capture it); its jti and expiry on stderr."""
    from gateway.api.auth import mint_token, revocation_target, signing_key

    try:
        key = signing_key(config)
    except (ValueError, OSError) as exc:
        print(f"webhook-gateway: cannot mint a token: {exc}", file=sys.stderr)
        return 2
    ttl = args.ttl or parse_duration(ADMIN_TTL if "admin" in args.scope else OTHER_TTL)
    token = mint_token(config.api, key, args.scope, ttl, args.sub)
    jti, expires = revocation_target(token)
    print(token)
    until = f", expires {expires:%Y-%m-%dT%H:%M:%SZ}" if expires else ""
    print(f"webhook-gateway: token jti {jti}{until}", file=sys.stderr)
    return 0


def _token_revoke(config: Config, args: argparse.Namespace) -> int:
    """Write the revocation to the database; every replica refuses the token within
    ``api.revocation_refresh_seconds``."""
    from gateway.api.auth import revocation_target
    from gateway.api.revocation import MAX_REASON_LENGTH
    from gateway.runtime import open_database
    from gateway.store import StoreError, tokens

    try:
        jti, expires = revocation_target(args.token)
        if args.reason is not None and len(args.reason) > MAX_REASON_LENGTH:
            raise ValueError(f"a reason has at most {MAX_REASON_LENGTH} characters")
    except ValueError as exc:
        print(f"webhook-gateway: cannot revoke: {exc}", file=sys.stderr)
        return 2

    async def go() -> None:
        async with asyncio.timeout(REVOKE_TIMEOUT_SECONDS), open_database(config) as db:
            await tokens.revoke(db, jti, expires, args.reason, "cli")

    try:
        asyncio.run(go())
    except (StoreError, TimeoutError) as exc:
        reason = str(exc) or f"the database did not answer within {REVOKE_TIMEOUT_SECONDS:g}s"
        print(f"webhook-gateway: revocation failed: {reason}", file=sys.stderr)
        return 1
    if expires is None:
        print(f"revoked {jti} (its expiry is unknown: the revocation is kept for ever)")
    else:
        print(f"revoked {jti} (until its token expires, {expires:%Y-%m-%dT%H:%M:%SZ})")
    return 0
