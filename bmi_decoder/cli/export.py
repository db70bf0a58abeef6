"""``bmi-decoder export``: a trained SNN decoder as a NIR graph file."""

from __future__ import annotations

import argparse
from pathlib import Path

from snn_core.outputs import NIR, check_output

DESCRIPTION = """\
Write the SNN decoder of a checkpoint from `bmi-decoder train` as a NIR graph (Neuromorphic
Intermediate Representation, HDF5), the format that SNN frameworks (snnTorch, Norse, Lava, ...)
and neuromorphic hardware toolchains read. The graph takes one 4 ms bin of binned spikes per step
and gives the velocity in mm/s; run step by step from its reset state it reproduces the decoder
(each LIF layer is written as its exact dynamics, since NIR's LIF node resets to zero where ours
subtracts the threshold; skips are edges, see the API reference of snn_core.nir)."""

EPILOG = """\
examples:
  bmi-decoder train session.mat --decoder snn --out snn.pt
  bmi-decoder export snn.pt snn.nir"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a trained SNN decoder as a NIR graph",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", type=Path, metavar="CKPT", help="SNN checkpoint written by `bmi-decoder train`")
    parser.add_argument("out", type=Path, metavar="OUT.nir", help="NIR file to write")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bmi_decoder.export import export_checkpoint

    check_output(args.out, "OUT.nir", [args.checkpoint], kind=NIR)
    graph = export_checkpoint(args.checkpoint, args.out)
    print(f"wrote {args.out}: {len(graph.nodes)} nodes, {len(graph.edges)} edges")
    return 0
