"""Command line: ``webhook-gateway serve | migrate | check-config | token create``."""

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
        default=parse_duration("30d"),
        help="lifetime, e.g. 15m, 12h, 30d (default 30d)",
    )
    create.add_argument("--sub", default="cli", help="the token's subject (who holds it)")
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
    return _token_create(config, args)


def _invalid(exc: ConfigError) -> int:
    print(f"webhook-gateway: invalid configuration: {exc}", file=sys.stderr)
    return 2


def _check_config(config: Config) -> int:
    """Beyond what loading checks: every secret fits its scheme, the TLS files load, no
    declared subscriber names a private address that is not opened."""
    from gateway.declared import check_declared_destinations
    from gateway.ingress.listener import ingress_ssl_context
    from gateway.ingress.sources import build_sources

    try:
        build_sources(config)
        ingress_ssl_context(config)
        check_declared_destinations(config)
    except ConfigError as exc:
        return _invalid(exc)
    print(f"{config.source_file}: ok ({len(config.sources)} sources)")
    return 0


def _serve(config: Config, args: argparse.Namespace) -> int:
    from gateway.observability import configure_logging
    from gateway.runtime import ListenError, run

    configure_logging(args.log_level or config.log.level, args.log_format or config.log.format)
    try:
        run(config, args.role)
    except ConfigError as exc:  # found at start-up: a secret its scheme cannot use, TLS files
        return _invalid(exc)
    except ListenError as exc:  # a port is taken: nothing was started
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
    from gateway.api.auth import mint_token, signing_key

    try:
        key = signing_key(config)
    except (ValueError, OSError) as exc:
        print(f"webhook-gateway: cannot mint a token: {exc}", file=sys.stderr)
        return 2
    print(mint_token(config.api, key, args.scope, args.ttl, args.sub))
    return 0
