"""Command-line options that more than one command takes, written once (typer reads the
``Annotated`` metadata). A command's own options stay beside the command (commands.py, optimize.py, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Store = Annotated[
    Optional[str],
    typer.Option("--store", help="SQLAlchemy URL or SQLite path [env HONED_STORE; default sqlite:///honed.db]"),
]
Model = Annotated[Optional[str], typer.Option(help="model source: path, hub id or package.module:function")]
Kind = Annotated[
    Optional[str],
    typer.Option(
        help="adapter: torch, factory, transformers, sentence-transformers, onnx, openvino, gguf, ctranslate2, honed "
        "(may be left out for a directory `honed optimize -o` wrote)"
    ),
]
Repetitions = Annotated[Optional[int], typer.Option(help="worker processes per batch size")]
Device = Annotated[Optional[str], typer.Option(help="cpu, cuda or auto")]
SeqLen = Annotated[Optional[int], typer.Option(help="tokens per item for language models")]
Shape = Annotated[Optional[str], typer.Option(help="per-item input shape for plain torch/ONNX models, e.g. 3x224x224")]
PricePerHour = Annotated[
    Optional[float], typer.Option(help="USD per hour, for cost per million inferences (and --objective cost)")
]
AllowPickle = Annotated[bool, typer.Option(help="allow loading pickle files (they can run code)")]
TrustCode = Annotated[
    bool,
    typer.Option(
        help="run code that the model's files name (a saved model's factory, transformers' remote code); "
        "see SECURITY.md"
    ),
]
AgreementInputs = Annotated[
    Optional[Path],
    typer.Option(
        help="inputs for the agreement guardrail: a .npy array (items on axis 0), a .txt file (one text per line) "
        'or .jsonl ({"text": ...}); default: the run\'s synthetic inputs'
    ),
]
Name = Annotated[Optional[str], typer.Option(help="a label for the run or sweep")]
DryRun = Annotated[
    bool, typer.Option(help="check the spec, model, task, recipe or candidates, then stop before any worker")
]
FailOnRegression = Annotated[
    bool, typer.Option(help="exit 5 when a performance metric got significantly worse or a quality metric got worse")
]
MinEffect = Annotated[
    float,
    typer.Option(help="smallest relative change called significant (raise it where timing is noisy, e.g. shared CI)"),
]
TaskData = Annotated[
    Optional[Path],
    typer.Option(
        help="your own data for --task: text-embedding a .jsonl of {query, passage}; language-modeling a .txt "
        "(one text per line) or .jsonl of {text}; multiple-choice a Hellaswag-format .jsonl; translation a .jsonl "
        "of {source, target}; speech-recognition a .jsonl of {audio: a WAV path, text}; image-classification "
        "a folder per class of images; semantic-segmentation a folder with images/ and masks/; "
        "depth-estimation a folder with images/ and depths/"
    ),
]
Json = Annotated[bool, typer.Option("--json", help="write machine-readable JSON to stdout instead of tables")]
Scope = Annotated[Optional[str], typer.Option(help="model, pipeline or generate (causal LMs: first token, per token)")]
NewTokens = Annotated[Optional[int], typer.Option(help="tokens per call in the generate scope")]
Fresh = Annotated[bool, typer.Option(help="measure every trial again instead of reusing stored ones")]
