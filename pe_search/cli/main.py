"""The `pe-search` command. Each command group lives in its own module; this one wires them."""

from __future__ import annotations

import logging
import sys

import click

from pe_search.cli.clip import clip_command
from pe_search.cli.demo import demo_command
from pe_search.cli.duplicates import duplicates_command
from pe_search.cli.events import events_command
from pe_search.cli.index import index_command
from pe_search.cli.mcp import mcp_command
from pe_search.cli.model import model_command
from pe_search.cli.output import fail
from pe_search.cli.search import locate_command, search_command
from pe_search.cli.serve import serve_command
from pe_search.cli.status import compact_command, status_command
from pe_search.cli.tags import tags_command
from pe_search.cli.transcript import transcript_command
from pe_search.cli.watch import watch_command
from pe_search.errors import PeSearchError, cli_spelling


class _Group(click.Group):
    """Turns a user's mistake into one line and exit code 1, never a traceback: a PeSearchError
    from a command, and what click's parser refuses (an unknown choice, a bad date, a missing
    folder, a range) alike, with the JSON error object under --json."""

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


cli.add_command(demo_command)
cli.add_command(model_command)
cli.add_command(index_command)
cli.add_command(status_command)
cli.add_command(compact_command)
cli.add_command(search_command)
cli.add_command(transcript_command)
cli.add_command(locate_command)
cli.add_command(clip_command)
cli.add_command(duplicates_command)
cli.add_command(events_command)
cli.add_command(serve_command)
cli.add_command(mcp_command)
cli.add_command(watch_command)
cli.add_command(tags_command)
