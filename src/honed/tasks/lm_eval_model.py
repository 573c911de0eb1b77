"""A honed model handle as lm-evaluation-harness's ``LM``, so lm-eval's own tasks, prompts and
metrics score it. It extends lm-eval's ``TemplateLM``, which tokenises each (context,
continuation) pair as lm-eval's Hugging Face model does (the whole text encoded, then split);
honed supplies the tokens' log-probabilities through ``as_scorer``: the torch model, or any
runtime whose handle scores tokens. lm-eval is imported when a task runs (the ``lm-eval`` extra)."""

from __future__ import annotations

from typing import Any

import torch

from honed.models.capabilities import as_scorer
from honed.models.handle import ModelHandle

MAX_LENGTH = 2048  # tokens a scored window keeps (the left end is dropped), as lm-eval's max_length


def harness_model(handle: ModelHandle) -> Any:
    """``handle`` wrapped as an ``lm_eval.api.model.TemplateLM`` (log-likelihood requests only)."""
    from lm_eval.api.model import TemplateLM

    scorer = as_scorer(handle)
    eos = getattr(getattr(handle, "tokenizer", None), "eos_token_id", None)

    class HonedLM(TemplateLM):  # type: ignore[misc]  # lm-eval ships no type information
        @property
        def eot_token_id(self) -> int | None:
            return eos

        def tok_encode(self, string: str, add_special_tokens: bool = False, **_: Any) -> list[int]:
            return scorer.token_ids(string, special_tokens=add_special_tokens)

        def _loglikelihood_tokens(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
            scored = []
            with handle.inference_context():
                for _, context, continuation in requests:
                    # The tokens lm-eval's Hugging Face model feeds: all but the last, the window's left end cut.
                    ids = (context + continuation)[-(MAX_LENGTH + 1) :][:-1]
                    logits = torch.as_tensor(scorer.next_token_logits(ids)).float()
                    log_probs = torch.log_softmax(logits[len(ids) - len(continuation) :], dim=-1)
                    target = torch.tensor(continuation, device=log_probs.device)
                    total = log_probs.gather(1, target[:, None]).sum().item()
                    scored.append((total, bool((log_probs.argmax(-1) == target).all())))
            return scored

        def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
            raise NotImplementedError("honed runs lm-eval's log-likelihood tasks (multiple choice) so far")

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
            raise NotImplementedError("honed runs lm-eval's log-likelihood tasks (multiple choice) so far")

    return HonedLM()
