"""`io-relay topics create|check`: the topics a configuration needs, made or verified.

Exit codes: 0 every topic as io-relay needs it; 1 problems found (each on its own line);
2 cannot run (an invalid configuration, brokers unreachable, a refusal).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from consumer.config import load_settings
from consumer.errors import FatalError
from consumer.operations.topics import Topics, WantedTopic, problems_with, wanted_topics

Action = Callable[[Topics, list[WantedTopic]], None]
EXIT_PROBLEMS = 1
EXIT_FATAL = 2

topics_app = typer.Typer(
    help="Create or check the topics the configuration names.", no_args_is_help=True
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML configuration; IO_RELAY_* variables override it."),
]


@topics_app.command("create")
def create(
    *,
    config: ConfigOption = None,
    partitions: Annotated[
        int, typer.Option(min=1, help="Partitions of each topic created: the most replicas.")
    ] = 3,
    replication_factor: Annotated[
        int, typer.Option(min=-1, help="Replicas of each partition; -1: the broker's default.")
    ] = -1,
) -> None:
    """Create the missing topics (compacted where io-relay needs it), then check them all.

    Topics that exist are left as they are: run it as often as you like."""

    def act(topics: Topics, wanted: list[WantedTopic]) -> None:
        held = topics.held(topic.name for topic in wanted)
        missing = [topic for topic in wanted if topic.name not in held]
        for name in topics.create(missing, partitions, replication_factor):
            typer.echo(f"created {name}")
        for topic in wanted:
            if topic.name in held:
                typer.echo(f"exists  {topic.name}")

    _run(config, act)


@topics_app.command("check")
def check(*, config: ConfigOption = None) -> None:
    """Report every topic that is missing or set up in a way io-relay cannot work with."""
    _run(config, lambda _topics, _wanted: None)


def _run(config: Path | None, act: Action) -> None:
    try:
        settings = load_settings(config)
        topics = Topics(settings)
        wanted = wanted_topics(settings)
        act(topics, wanted)
        held = topics.held(topic.name for topic in wanted)
    except FatalError as exc:
        typer.echo(f"io-relay topics: {exc}", err=True)
        raise typer.Exit(EXIT_FATAL) from None
    problems = problems_with(wanted, held)
    for topic in wanted:
        found = held.get(topic.name)
        if found is not None:
            typer.echo(
                f"{topic.role:<8} {topic.name}: {found.partitions} partitions, "
                f"cleanup.policy={found.policy}"
            )
    for problem in problems:
        typer.echo(f"problem: {problem}")
    if problems:
        raise typer.Exit(EXIT_PROBLEMS)
