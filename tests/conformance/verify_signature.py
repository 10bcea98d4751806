#!/usr/bin/env python3
"""Verify an Extend webhook signature with Extend's own SDK (extend-ai==1.20.0, `Webhooks.verify`).

    .venv-new/bin/python tests/conformance/verify_signature.py BODY_FILE TIMESTAMP SIGNATURE SECRET [--max-age N]

BODY_FILE holds the exact bytes that were delivered (the request body, unmodified). TIMESTAMP and
SIGNATURE are the values of the `x-extend-request-timestamp` and `x-extend-request-signature`
headers, SECRET the `wss_...` signing secret of the receiving endpoint.

It calls `extend_ai.Extend(...).webhooks.verify(body, headers, signing_secret, max_age_seconds)`,
whose exact signature in 1.20.0 is

    verify(self, body: Union[str, bytes], headers: Dict[str, Any], signing_secret: str,
           max_age_seconds: int = 300) -> bool

(HMAC-SHA256 over `v0:{timestamp}:{body}`, lowercase hex, compared case-sensitively; the timestamp
must be at most `max_age_seconds` old and at most 60 s in the future; 0 disables the age check).
`--max-age` defaults to the SDK default, 300.

Exit status: 0 the SDK accepts the signature, 1 it rejects it, 2 usage or environment error.
"""

import argparse
import sys
from importlib.metadata import version
from pathlib import Path

EXPECTED = "1.20.0"


def main(argv):
    parser = argparse.ArgumentParser(description="Verify an Extend webhook signature with extend-ai 1.20.0")
    parser.add_argument("body_file", type=Path)
    parser.add_argument("timestamp")
    parser.add_argument("signature")
    parser.add_argument("secret")
    parser.add_argument("--max-age", type=int, default=300, help="seconds; 0 disables the age check (SDK default 300)")
    args = parser.parse_args(argv)

    have = version("extend-ai")
    if have != EXPECTED:
        print(f"verify_signature.py needs extend-ai=={EXPECTED}, found {have} ({sys.executable})", file=sys.stderr)
        return 2
    try:
        body = args.body_file.read_bytes()
    except OSError as err:
        print(f"cannot read {args.body_file}: {err}", file=sys.stderr)
        return 2

    from extend_ai import Extend

    webhooks = Extend(token="unused-no-api-calls-are-made").webhooks
    headers = {"x-extend-request-timestamp": args.timestamp, "x-extend-request-signature": args.signature}
    ok = webhooks.verify(body, headers, args.secret, max_age_seconds=args.max_age)
    print(f"{'valid' if ok else 'INVALID'}: extend-ai {have} Webhooks.verify on {args.body_file} ({len(body)} bytes)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
