"""A completion's text as its tokens come, with the request's stop strings: each token gives the
text it completes (nothing while a character split across tokens is incomplete: the new tokens are
decoded as a whole), text that may still turn into a stop string is held back until it cannot, and
the completion ends before the first stop string, which is not sent (as OpenAI's servers do)."""

from __future__ import annotations

from typing import Any


class CompletionText:
    def __init__(self, tokenizer: Any, stops: tuple[str, ...] = ()):
        self.tokenizer, self.stops = tokenizer, tuple(stop for stop in stops if stop)
        self.tokens: list[int] = []
        self.text = ""  # the new tokens decoded, up to the last whole character
        self.sent = 0  # characters of ``text`` given out
        self.stopped = False  # a stop string was reached

    def add(self, token: int) -> str:
        """The text this token lets out (maybe empty); ``stopped`` once a stop string is reached."""
        self.tokens.append(token)
        decoded = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        # A character split across tokens decodes as U+FFFD until its last byte comes (as
        # transformers' TextStreamer waits); text already sent is never taken back.
        if decoded.endswith("\ufffd") or not decoded.startswith(self.text[: self.sent]):
            return ""
        self.text = decoded
        found = [at for stop in self.stops if (at := decoded.find(stop, max(0, self.sent - len(stop) + 1))) >= 0]
        if found:
            self.stopped = True
            return self._send_to(min(found))
        return self._send_to(len(decoded) - self._held())

    def rest(self) -> str:
        """At the end (length or end of sequence): what was held back."""
        return "" if self.stopped else self._send_to(len(self.text))

    def _held(self) -> int:
        """How many of the last characters may begin a stop string."""
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.text) - self.sent), longest, -1):
                if self.text.endswith(stop[:size]):
                    longest = size
                    break
        return longest

    def _send_to(self, end: int) -> str:
        piece = self.text[self.sent : max(end, self.sent)]
        self.sent = max(end, self.sent)
        return piece
