"""`crosstask export`: a trained classifier in a standard format that computes exactly its scores (a thin shell over
`crosstask.api.export`). `register(commands)` adds the command to a subparsers object."""

from __future__ import annotations

import argparse
from pathlib import Path

from crosstask.api.export import ATOL, FORMATS, export_cross_encoder
from crosstask.core.errors import ValidationError


def cmd_export(args: argparse.Namespace) -> None:
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise ValidationError("--output", f"{output} is not a directory")
    if output.is_dir() and any(output.iterdir()) and not args.overwrite:
        raise ValidationError("--output", f"{output} is not empty; pass --overwrite to replace it")
    written = export_cross_encoder(args.model, output, overwrite=args.overwrite)
    print(f"wrote a sentence-transformers CrossEncoder to {written} (checked against the classifier: P(correct) "
          f"equal within {ATOL:g}); feed it crosstask's rendered prompt as one string, see {written / 'README.md'}")


def register(commands) -> argparse.ArgumentParser:
    """Add the `export` command."""
    parser = commands.add_parser(
        "export", help="export a trained classifier in a standard format (sentence-transformers CrossEncoder)",
        description="Write a crosstask classifier as an exactly equivalent standard model: --format cross-encoder "
                    "gives a sentence-transformers CrossEncoder (Transformer -> Pooling -> Dense to 2 logits) whose "
                    "softmax column 1 equals the classifier's P(correct) on crosstask's rendered prompt, checked "
                    "numerically before it is written. Shared-context classifiers have no exact equivalent and are "
                    "refused.")
    parser.add_argument("model", help="a saved classifier: model directory, training run (best/, final/) or hub id")
    parser.add_argument("--format", choices=FORMATS, default="cross-encoder",
                        help="target format (default: cross-encoder)")
    parser.add_argument("--output", required=True, help="directory to write the exported model to")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --output")
    parser.set_defaults(func=cmd_export)
    return parser
