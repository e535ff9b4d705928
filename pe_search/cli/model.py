"""`pe-search model`: load a checkpoint and show what it can do."""

from __future__ import annotations

import click

from pe_search.cli.output import emit_json, json_option
from pe_search.models.spaces import SPACES


@click.command("model")
@click.argument("source", metavar="ID_OR_DIR")
@click.option("--device", default=None, help="cpu or cuda (default: cuda when available).")
@click.option("--bf16", is_flag=True, help="Run in bfloat16 (faster on GPUs and AVX-512 bf16 CPUs).")
@json_option
def model_command(source: str, device: str | None, bf16: bool, as_json: bool) -> None:
    """Load a PE checkpoint (hub id or local directory) and list its embedding spaces."""
    from pe_search.models.encoder import PeEncoder

    encoder = PeEncoder.from_pretrained(source, device=device, dtype="bfloat16" if bf16 else None)
    info = {
        "source": source,
        "kind": encoder.kind,
        "dim": encoder.dim,
        "device": str(encoder.device),
        "dtype": str(encoder.dtype).removeprefix("torch."),
        "embeddings": list(encoder.embeddings),
        "spaces": {
            name: {
                "query": SPACES[name].query,
                "target": SPACES[name].target,
                "logit_scale": encoder.calibration(name).scale,
                "logit_bias": encoder.calibration(name).bias,
            }
            for name in encoder.spaces
        },
        "frame_seconds": encoder.frame_seconds if encoder.audio_tower is not None else None,
        "config_sha256": encoder.identity.config_sha256,
        "weights_sha256": encoder.identity.weights_sha256,
    }
    if as_json:
        emit_json(info)
        return
    click.echo(
        f"{source}: {encoder.kind} checkpoint, {encoder.dim}-d embeddings on {info['device']} ({info['dtype']})"
    )
    for name, space in info["spaces"].items():
        click.echo(
            f"  {name:<18} {space['query']} -> {space['target']}"
            f"   p = sigmoid(dot * {space['logit_scale']:.4g} + {space['logit_bias']:.4g})"
        )
