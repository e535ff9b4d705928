"""The `pe-search` command. Each command group lives in its own module; this one wires them."""

from __future__ import annotations

import gc
import importlib
import logging
import sys

import click

from pe_search.cli.output import fail
from pe_search.errors import PeSearchError, cli_spelling


class _Group(click.Group):
    """Turns a user's mistake into one line and exit code 1, never a traceback: a PeSearchError
    from a command, and what click's parser refuses (an unknown choice, a bad date, a missing
    folder, a range) alike, with the JSON error object under --json.

    Commands registered with `add_lazy` are imported when they are run (or listed by --help):
    `pe-search status` then loads its own module, not every command's (search's results, the
    media tools, the server), which at a million files was most of its second (issue 24)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, str] = {}  # command name -> "module:attribute"

    def add_lazy(self, name: str, where: str) -> None:
        self.lazy[name] = where

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in self.lazy:
            module, attribute = self.lazy[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:  # bare `pe-search`: the help, as click shows it
            click.echo(error.ctx.get_help() if error.ctx is not None else error.format_message())
            sys.exit(0)
        except click.UsageError as error:
            command = error.ctx.command_path if error.ctx is not None else "pe-search"
            message = " ".join(error.format_message().split())
            fail(f"{message} (see `{command} --help`)", as_json="--json" in argv)
        except click.Abort:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except click.ClickException as error:  # click's file errors and the like
            fail(" ".join(error.format_message().split()), as_json="--json" in argv)
        if args is None:  # the process's own command (not a caller's, as click's CliRunner)
            # The answer is out: what is still alive (torch's and transformers' modules after a
            # search) is left to the process's end, not walked by the collector at shutdown,
            # which took about a second after a search's last line (issue 24, item 5).
            gc.freeze()
        sys.exit(code if isinstance(code, int) else 0)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["pe_search.wants_json"] = "--json" in args  # before click splits the arguments up
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        wants_json = ctx.meta.get("pe_search.wants_json", False)
        try:
            return super().invoke(ctx)
        except PeSearchError as error:
            fail(error.worded(cli_spelling), as_json=wants_json)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pe-search")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Search your own audio and video by meaning with Perception Encoder Audio-Visual models."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


cli.add_lazy("demo", "pe_search.cli.demo:demo_command")
cli.add_lazy("model", "pe_search.cli.model:model_command")
cli.add_lazy("index", "pe_search.cli.index:index_command")
cli.add_lazy("status", "pe_search.cli.status:status_command")
cli.add_lazy("compact", "pe_search.cli.status:compact_command")
cli.add_lazy("search", "pe_search.cli.search:search_command")
cli.add_lazy("locate", "pe_search.cli.search:locate_command")
cli.add_lazy("clip", "pe_search.cli.clip:clip_command")
cli.add_lazy("duplicates", "pe_search.cli.duplicates:duplicates_command")
cli.add_lazy("events", "pe_search.cli.events:events_command")
cli.add_lazy("serve", "pe_search.cli.serve:serve_command")
cli.add_lazy("mcp", "pe_search.cli.mcp:mcp_command")
cli.add_lazy("watch", "pe_search.cli.watch:watch_command")
cli.add_lazy("tags", "pe_search.cli.tags:tags_command")
cli.add_lazy("transcript", "pe_search.cli.transcript:transcript_command")
