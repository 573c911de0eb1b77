"""Perplexity as llama-perplexity computes it: one token stream cut into windows, BOS at each
window's start, the second half scored; WikiText-2's raw file read whole, as laid out on disk."""

from __future__ import annotations

import math

import pytest
import torch

from honed.core.errors import SpecError
from honed.core.protocol import ModelRef, TaskSpec
from honed.models import load_model
from honed.tasks.base import build_task, evaluate_quality
from honed.tasks.perplexity_windows import windows

# WikiText-2's own layout: a space at each line's start and end, headings as " = Title = ".
WIKI = "\n".join(
    [
        " ",
        " = Valkyria Chronicles III = ",
        " ",
        " Senjō no Valkyria 3 : Unrecorded Chronicles is a tactical role @-@ playing video game developed by Sega and "
        "Media.Vision for the PlayStation Portable . ",
        " The game began development in 2010 , carrying over a large portion of the work done on Valkyria Chronicles "
        "II . ",
        " ",
        " = = Gameplay = = ",
        " ",
        " As with previous Valkyira Chronicles games , Valkyria Chronicles III is a tactical role @-@ playing game "
        "where players take control of a military unit and take part in missions against enemy forces . ",
        "",
    ]
)


class BosScorer:
    """A tokenizer that puts BOS (1) before every text: one id per character, offset by 10."""

    def token_ids(self, text: str, special_tokens: bool = True) -> list[int]:
        return ([1] if special_tokens else []) + [10 + ord(c) % 50 for c in text]


def test_windows_start_with_bos_and_drop_the_remainder():
    text = "abcdefghij" * 5  # 50 characters, 51 ids with BOS
    found = windows(BosScorer(), text, 16)
    assert len(found) == 3 and all(len(w) == 16 and w[0] == 1 for w in found)
    stream = BosScorer().token_ids(text)
    assert found[1][1:] == stream[17:32] and found[0] == stream[:16]  # the token BOS replaced is not scored


def test_a_wikitext_directory_is_scored_in_windows_as_llama_perplexity_does(tmp_path, tiny_llama_dir):
    folder = tmp_path / "wikitext-2-raw"
    folder.mkdir()
    (folder / "wiki.test.raw").write_text(WIKI, encoding="utf-8")
    task = build_task(TaskSpec(name="language-modeling", options={"data": str(folder), "context": 32}))
    handle = load_model(ModelRef(kind="transformers", source=str(tiny_llama_dir)))
    result = evaluate_quality(task, handle)

    # By hand: the file's tokens in windows of 32 (MiniLM's tokenizer adds [CLS] and [SEP], no
    # single BOS: the windows keep their first token), positions 16..30 predicting 17..31.
    ids = handle.tokenizer(WIKI)["input_ids"]
    nll, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids) // 32 * 32, 32):
            window = ids[start : start + 32]
            logits = handle.module(input_ids=torch.tensor([window])).logits[0].float()
            log_probs = torch.log_softmax(logits[16:31], dim=-1)
            nll -= log_probs[torch.arange(15), torch.tensor(window[17:32])].sum().item()
            count += 15
    assert len(ids) // 32 >= 3 and task.texts_scored == len(ids) // 32
    assert result.values["perplexity"] == pytest.approx(math.exp(nll / count), rel=1e-4)
    assert "windows of 32 tokens" in task.agreement_items(45)


@pytest.mark.parametrize("context", [15, 8, 10**6, True])
def test_a_window_size_out_of_range_is_refused_naming_the_field(context):
    with pytest.raises(SpecError, match="task.options.context"):
        build_task(TaskSpec(name="language-modeling", options={"context": context}))


def test_a_text_shorter_than_one_window_is_refused(tmp_path):
    short = tmp_path / "wiki.test.raw"
    short.write_text(" = Short = \n")
    task = build_task(TaskSpec(name="language-modeling", options={"data": str(short)}))
    assert task.context == 512
    with pytest.raises(SpecError, match="one window at least"):
        windows(BosScorer(), "\n".join(task.texts), task.context)
