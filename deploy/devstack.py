"""The development stack's pieces: secrets, demo credentials, and the processes of each service.

`deploy.run` (make run) and the end-to-end tests both use these, so the tests start the
services exactly the way `make run` does.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pymongo
import yaml

from deploy.localstack import spawn_child, stop_process_groups
from services.cli import PROCESSES
from services.notify.settings import deliverable_channels
from shared.cli import ROLE_SERVICES
from shared.sealing import generate_keypair, generate_secret_key

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "deploy" / "registry" / "foshan.yaml"

PORTS = {"intake": 8001, "assignment": 8002, "notify": 8003}
DATABASES = {"intake": "campaign_intake", "assignment": "campaign_assignment", "notify": "campaign_notify"}


# Each service's processes get only their own secrets (notify's private key never reaches intake).
SECRETS_OF = {
    "intake": ("INTAKE_RECEIPT_KEY", "INTAKE_REPORTER_KEY", "NOTIFY_PUBLIC_KEY"),
    "assignment": ("WORKSPACE_SECRET_KEY",),
    "notify": ("NOTIFY_PRIVATE_KEY", "NOTIFY_WEBHOOK_SECRET"),
}
ALL_SECRETS = frozenset(name for names in SECRETS_OF.values() for name in names) | {"DEV_KEY_SEED"}


def env_for(service: str | None, env: dict[str, str]) -> dict[str, str]:
    """`env` without the secrets that are not `service`'s (None: without any secret)."""
    own = SECRETS_OF.get(service or "", ())
    return {k: v for k, v in env.items() if k not in ALL_SECRETS or k in own}


def dev_secrets(path: Path) -> dict[str, str]:
    """The stack's secrets, made once and kept in `path` (under var/, never committed); a file
    from before a secret was added gets it added."""
    if path.exists():
        secrets = json.loads(path.read_text())
        if "WORKSPACE_SECRET_KEY" not in secrets:
            secrets["WORKSPACE_SECRET_KEY"] = generate_secret_key()
            path.write_text(json.dumps(secrets, indent=2))
            path.chmod(0o600)
        return secrets
    public, private = generate_keypair()
    secrets = {
        "INTAKE_RECEIPT_KEY": generate_secret_key(),
        "INTAKE_REPORTER_KEY": generate_secret_key(),
        "NOTIFY_PUBLIC_KEY": public,
        "NOTIFY_PRIVATE_KEY": private,
        "NOTIFY_WEBHOOK_SECRET": generate_secret_key(),
        "WORKSPACE_SECRET_KEY": generate_secret_key(),
        "DEV_KEY_SEED": generate_secret_key(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(secrets, indent=2))
    path.chmod(0o600)
    return secrets


def demo_principals(registry_path: Path = REGISTRY) -> dict[str, list[str]]:
    """The scopes that get a demo key: a frontline contact point per town, every cadre, every
    jurisdiction's supervisor."""
    data = yaml.safe_load(registry_path.read_text())
    jurisdictions = data.get("jurisdictions", [])
    cadres = [c["id"] for unit in data.get("units", []) for c in unit.get("cadres", [])]
    return {
        "frontline": [f"{j['code']}/contact" for j in jurisdictions if j.get("level") == "town"],
        "cadre": cadres,
        "supervisor": [j["code"] for j in jurisdictions],
    }


def _token(seed: str, role: str, scope: str) -> str:
    return hashlib.sha256(f"{seed}|{role}|{scope}".encode()).hexdigest()


def write_credentials(mongodb_uri: str, path: Path, seed: str,
                      databases: dict[str, str] = DATABASES,
                      registry_path: Path = REGISTRY) -> dict:
    """Issue the demo keys into each service's database and write them as API.md fixes.

    Tokens derive from a random seed kept with the secrets, so running again issues the same keys.
    """
    client = pymongo.MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000)
    credentials: dict = {"frontline": {}, "cadre": {}, "supervisor": {}, "admin": ""}
    grants = [(role, scope) for role, scopes in demo_principals(registry_path).items()
              for scope in scopes] + [("admin", "")]
    now = datetime.now(UTC)
    try:
        for service in DATABASES:
            ops = []
            for role, scope in grants:
                if service not in ROLE_SERVICES[role]:
                    continue
                token = _token(seed, role, scope)
                ops.append(pymongo.UpdateOne(
                    {"_id": hashlib.sha256(token.encode()).hexdigest()},
                    {"$set": {"role": role, "scope": scope, "label": "dev", "revoked": False,
                              "created_at": now}}, upsert=True))
            if ops:
                client[databases[service]]["api_keys"].bulk_write(ops, ordered=False)
    finally:
        client.close()
    for role, scope in grants:
        token = _token(seed, role, scope)
        if role == "admin":
            credentials["admin"] = token
        else:
            credentials[role][scope] = token
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(credentials, indent=2, ensure_ascii=False))
    path.chmod(0o600)
    return credentials


@dataclass
class ServiceProcesses:
    """The services' processes, each in its own process group and dying with this one, logs under
    `log_dir`."""

    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)

    def start(self, name: str, argv: list[str]) -> None:
        env = env_for(name.split("-", 1)[0], self.env)  # only this service's secrets
        self.procs[name] = spawn_child(argv, self.log_dir / f"{name}.log", env=env, cwd=ROOT)

    def start_service(self, service: str, command: str) -> str:
        name = f"{service}-{command}"
        self.start(name, [sys.executable, "-m", f"services.{service}", command])
        return name

    def start_all(self) -> None:
        for service, commands in PROCESSES.items():
            for command in commands:
                self.start_service(service, command)

    def run_once(self, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(argv, env=env_for(None, self.env), cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)

    def exited(self) -> dict[str, int]:
        return {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}

    def restart(self, name: str) -> None:
        service, command = name.split("-", 1)
        self.restarts[name] = self.restarts.get(name, 0) + 1
        self.start_service(service, command)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM every process group, wait, then SIGKILL what is left."""
        stop_process_groups(list(self.procs.values()), timeout)


def service_env(base: dict[str, str], stack_env: dict[str, str], secrets: dict[str, str],
                extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**base, **stack_env, **secrets, **(extra or {})}
    env.setdefault("PYTHONUNBUFFERED", "1")
    # the reporter page offers only what notify is configured to deliver (SMS needs a gateway)
    env.setdefault("INTAKE_REPORTER_CHANNELS", ",".join(deliverable_channels(env.get("SMS_GATEWAY_URL"))))
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@dataclass
class Pipeline:
    """A running set of the three services on some broker and database."""

    urls: dict[str, str]
    credentials: dict
    procs: ServiceProcesses
    env: dict[str, str]
    databases: dict[str, str]
    work: Path

    def stop(self) -> None:
        self.procs.stop()


def wait_ready(url: str, proc_name: str, procs: ServiceProcesses, timeout: float = 90) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc_name in procs.exited():
            raise RuntimeError(f"{proc_name} exited: see {procs.log_dir / (proc_name + '.log')}")
        try:
            if requests.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready within {timeout} s")


def start_pipeline(stack_env: dict[str, str], work: Path, ports: dict[str, int], *,
                   tag: str | None = None, extra: dict[str, str] | None = None) -> Pipeline:
    """Start every service process on the given stack; returns once every web app is ready.

    The steps of `make run`: topics, registry, keys, then each service's processes. With a `tag`,
    databases and topics are named after it, so several pipelines can share one stack.
    """
    from shared.kafka import ensure_topics
    from shared.settings import CommonSettings, Env

    databases = {s: f"{tag}_{s}" for s in PROCESSES} if tag else dict(DATABASES)
    secrets = dev_secrets(work / "dev-secrets.json")
    seed = secrets.pop("DEV_KEY_SEED")
    settings_env = {
        "KAFKA_TOPIC_PREFIX": f"{tag}." if tag else "",
        **{f"{s.upper()}_DB": db for s, db in databases.items()},
        **{f"{s.upper()}_PORT": str(p) for s, p in ports.items()},
        "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
        **(extra or {}),
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "MONGODB_"))}
    env = service_env(base, stack_env, secrets, settings_env)
    ensure_topics(CommonSettings.from_env(Env(env)))
    procs = ServiceProcesses(env, work / "logs")
    try:
        loaded = procs.run_once([sys.executable, "-m", "services.cli", "registry", "load",
                                 str(env.get("REGISTRY_FILE", REGISTRY))])
        if loaded.returncode != 0:
            raise RuntimeError(f"registry load failed: {loaded.stderr.strip()[-500:]}")
        credentials = write_credentials(stack_env["MONGODB_URI"], work / "dev-credentials.json", seed,
                                        databases=databases)
        procs.start_all()
        urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
        for service, url in urls.items():
            wait_ready(url, f"{service}-web", procs)
    except BaseException:
        procs.stop()
        raise
    return Pipeline(urls, credentials, procs, env, databases, work)
