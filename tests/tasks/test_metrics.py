"""Every registered metric against a hand-computed case or a reference library."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from honed.tasks.metrics import get_metric, list_metrics

LN2 = math.log(2)
DEPTH_GT = torch.tensor([[1.0, 2.0], [4.0, 100.0]])  # 100 is beyond max_depth=80: not a valid pixel
DEPTH_PRED = torch.tensor([[2.0, 2.0], [2.5, 5.0]])  # valid pairs (pred, gt): (2, 1), (2, 2), (2.5, 4)
SEG_PRED = torch.tensor([[[0, 1], [2, 2]]])
SEG_GT = torch.tensor([[[0, 1], [1, 255]]])  # 255 is ignored
LOGITS = torch.tensor(
    [[2, 1, 0.5, 0.4, 0.3, 0.2], [0.1, 3, 1, 0.5, 0.4, 0.3], [0.1, 0.2, 0.3, 1, 5, 0.4], [6.0, 5, 4, 3, 2, 1]]
)
LOGLIK = [[-1.0, -2.0], [-5.0, -3.0], [-2.0, -2.5]]
E = torch.eye(3)

# name: (predictions, references, options, expected value worked out by hand)
CASES = {
    # "the cat sat on the mat" -> "the cat sit on mat": 1 substitution + 1 deletion over 8 reference words.
    "wer": (["the cat sit on mat", "hello world"], ["the cat sat on the mat", "hello world"], {}, 2 / 8),
    # 1- to 4-gram precisions 5/6 ("the" clipped to once), 3/5, 2/4, 1/3; equal lengths: no brevity penalty.
    "bleu": (["the cat sat on the mat"], ["the cat sat on a mat"], {}, 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25),
    "cer": (["abxd", "e"], ["abcd", "ef"], {}, 2 / 6),
    # p(target) = 3/4 then 1/2: exp(mean(ln 4/3, ln 2)) = sqrt(8/3); the -100 target is ignored.
    "perplexity": (
        torch.tensor([[[math.log(3), 0.0], [0.0, 0.0], [5.0, 0.0]]]),
        torch.tensor([[0, 1, -100]]),
        {},
        math.sqrt(8 / 3),
    ),
    "abs_rel": (DEPTH_PRED, DEPTH_GT, {}, (1 + 0 + 1.5 / 4) / 3),
    "sq_rel": (DEPTH_PRED, DEPTH_GT, {}, (1 + 0 + 2.25 / 4) / 3),
    "rmse": (DEPTH_PRED, DEPTH_GT, {}, math.sqrt((1 + 0 + 2.25) / 3)),
    "rmse_log": (DEPTH_PRED, DEPTH_GT, {}, math.sqrt((LN2**2 + 0 + math.log(1.6) ** 2) / 3)),
    "delta1": (DEPTH_PRED, DEPTH_GT, {}, 1 / 3),  # ratios 2, 1, 1.6
    "delta2": (DEPTH_PRED, DEPTH_GT, {}, 1 / 3),  # 1.25^2 = 1.5625
    "delta3": (DEPTH_PRED, DEPTH_GT, {}, 2 / 3),  # 1.25^3 = 1.953
    # IoU: class 0 1/1, class 1 1/2, class 2 0/1, class 3 absent (left out).
    "miou": (SEG_PRED, SEG_GT, {"num_classes": 4}, (1 + 0.5 + 0) / 3),
    "pixel_accuracy": (SEG_PRED, SEG_GT, {"num_classes": 4}, 2 / 3),
    "top1": (LOGITS, torch.tensor([0, 2, 4, 5]), {}, 2 / 4),
    "top5": (LOGITS, torch.tensor([0, 2, 4, 5]), {}, 3 / 4),  # the last item's label has the lowest score
    "mc_accuracy": (LOGLIK, [0, 1, 1], {}, 2 / 3),
    # per byte: (-1, -0.5) -> 1 (gold 0); (-2.5, -3) -> 0 (gold 1); (-2, -0.25) -> 1 (gold 1)
    "mc_accuracy_norm": (LOGLIK, [0, 1, 1], {"choices": [["a", "bbbb"], ["cc", "d"], ["e", "ffffffffff"]]}, 1 / 3),
    "top1_agreement": (torch.tensor([[1.0, 0], [0, 1], [1, 2]]), torch.tensor([[2.0, 0], [1, 0], [0, 3]]), {}, 2 / 3),
    "output_cosine": (
        torch.tensor([[1.0, 0], [1, 1]]),
        torch.tensor([[1.0, 0], [1, 0]]),
        {},
        (1 + 1 / math.sqrt(2)) / 2,
    ),
    # query 1 points at document 2 first, its own document second.
    "recall_at_k": (torch.stack([E[0], E[2] + 0.5 * E[1], E[2]]), E, {"k": 1}, 2 / 3),
}


def _kl_reference() -> tuple:
    # 2 x 300 rows: the metric works in blocks of 256 rows, so this spans three blocks and two items.
    rng = np.random.default_rng(0)
    base, optimised = rng.normal(size=(2, 300, 7)), rng.normal(size=(2, 300, 7))
    softmax = lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)  # noqa: E731
    rows = zip(base.reshape(-1, 7), optimised.reshape(-1, 7))
    expected = np.mean([entropy(softmax(b), softmax(o)) for b, o in rows])
    return torch.tensor(optimised), torch.tensor(base), {}, expected


CASES["logits_kl"] = _kl_reference()


def _chrf_by_hand(hypothesis: str, reference: str, order: int = 6, beta: float = 2.0) -> float:
    """chrF by its definition (Popovic 2015): character n-gram precision and recall averaged over
    orders 1-6, spaces dropped, combined as an F-score that weighs recall beta times."""
    hypothesis, reference = hypothesis.replace(" ", ""), reference.replace(" ", "")
    precisions, recalls = [], []
    for n in range(1, order + 1):
        ours = Counter(hypothesis[i : i + n] for i in range(len(hypothesis) - n + 1))
        theirs = Counter(reference[i : i + n] for i in range(len(reference) - n + 1))
        matched = sum((ours & theirs).values())
        precisions.append(matched / sum(ours.values()))
        recalls.append(matched / sum(theirs.values()))
    p, r = sum(precisions) / order, sum(recalls) / order
    return 100 * (1 + beta**2) * p * r / (beta**2 * p + r)


CASES["chrf"] = (["abcdefg hij"], ["abcdxfg hik"], {}, _chrf_by_hand("abcdefg hij", "abcdxfg hik"))


def _harnessed():
    from honed.tasks.lm_eval_task import Harnessed

    return Harnessed(4, dict(HARNESSED))


# lm-eval computes these itself (tests/tasks/test_lm_eval.py checks them against its own model);
# honed passes its aggregates on, each under its own name.
HARNESSED = {"acc": 0.5, "acc_norm": 0.75, "word_perplexity": 31.5, "byte_perplexity": 2.25}
HARNESSED |= {"bits_per_byte": 1.17, "exact_match": 0.25}
for _name, _value in HARNESSED.items():
    CASES[_name] = (_harnessed(), None, {}, _value)


def test_every_registered_metric_has_a_checked_case():
    # honed's own metrics; other test modules register their own (checked where they are defined).
    assert {m.name for m in list_metrics() if m.compute.__module__.startswith("honed.")} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_metric_matches_its_reference(name):
    predictions, references, options, expected = CASES[name]
    metric = get_metric(name)
    assert metric.unit is not None and metric.reference
    assert metric(predictions, references, **options) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_depth_metrics_average_per_image_not_per_pixel():
    gt = torch.tensor([[[1.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]]])  # image 2 has one valid pixel
    pred = torch.tensor([[[1.0, 1.0], [1.0, 1.0]], [[2.0, 9.0], [9.0, 9.0]]])
    assert get_metric("abs_rel")(pred, gt) == pytest.approx((0 + 1) / 2)  # pooled pixels would give 1/5
    with pytest.raises(ValueError, match="no valid pixels"):
        get_metric("rmse")(pred, torch.zeros_like(gt))


def test_recall_grows_with_k():
    predictions, references, _, _ = CASES["recall_at_k"]
    assert get_metric("recall_at_k")(predictions, references, k=2) == pytest.approx(1.0)


def test_direction_decides_what_a_drop_is():
    assert get_metric("wer").objective.drop(0.10, 0.12) == pytest.approx(0.2)  # more errors: worse
    assert get_metric("top1").objective.drop(0.80, 0.76) == pytest.approx(0.05)
    assert get_metric("top1").objective.drop(0.80, 0.84) < 0 and get_metric("wer").objective.beats(0.08, 0.1)
    assert get_metric("top1").objective.drop(0.80, 0.76, relative=False) == pytest.approx(0.04)


@pytest.mark.slow
def test_users_register_their_own_metrics():
    code = (
        "from honed.tasks.metrics import register_metric, get_metric\n"
        "@register_metric('same_string', 'higher', 'fraction', 'identical strings', 'hand')\n"
        "def exact(p, r): return sum(a == b for a, b in zip(p, r)) / len(r)\n"
        "print(get_metric('same_string')(['a', 'b'], ['a', 'c']))\n"
        "try:\n    get_metric('same_strng')\nexcept KeyError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[0] == "0.5" and "did you mean 'same_string'" in done.stdout
