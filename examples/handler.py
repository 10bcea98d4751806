#!/usr/bin/env python3
"""A minimal webhook handler that speaks Extend's 2026-02-09 API, for trying hookshift by hand.

    .venv-new/bin/python examples/handler.py [--port 3000] [--secret SECRET]

It verifies every delivery with Extend's own SDK (extend-ai 1.20.0: `Webhooks.verify_and_parse`), exactly
as a production handler would, prints one line per event and answers 200; a delivery whose signature
does not verify is answered 401 (and hookshift answers the sender 502, so nothing is lost). The secret
defaults to the handler secret of the shipped config.toml (`routes.downstream.secret`), or
$HANDLER_WEBHOOK_SECRET when set. Ctrl-C stops it.
"""
import argparse
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from extend_ai import Extend

# The development secret of the shipped config.toml ([routes.downstream] secret).
DEV_HANDLER_SECRET = "wss_dev_handler_replace_in_production"


def make_handler(secret):
    webhooks = Extend(token="no-api-calls-are-made").webhooks

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event = webhooks.verify_and_parse(body, headers, secret, allow_signed_url=True)
            except Exception as error:  # the SDK's WebhookSignatureVerificationError and parse errors
                print(f"handler: REFUSED {type(error).__name__}: {error}", flush=True)
                self.answer(401, b'{"error":"invalid signature"}\n')
                return
            event_type = getattr(event, "event_type", None) or event.get("eventType")
            event_id = getattr(event, "event_id", None) or event.get("eventId")
            payload = getattr(event, "payload", None)
            kind = getattr(payload, "object", None) or type(payload).__name__
            print(f"handler: verified {event_type} {event_id} ({kind}, {len(body)} bytes, "
                  f"signed at {headers.get('x-extend-request-timestamp')})", flush=True)
            self.answer(200, b'{"received":true}\n')

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # one line per event is printed above
            pass

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--secret", default=os.environ.get("HANDLER_WEBHOOK_SECRET", DEV_HANDLER_SECRET))
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.secret))
    print(f"handler: listening on http://127.0.0.1:{args.port}/webhooks (Extend 2026-02-09, extend-ai SDK)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
