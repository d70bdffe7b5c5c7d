"""`make run`: the local stack, the demo registry and keys, and the three services, in the foreground.

Starts Tansu and nx-27017 (data under var/stack) unless KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI
are set; `LOCAL_KAFKA=apache` starts Apache Kafka instead of Tansu (deploy/kafkastack.py: its jars
fetched once with mvn, LOCAL_KAFKA_NODES=1 or 3, records kept under var/stack/kafka), a local
SMTP sink that keeps mail under var/mail, creates the topics, loads the demo registry, writes
var/dev-credentials.json, and starts each service's web and worker processes.
Ctrl-C or SIGTERM stops every process it started; every child dies with it if it is killed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from deploy.apachestack import ApacheStack
from deploy.devstack import PORTS, ROOT, Pipeline, ServiceProcesses, start_pipeline
from deploy.localstack import LocalStack, StackError, port_open
from shared.entry import Unreachable, check_dependencies
from shared.settings import CommonSettings, Env, SettingsError

VAR = Path(os.environ.get("CAMPAIGN_VAR_DIR", ROOT / "var"))


def say(message: str) -> None:
    print(f"run: {message}", flush=True)


def local_port(env: dict[str, str], name: str, default: int) -> int:
    port = int(env.get(name, default))
    if port_open(port):
        raise StackError(f"{name}: port {port} is in use (another `make run`?); choose another")
    return port


def start_stack(env: dict[str, str]) -> tuple[LocalStack | ApacheStack | None, dict[str, str]]:
    if env.get("KAFKA_BOOTSTRAP_SERVERS") and env.get("MONGODB_URI"):
        say("using KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI from the environment")
        return None, {k: env[k] for k in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI")}
    kind = env.get("LOCAL_KAFKA", "tansu")
    if kind not in ("tansu", "apache"):
        raise StackError(f"LOCAL_KAFKA: {kind!r} is not tansu or apache")
    kafka_port = local_port(env, "LOCAL_KAFKA_PORT", 19092)
    mongo_port = local_port(env, "LOCAL_MONGO_PORT", 27027)
    if kind == "apache":
        nodes = int(env.get("LOCAL_KAFKA_NODES", "1"))
        apache = ApacheStack(VAR / "stack", nodes=nodes, kafka_port=kafka_port, mongo_port=mongo_port)
        say(f"starting the local stack: {apache.kind} on {apache.kafka_bootstrap}, nx-27017 on "
            f":{mongo_port}, data in {VAR}/stack (the first start fetches Kafka's jars with mvn)")
        apache.start()
        return apache, apache.env()
    stack = LocalStack(VAR / "stack", kafka_port=kafka_port, mongo_port=mongo_port)
    say(f"starting the local stack: Tansu on :{stack.kafka_port}, nx-27017 on :{stack.mongo_port}, "
        f"data in {VAR}/stack")
    stack.start()
    return stack, stack.env()


def main() -> int:
    env = dict(os.environ)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    stack = None
    smtp = None
    pipeline: Pipeline | None = None
    try:
        if env.get("DEMO_DATA", "") not in ("", "seed"):
            raise SettingsError(f"DEMO_DATA: {env['DEMO_DATA']!r} is not a demo set (only 'seed')")
        ports = {s: int(env.get(f"{s.upper()}_PORT", p)) for s, p in PORTS.items()}
        smtp_port = local_port(env, "LOCAL_SMTP_PORT", 8025)
        stack, stack_env = start_stack(env)
        check_dependencies(CommonSettings.from_env(Env({**env, **stack_env})))
        (VAR / "mail").mkdir(parents=True, exist_ok=True)
        smtp = ServiceProcesses(env, VAR / "logs")
        smtp.start("smtp-sink", [sys.executable, "-m", "aiosmtpd", "-n", "-l",
                                 f"127.0.0.1:{smtp_port}", "-c", "aiosmtpd.handlers.Mailbox",
                                 str(VAR / "mail")])
        pipeline = start_pipeline(stack_env, VAR, ports, extra={
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
            "SMTP_SENDER": "noreply@campaign.local"})
        say(f"demo keys in {VAR}/dev-credentials.json")
        if env.get("DEMO_DATA") == "seed":  # the seed's demo set, through the public APIs
            from deploy import demo

            demo.load(pipeline.urls, pipeline.credentials, say)
        for service, url in pipeline.urls.items():
            say(f"{service:<10} {url}  (logs: {VAR}/logs/{service}-*.log)")
        say(f"mail sink  127.0.0.1:{smtp_port} -> {VAR}/mail/   Ctrl-C stops everything")
        procs = pipeline.procs
        while not stopping:
            time.sleep(1)
            for name, code in procs.exited().items():
                if procs.restarts.get(name, 0) >= 5:
                    raise StackError(f"{name} keeps exiting (code {code}); see {VAR}/logs/{name}.log")
                say(f"{name} exited with code {code}; restarting it")
                procs.restart(name)
    except KeyboardInterrupt:
        pass
    except (StackError, SettingsError, Unreachable) as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one line, then clean up
        print(f"run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        say("stopping")
        for group in (pipeline.procs if pipeline else None, smtp):
            if group:
                group.stop()
        if stack:
            stack.stop()
        say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
