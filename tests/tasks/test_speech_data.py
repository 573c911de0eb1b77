"""Speech data as the field lays it out (LibriSpeech: FLAC beside each chapter's *.trans.txt) and
Whisper's English text normaliser, on replicas the tests write with the shipped utterances."""

from __future__ import annotations

import json

import numpy as np
import pytest

from honed.core.errors import SpecError
from honed.core.protocol import ModelRef, TaskSpec
from honed.tasks import SpeechRecognitionTask, build_task, evaluate_quality

# Two chapters of two speakers, with LibriSpeech's directory and file names and its upper-case texts.
CHAPTERS = {
    "1089/134686": ["HE HOPED THERE WOULD BE STEW FOR DINNER", "TWENTY FIVE DOLLARS MISTER SMITH"],
    "121/121726": ["THE COLOUR OF THE SKY"],
}


def _librispeech(root, waveforms):
    """A LibriSpeech split: <speaker>/<chapter>/<speaker>-<chapter>.trans.txt, <id>.flac beside it."""
    import soundfile

    clips = iter(waveforms)
    for chapter, texts in CHAPTERS.items():
        folder = root / chapter
        folder.mkdir(parents=True)
        stem = chapter.replace("/", "-")
        lines = []
        for number, text in enumerate(texts):
            ident = f"{stem}-{number:04d}"
            soundfile.write(str(folder / f"{ident}.flac"), next(clips), 16_000, subtype="PCM_16")
            lines.append(f"{ident} {text}")
        (folder / f"{stem}.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def _task(**options):
    return build_task(TaskSpec(name="speech-recognition", options=options))


def test_a_librispeech_split_is_read_as_laid_out_on_disk(tmp_path):
    shipped = SpeechRecognitionTask.shipped().waveforms[:3]
    split = _librispeech(tmp_path / "test-clean", shipped)
    task = _task(data=str(split))
    assert task.transcripts == [
        "he hoped there would be stew for dinner",
        "twenty five dollars mister smith",
        "the colour of the sky",
    ]  # chapters in sorted order ("1089" before "121"), lines in listing order
    for read, written in zip(task.waveforms, shipped):  # FLAC is lossless: 16-bit samples come back
        assert read.shape == written.shape and np.abs(read - written).max() <= 1 / 32768 + 1e-7
    assert len(_task(data=str(split / "121" / "121726")).waveforms) == 1  # one chapter of it, too

    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match=r"trans\.txt") as refused:
        _task(data=str(tmp_path / "empty"))
    assert refused.value.field == "task.options.data"
    (split / "121" / "121726" / "121-121726-0000.flac").unlink()
    with pytest.raises(SpecError, match=r"121-121726-0000\.flac"):
        _task(data=str(split))


def test_whispers_normaliser_scores_numbers_and_spellings_as_published_wers_do(tmp_path):
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    split = _librispeech(tmp_path / "test-clean", SpeechRecognitionTask.shipped().waveforms[:3])
    whisper = _task(data=str(split), normaliser="whisper")
    reference = EnglishTextNormalizer({})
    assert whisper.transcripts == [reference(text) for texts in CHAPTERS.values() for text in texts]
    assert whisper.transcripts[1] == "$25 mister smith" == whisper.normalise("Twenty-five dollars, Mr. Smith!")
    assert _task(data=str(split)).normalise("Twenty-five dollars, Mr. Smith!") == "twenty five dollars mr smith"
    # A Whisper model's normalizer.json maps British spellings to American ones.
    (tmp_path / "normalizer.json").write_text(json.dumps({"colour": "color"}))
    spelled = _task(data=str(split), normaliser="whisper", spellings=str(tmp_path / "normalizer.json"))
    assert spelled.transcripts[2] == "the color of the sky"

    with pytest.raises(SpecError, match="'basic' or 'whisper'") as refused:
        _task(normaliser="librispeech")
    assert refused.value.field == "task.options.normaliser"
    with pytest.raises(SpecError) as refused:
        _task(spellings=str(tmp_path / "normalizer.json"))  # the basic normaliser has no spellings
    assert refused.value.field == "task.options.spellings"


def test_a_whisper_on_librispeech_scores_the_wer_jiwer_gives_on_the_normalised_texts(tmp_path, tiny_whisper_dir):
    import jiwer

    from honed.models import load_model

    split = _librispeech(tmp_path / "test-clean", SpeechRecognitionTask.shipped().waveforms[:3])
    task = _task(data=str(split), normaliser="whisper", max_new_tokens=8)
    handle = load_model(
        ModelRef(kind="transformers", source=str(tiny_whisper_dir), options={"auto_class": "AutoModelForSpeechSeq2Seq"})
    )
    transcripts = task.collect(handle, batch_size=2, limit=None)[0]
    batches = [task.waveforms[:2], task.waveforms[2:]]  # as collect batches them: the same numbers
    assert transcripts == [task.normalise(text) for batch in batches for text in handle.transcribe(batch, 8)]
    values = evaluate_quality(task, handle, batch_size=2).values
    assert values["wer"] == pytest.approx(jiwer.wer(task.transcripts, transcripts))
    assert values["cer"] == pytest.approx(jiwer.cer(task.transcripts, transcripts))
