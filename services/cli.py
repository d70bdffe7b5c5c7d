"""`campaign`: the one command line of the clue system (declared in pyproject's [project.scripts]).

    campaign keys issue|revoke ...          API keys in the services' databases
    campaign registry validate|load FILE    the registry of jurisdictions, units and cadres
    campaign import clues FILE ...          old clues into intake
    campaign dlq show|replay TOPIC          the dead-letter topics
    campaign lag                            consumer lag per group and topic
    campaign serve SERVICE PROCESS          run one process of a service in the foreground

`python -m services.cli ...` is the same; `python -m services.<service> PROCESS` is
`campaign serve <service> PROCESS`. The shared commands are in shared/cli.py; this module adds
those that need a service's code. A bad setting is one line and exit 2, an unreachable
dependency one line and exit 3, a bad registry file one line and exit 1 (validate) or 4 (serve,
load).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from shared.cli import cli as shared_cli
from shared.entry import BadSetting
from shared.settings import SettingsError

# The processes of each service (services/<service>/processes.py), in the order they start.
PROCESSES: dict[str, tuple[str, ...]] = {
    "intake": ("web", "consumer", "relay"),
    "assignment": ("web", "consumer", "scheduler"),
    "notify": ("web", "consumer", "deliverer"),
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def campaign() -> None:
    """Operate the campaign clue system: keys, registry, imports, dead letters, lag, processes."""


for _name, _command in shared_cli.commands.items():
    campaign.add_command(_command, _name)


@campaign.group()
def registry() -> None:
    """Check and load registry files (jurisdictions, units, cadres)."""


@registry.command("validate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def registry_validate(path: Path) -> None:
    """Check a registry YAML file; print its counts, or the first problem as `file:line: reason`."""
    from services.assignment.registry import RegistryError
    from services.assignment.registry_file import load_registry

    try:
        loaded = load_registry(path)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read: {exc.strerror or exc}") from None
    click.echo(f"OK {path}: {len(loaded.jurisdictions())} jurisdictions, {len(loaded.employers())} "
               f"employers, {len(loaded.units())} units, {len(loaded.cadres())} cadres")


@registry.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def registry_load(path: Path) -> None:
    """Validate a registry YAML file and store it in assignment's database (ASSIGNMENT_DB),
    replacing the registry there; cadres no longer listed are deactivated."""
    from services.assignment.processes import load_registry_file

    with settings_errors():
        click.echo(load_registry_file(path))


@campaign.command()
@click.argument("service", type=click.Choice(tuple(PROCESSES)), metavar="SERVICE")
@click.argument("process", type=click.Choice(sorted({p for ps in PROCESSES.values() for p in ps})),
                metavar="PROCESS")
def serve(service: str, process: str) -> None:
    """Run PROCESS of SERVICE in the foreground until SIGTERM (web serves HTTP under gunicorn).

    \b
    intake:     web, consumer, relay
    assignment: web, consumer, scheduler
    notify:     web, consumer, deliverer
    """
    if process not in PROCESSES[service]:
        raise click.BadParameter(f"{service} runs {', '.join(PROCESSES[service])}", param_hint="'PROCESS'")
    run_process(service, process)


def run_process(service: str, process: str) -> None:
    """Run one process of a service (services/<service>/processes.py) until SIGTERM."""
    module = importlib.import_module(f"services.{service}.processes")
    with settings_errors():
        module.PROCESSES[process]()


@contextmanager
def settings_errors() -> Iterator[None]:
    """Turn a SettingsError raised inside the block into `BadSetting` (one line, exit 2)."""
    try:
        yield
    except SettingsError as exc:
        raise BadSetting(str(exc)) from None


def main() -> None:
    campaign(prog_name="campaign")


def serve_main(service: str, prog: str) -> None:
    """`python -m services.<service> PROCESS`, the same as `campaign serve <service> PROCESS`."""

    @click.command(context_settings={"help_option_names": ["-h", "--help"]},
                   help=f"Run one process of {service} until SIGTERM (= campaign serve {service} PROCESS).")
    @click.argument("process", type=click.Choice(PROCESSES[service]))
    def one_service(process: str) -> None:
        run_process(service, process)

    one_service.main(prog_name=prog)


if __name__ == "__main__":
    main()
