"""Run the project's Cloudflare API emulator (tests/cfemu.py) on 127.0.0.1 for the demo.

    python scripts/emulator.py ENV_FILE [--d1 UUID=NAME ...] [--lifetime SECONDS]

Writes CLOUDFLARE_API_BASE_URL, CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID as shell
`export` lines to ENV_FILE once it listens, then serves until SIGTERM/SIGINT or the lifetime
(default 600 s) ends: a forgotten emulator never outlives a demo by much.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cfemu import CloudflareEmulator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env_file", type=Path)
    parser.add_argument("--d1", action="append", default=[], metavar="UUID=NAME", help="a D1 database to create")
    parser.add_argument("--lifetime", type=float, default=600.0)
    args = parser.parse_args()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with CloudflareEmulator() as cf:
        for spec in args.d1:
            uuid_, _, name = spec.partition("=")
            cf.create_d1(uuid_, name or uuid_)
        tmp = args.env_file.with_suffix(".tmp")
        tmp.write_text(f"export CLOUDFLARE_API_BASE_URL={cf.base_url}\nexport CLOUDFLARE_API_TOKEN={cf.token}\n"
                       f"export CLOUDFLARE_ACCOUNT_ID={cf.account_id}\nexport NO_PROXY=127.0.0.1,localhost\n")
        tmp.replace(args.env_file)  # appears whole: the demo waits for it
        stop.wait(args.lifetime)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
