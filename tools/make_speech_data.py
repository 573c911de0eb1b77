"""Regenerate honed's shipped speech utterances (src/honed/tasks/data/speech/).

Dev-time only: needs `pip install espeak-english` (it bundles libespeak-ng and its English
data). Each sentence is synthesised with espeak-ng's default English voice at 22,050 Hz,
resampled to 16 kHz (scipy), and written as 16-bit mono WAV beside a transcripts.jsonl.

    python tools/make_speech_data.py
"""

from __future__ import annotations

import ctypes
import json
import wave
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "please turn off the lights when you leave the room",
    "the train to the city leaves at seven in the morning",
    "she bought fresh bread and a bottle of milk",
    "it will rain tomorrow so take an umbrella",
    "my brother plays the guitar every evening",
    "the meeting has been moved to next tuesday",
    "water boils at one hundred degrees",
    "can you send me the report before lunch",
    "the children are playing football in the park",
]
OUT = Path(__file__).resolve().parent.parent / "src/honed/tasks/data/speech"


def synthesise(library: ctypes.CDLL, text: str) -> np.ndarray:
    chunks: list[np.ndarray] = []
    callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

    @callback_type
    def collect(samples, count, events):  # espeak-ng hands audio over in chunks
        if samples and count > 0:
            chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0

    library.espeak_SetSynthCallback(collect)
    encoded = text.encode()
    library.espeak_Synth(encoded, len(encoded) + 1, 0, 1, 0, 0, None, None)  # POS_CHARACTER, espeakCHARS_AUTO
    library.espeak_Synchronize()
    return np.concatenate(chunks)


def main() -> None:
    import espeak_english

    package = Path(espeak_english.__file__).parent
    library = ctypes.CDLL(str(package / "libespeak-ng.so"))
    rate = library.espeak_Initialize(1, 500, str(package / "espeak-ng-data").encode(), 0)  # AUDIO_OUTPUT_RETRIEVAL
    library.espeak_SetVoiceByName(b"en")
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, sentence in enumerate(SENTENCES):
        audio = resample_poly(synthesise(library, sentence).astype(np.float64), 16000, rate)
        name = f"utterance-{index:02d}.wav"
        with wave.open(str(OUT / name), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16000)
            out.writeframes(np.clip(audio, -32768, 32767).astype(np.int16).tobytes())
        rows.append({"audio": name, "text": sentence})
    (OUT / "transcripts.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"wrote {len(rows)} utterances to {OUT} (espeak-ng, source rate {rate} Hz)")


if __name__ == "__main__":
    main()
