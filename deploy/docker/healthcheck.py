"""Container health check: GET /healthz of this container's web process; exit 0 when it answers 200."""

from __future__ import annotations

import sys
import urllib.request

from shared.settings import Env

PORTS = {"intake": ("INTAKE_PORT", 8001), "assignment": ("ASSIGNMENT_PORT", 8002),
         "notify": ("NOTIFY_PORT", 8003)}


def main() -> int:
    env = Env()
    name, default = PORTS[env.str("CAMPAIGN_SERVICE", "intake")]
    url = f"http://127.0.0.1:{env.int(name, default, minimum=1, maximum=65535)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as resp:
            return 0 if resp.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
