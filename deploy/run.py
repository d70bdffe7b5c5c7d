"""`make run`: the local stack, the demo registry and keys, and the three services, in the foreground.

Starts Tansu and nx-27017 (data under var/stack) unless KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI
are set, a local SMTP sink that keeps mail under var/mail, creates the topics, loads the demo
registry, writes var/dev-credentials.json, and starts each service's web and worker processes.
Ctrl-C or SIGTERM stops every process it started.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from deploy.devstack import (
    PORTS,
    REGISTRY,
    ROOT,
    ServiceProcesses,
    dev_secrets,
    service_env,
    write_credentials,
)
from deploy.localstack import LocalStack, StackError, port_open
from shared.entry import check_dependencies
from shared.kafka import ensure_topics
from shared.settings import CommonSettings, Env, SettingsError

VAR = Path(os.environ.get("CAMPAIGN_VAR_DIR", ROOT / "var"))


def say(message: str) -> None:
    print(f"run: {message}", flush=True)


def start_stack(env: dict[str, str]) -> tuple[LocalStack | None, dict[str, str]]:
    if env.get("KAFKA_BOOTSTRAP_SERVERS") and env.get("MONGODB_URI"):
        say("using KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI from the environment")
        return None, {}
    kafka_port = int(env.get("LOCAL_KAFKA_PORT", "19092"))
    mongo_port = int(env.get("LOCAL_MONGO_PORT", "27027"))
    for name, port in (("LOCAL_KAFKA_PORT", kafka_port), ("LOCAL_MONGO_PORT", mongo_port)):
        if port_open(port):
            raise StackError(f"{name}: port {port} is in use (another `make run`?); set another port")
    stack = LocalStack(VAR / "stack", kafka_port=kafka_port, mongo_port=mongo_port)
    say(f"starting the local stack (Tansu on :{kafka_port}, nx-27017 on :{mongo_port}, "
        f"data in {VAR}/stack)")
    stack.start()
    return stack, stack.env()


def main() -> int:
    base = dict(os.environ)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    stack = None
    procs: ServiceProcesses | None = None
    try:
        stack, stack_env = start_stack(base)
        common = CommonSettings.from_env(Env({**base, **stack_env}))
        check_dependencies(common)
        ensure_topics(common)
        secrets = dev_secrets(VAR / "dev-secrets.json")
        seed = secrets["DEV_KEY_SEED"]
        service_secrets = {k: v for k, v in secrets.items() if k != "DEV_KEY_SEED"}
        smtp_port = int(base.get("LOCAL_SMTP_PORT", "8025"))
        env = service_env(base, stack_env, service_secrets, {
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port), "SMTP_SENDER": "noreply@campaign.local",
            "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
        })
        procs = ServiceProcesses(env, VAR / "logs")
        (VAR / "mail").mkdir(parents=True, exist_ok=True)
        procs.start("smtp-sink", [sys.executable, "-m", "aiosmtpd", "-n", "-l",
                                  f"127.0.0.1:{smtp_port}", "-c", "aiosmtpd.handlers.Mailbox",
                                  str(VAR / "mail")])
        loaded = procs.run_once([sys.executable, "-m", "services.assignment", "load-registry",
                                 str(REGISTRY)])
        if loaded.returncode != 0:
            raise StackError(f"loading the registry failed: {loaded.stderr.strip()[-500:]}")
        write_credentials(common.mongodb_uri, VAR / "dev-credentials.json", seed)
        say("demo keys written to var/dev-credentials.json")
        procs.start_all()
        for service, port in PORTS.items():
            port = env.get(f"{service.upper()}_PORT", port)
            say(f"{service:<10} http://127.0.0.1:{port}  (logs: {VAR}/logs/{service}-*.log)")
        say(f"mail sink  127.0.0.1:{smtp_port} -> {VAR}/mail/   Ctrl-C stops everything")
        while not stopping:
            time.sleep(1)
            for name, code in procs.exited().items():
                if procs.restarts.get(name, 0) >= 5:
                    raise StackError(f"{name} keeps exiting (code {code}); see {VAR}/logs/{name}.log")
                say(f"{name} exited with code {code}; restarting it")
                procs.restart(name)
    except KeyboardInterrupt:
        pass
    except (StackError, SettingsError) as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one line, then clean up
        print(f"run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        say("stopping")
        if procs:
            procs.stop()
        if stack:
            stack.stop()
        say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
