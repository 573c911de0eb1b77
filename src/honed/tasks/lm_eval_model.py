"""A honed model handle as lm-evaluation-harness's ``LM``, so lm-eval's own tasks, prompts and
metrics score it. It extends lm-eval's ``TemplateLM``, which tokenises each (context,
continuation) pair as lm-eval's Hugging Face model does (the whole text encoded, then split);
honed supplies the tokens' log-probabilities through ``as_scorer``: the torch model, or any
runtime whose handle scores tokens. All three kinds of request, as lm-eval's ``HFLM`` serves them:
log-likelihoods (multiple choice), rolling log-likelihoods (perplexity tasks: a document in
disjoint windows of ``MAX_LENGTH`` tokens, lm-eval's own window functions) and greedy generation
until a stop string (through the handle's ``SequenceDecoder``, so GGUF and OpenVINO generate too).
lm-eval is imported when a task runs (the ``lm-eval`` extra)."""

from __future__ import annotations

from typing import Any

import torch

from honed.core.errors import SpecError
from honed.models.capabilities import as_scorer, as_text_decoder
from honed.models.handle import ModelHandle

MAX_LENGTH = 2048  # tokens a scored window keeps (the left end is dropped), as lm-eval's max_length
MAX_GENERATED = 256  # lm-eval's max_gen_toks where a task does not say


def harness_model(handle: ModelHandle) -> Any:
    """``handle`` wrapped as an ``lm_eval.api.model.TemplateLM`` (log-likelihood requests only)."""
    from lm_eval.api.model import TemplateLM

    scorer = as_scorer(handle)
    tokenizer = getattr(handle, "tokenizer", None)
    eos = getattr(tokenizer, "eos_token_id", None)
    bos = getattr(tokenizer, "bos_token_id", None)

    class HonedLM(TemplateLM):  # type: ignore[misc]  # lm-eval ships no type information
        @property
        def eot_token_id(self) -> int | None:
            return eos

        @property
        def prefix_token_id(self) -> int | None:
            return bos if bos is not None else eos  # what an empty context is scored after, as HFLM does

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
            from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

            totals = []
            for (text,) in (request.args for request in requests):
                windows = get_rolling_token_windows(
                    token_list=self.tok_encode(text),
                    prefix_token=self.prefix_token_id,
                    max_seq_len=MAX_LENGTH,
                    context_len=1,
                )
                pieces = [(None, *make_disjoint_window(window)) for window in windows]
                totals.append(sum(total for total, _ in self._loglikelihood_tokens(pieces)))
            return totals

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
            from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs, postprocess_generated_text

            tokenizer = as_text_decoder(handle).tokenizer
            end = tokenizer.decode([eos], skip_special_tokens=False) if eos is not None else None
            texts = []
            for context, options in (request.args for request in requests):
                options = normalize_gen_kwargs(options, MAX_GENERATED)
                if options.get("do_sample"):
                    raise SpecError(
                        "generation_kwargs.do_sample", True, "false: honed scores lm-eval's generation tasks greedily"
                    )
                until, most = handle_stop_sequences(options["until"], eos=end), options["max_gen_toks"]
                tokens = self.tok_encode(context)[-(MAX_LENGTH - most) :]
                made = _greedy(handle, tokens, most, eos, until, tokenizer.decode)
                texts.append(postprocess_generated_text(tokenizer.decode(made), until, None))
            return texts

    return HonedLM()


def _greedy(
    handle: ModelHandle, prompt: list[int], most: int, eos: int | None, until: list[str], decode: Any
) -> list[int]:
    """Up to ``most`` new tokens, greedy, until the end-of-sequence token or a stop string in
    their text (``decode``d; lm-eval cuts the text there afterwards)."""
    import numpy as np

    from honed.models.sequences import sequence_decoder

    decoder = sequence_decoder(handle, 1)
    made: list[int] = []
    try:
        decoder.check(prompt)
        logits = decoder.start({0: prompt})[0]
        while len(made) < most and decoder.room(0) > 0:
            token = int(np.argmax(logits))
            if token == eos:
                break
            made.append(token)
            if any(stop in decode(made) for stop in until if stop):
                break
            logits = decoder.step({0: token})[0]
    finally:
        decoder.close()
    return made
