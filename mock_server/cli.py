"""`brightpearl-mock`: start a seeded, offline Brightpearl on loopback."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import uvicorn

from .app import create_app
from .seed import seed_dataset
from .state import (
    DEFAULT_ACCOUNT,
    DEFAULT_ACCOUNT_TOKEN,
    DEFAULT_APP_REF,
    DEFAULT_DEV_REF,
    DEFAULT_STAFF_TOKEN,
    FAULT_KINDS,
    Credentials,
    Fault,
    MockState,
)
from .tls import make_certificates
from .writes.journal import JournalError, WriteJournal


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="brightpearl-mock", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--account", default=DEFAULT_ACCOUNT, help="account code in /public-api/{account}/...")
    parser.add_argument("--seed", type=int, default=1, help="the same seed always gives the same data")
    parser.add_argument("--orders", type=int, default=1000, help="data scale; every other resource follows it")
    parser.add_argument("--timezone", default="America/Chicago", help="the account's time zone (timestamp offsets)")
    parser.add_argument("--app-ref", default=DEFAULT_APP_REF)
    parser.add_argument("--account-token", default=DEFAULT_ACCOUNT_TOKEN)
    parser.add_argument("--staff-token", default=DEFAULT_STAFF_TOKEN)
    parser.add_argument("--dev-ref", default=DEFAULT_DEV_REF, help="developer ref OAuth calls must send")
    parser.add_argument(
        "--client-secret",
        default=None,
        help="make the OAuth app confidential: the token endpoint then requires this secret",
    )
    parser.add_argument(
        "--oauth-auto-approve",
        action="store_true",
        help="the OAuth authorize page redirects with a code at once, without an Approve click",
    )
    parser.add_argument("--rate-limit", type=int, default=200, help="calls per rolling minute; 0 turns it off")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every API response")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:key=value,...]",
        help=f"inject a fault from the start; kinds: {', '.join(FAULT_KINDS)}",
    )
    parser.add_argument("--log-requests", action="store_true", help="one line per API call on stderr, no tokens")
    parser.add_argument(
        "--data-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="keep API writes in this journal and replay them at start-up (created if missing)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve https with a certificate from a CA made at start-up (its file is printed)",
    )
    parser.add_argument(
        "--tls-ca-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="with --tls, write the CA certificate here (default: a temporary file)",
    )
    parser.add_argument(
        "--webhook-retry-ms",
        type=int,
        default=250,
        help="pause before a failed webhook delivery's first retry; it doubles on each retry",
    )
    args = parser.parse_args(argv)
    if args.orders < 1:
        parser.error("--orders must be 1 or more")
    if args.webhook_retry_ms < 0:
        parser.error("--webhook-retry-ms must be 0 or more")
    if args.tls_ca_file is not None and not args.tls:
        parser.error("--tls-ca-file needs --tls")
    try:
        args.faults = [Fault.from_cli(text) for text in args.fault]
    except (TypeError, ValueError) as error:
        parser.error(f"--fault: {error}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    dataset = seed_dataset(args.seed, args.orders, args.account, args.timezone)
    state = MockState(
        dataset=dataset,
        credentials=Credentials(
            args.account,
            args.app_ref,
            args.account_token,
            args.staff_token,
            args.dev_ref,
            client_secret=args.client_secret,
        ),
        rate_limit=args.rate_limit,
        latency_ms=args.latency_ms,
        log_requests=args.log_requests,
        faults=args.faults,
        oauth_auto_approve=args.oauth_auto_approve,
        webhook_retry_ms=args.webhook_retry_ms,
    )
    journal, replayed = None, 0
    if args.data_file is not None:
        journal = WriteJournal(
            args.data_file,
            {"seed": args.seed, "orders": args.orders, "account": args.account, "timezone": args.timezone},
        )
        try:
            replayed = journal.replay(state)
        except (JournalError, OSError) as error:
            sys.exit(f"brightpearl-mock: error: --data-file: {error}")
    tls = make_certificates(args.host, args.tls_ca_file) if args.tls else None
    print(
        f"brightpearl-mock ready in {time.perf_counter() - started:.1f}s: "
        f"base_url={'https' if tls else 'http'}://{args.host}:{args.port} account={args.account} app_ref={args.app_ref} "
        f"account_token={args.account_token} staff_token={args.staff_token} dev_ref={args.dev_ref} "
        f"orders={args.orders} rate_limit={args.rate_limit or 'off'}"
        + (f" data_file={args.data_file} writes_replayed={replayed}" if args.data_file else ""),
        flush=True,
    )
    if tls:
        print(tls.how_to_trust(), flush=True)
    uvicorn.run(
        create_app(state, journal),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        **(
            {"ssl_keyfile": str(tls.key_and_certificate_file), "ssl_certfile": str(tls.key_and_certificate_file)}
            if tls
            else {}
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
