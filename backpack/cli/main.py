"""The ``backpack`` command line.

Commands are loaded lazily (``name -> module:attribute``) so that ``backpack inspect`` and the
other store commands never import torch or DGL: only the command that runs is imported.
Exit codes: 0 ok, 1 failed check, 2 usage error.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute"; each module keeps heavy imports inside its command functions.
COMMANDS: dict[str, str] = {
    # store: numpy/zarr/faiss only
    "inspect": "backpack.cli.store_cmds:inspect_cmd",
    "log": "backpack.cli.store_cmds:log_cmd",
    "tag": "backpack.cli.store_cmds:tag_cmd",
    "verify": "backpack.cli.store_cmds:verify_cmd",
    "gc": "backpack.cli.gc_cmd:gc_cmd",
    "diff": "backpack.cli.store_cmds:diff_cmd",
    "export": "backpack.cli.store_cmds:export_cmd",
    "import": "backpack.cli.store_cmds:import_cmd",
    "query": "backpack.cli.store_cmds:query_cmd",
    # data and model
    "synth": "backpack.cli.data_cmds:synth_cmd",
    "train": "backpack.cli.train_cmds:train_cmd",
    "evaluate": "backpack.cli.evaluate_cmd:evaluate_cmd",
    "predict": "backpack.cli.predict_cmd:predict_cmd",
    # backpack building and the novel-task learner
    "build": "backpack.cli.build_cmd:build_cmd",
    "learn": "backpack.cli.learn_cmds:learn_cmd",
    "explain": "backpack.cli.figure_cmds:explain_cmd",
    "curves": "backpack.cli.figure_cmds:curves_cmd",
    "demo": "backpack.cli.demo_cmd:demo_cmd",
}


class LazyGroup(click.Group):
    """A click group whose commands are imported only when used; a mistyped name gets a suggestion."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS:
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=2, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint} See 'backpack --help' for the commands.")
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("backpack"):
                return None  # not part of this build
            raise click.ClickException(
                f"Command {cmd_name!r} needs the package {exc.name!r}, which is not installed."
            ) from None
        cmd = getattr(module, attr)
        if cmd.short_help is None and cmd.help:
            # click's own summary stops at the first ". " ("EgoPack, eq." / "Fig."): use the whole
            # first paragraph instead (click then wraps it, never cuts it)
            first = cmd.help.split("\n\n")[0]
            cmd.short_help = " ".join(first.replace("\b", "").split())
        return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="backpack")
def cli() -> None:
    """backpack: a versioned store of task prototypes, and a learner that uses it (EgoPack).

    \b
    Examples:
      backpack synth --out data/                 # a synthetic Ego4D-format dataset
      backpack train --data data/ --tasks ar,lta,pnr --out runs/mtl
      backpack build runs/mtl --data data/ --store store/
      backpack inspect store/
      backpack learn --task oscc --data data/ --from runs/mtl --store store/ --out runs/oscc
      backpack predict runs/mtl --data data/ --split test --out submission/
      backpack demo                              # the whole story, in minutes
    """


if __name__ == "__main__":  # pragma: no cover
    cli()
