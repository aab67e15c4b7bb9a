"""Generate the CLI reference (docs/cli-reference.md) from the commands' own --help.

``scripts/gen_cli_reference.py`` writes it; ``tests/foundation/test_docs.py`` fails when the
committed file differs, so no command goes undocumented.
"""

from __future__ import annotations

import click


def _walk(cmd: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    out = [(path, cmd)]
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd, info_name=path[-1] if path else "phonotheque")
        for name in sorted(cmd.list_commands(ctx)):  # loads lazily registered commands too
            sub = cmd.get_command(ctx, name)
            if sub is not None:
                out.extend(_walk(sub, [*path, name]))
    return out


def command_paths(root: click.Command) -> list[list[str]]:
    return [path for path, _ in _walk(root, [])]


def render(root: click.Command, prog: str = "phonotheque") -> str:
    lines = [
        "# CLI reference",
        "",
        "Generated from `--help` by `make docs` (scripts/gen_cli_reference.py). Do not edit by hand.",
        "",
    ]
    contexts: dict[tuple[str, ...], click.Context] = {}
    for path, cmd in _walk(root, []):
        name = " ".join([prog, *path])
        parent = contexts.get(tuple(path[:-1])) if path else None
        settings = {"terminal_width": 100, "max_content_width": 100, **cmd.context_settings}
        ctx = click.Context(cmd, info_name=path[-1] if path else prog, parent=parent, **settings)
        contexts[tuple(path)] = ctx
        formatter = click.HelpFormatter(width=100, max_width=100)  # independent of $COLUMNS
        cmd.format_help(ctx, formatter)
        lines += [f"## `{name}`", "", "```", formatter.getvalue().rstrip(), "```", ""]
    return "\n".join(lines)
