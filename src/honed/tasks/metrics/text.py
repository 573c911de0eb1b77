"""Speech and language metrics: WER and CER (jiwer), chrF and BLEU (sacrebleu), perplexity (torchmetrics)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from honed.tasks.metrics.registry import register_metric


@register_metric(
    "wer", "lower", "fraction", "word error rate over the corpus: (S + D + I) / reference words", "jiwer.wer"
)
def word_error_rate(predictions: Sequence[str], references: Sequence[str]) -> float:
    import jiwer

    return jiwer.wer(list(references), list(predictions))


@register_metric("cer", "lower", "fraction", "character error rate over the corpus", "jiwer.cer")
def character_error_rate(predictions: Sequence[str], references: Sequence[str]) -> float:
    import jiwer

    return jiwer.cer(list(references), list(predictions))


@register_metric(
    "chrf",
    "higher",
    "",
    "character n-gram F-score over the corpus (orders 1-6, recall weighted by beta 2, spaces dropped), 0-100",
    "sacrebleu.corpus_chrf",
)
def chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    import sacrebleu

    return sacrebleu.corpus_chrf(list(predictions), [list(references)]).score


@register_metric(
    "bleu",
    "higher",
    "",
    "corpus BLEU (1-4-gram precisions, brevity penalty, the 13a tokenizer), 0-100",
    "sacrebleu.corpus_bleu",
)
def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    import sacrebleu

    return sacrebleu.corpus_bleu(list(predictions), [list(references)]).score


@register_metric(
    "perplexity",
    "lower",
    "",
    "exp(mean negative log-likelihood per target token); -100 targets ignored",
    "torchmetrics.text.Perplexity",
)
def perplexity(predictions: torch.Tensor, references: torch.Tensor, ignore_index: int = -100) -> float:
    from torchmetrics.text import Perplexity

    return Perplexity(ignore_index=ignore_index)(predictions.float(), references).item()
