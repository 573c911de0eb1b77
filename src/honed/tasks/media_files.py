"""A user's own images and audio for a task, read whole and checked when the task is built (before
any worker starts): an unreadable file fails naming it, in one line.

- image classification: an ImageFolder directory, ``DIR/<class name>/<image>``, classes numbered in
  sorted name order (as torchvision's ImageFolder and Hugging Face's imagefolder number them);
- segmentation and depth: ``DIR/images/<name>.<ext>`` beside ``DIR/<targets>/<name>.<ext>``, paired by
  file stem;
- speech: WAV files (PCM, any rate, mono or stereo), or FLAC and the other formats libsndfile reads
  (the ``audio`` extra, soundfile), resampled to 16 kHz mono.
"""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from honed.core.errors import SpecError
from honed.tasks.data_files import FIELD, MAX_DATA_BYTES

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_ITEMS = 10_000  # an evaluation set, not a training set


def data_directory(path: str | Path, layout: str, field: str = FIELD) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise SpecError(field, str(path), f"an existing directory: {layout}")
    return path


def images_in(directory: Path, field: str = FIELD) -> list[Path]:
    found = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if len(found) > MAX_ITEMS:
        raise SpecError(field, str(directory), f"at most {MAX_ITEMS} images")
    return found


def image_folder(path: str | Path, field: str = FIELD) -> tuple[list[Path], list[int], list[str]]:
    """Image files, their class numbers and the class names of an ImageFolder directory."""
    layout = "one folder per class holding its images (DIR/<class>/<image>.png)"
    root = data_directory(path, layout, field)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files, labels = [], []
    for number, name in enumerate(classes):
        found = images_in(root / name, field)
        files += found
        labels += [number] * len(found)
    if len(classes) < 2 or not files:
        raise SpecError(field, str(root), f"at least two class folders with images: {layout}")
    return files, labels, classes


def paired_files(path: str | Path, targets: str, what: str, field: str = FIELD) -> list[tuple[Path, Path]]:
    """(image, target) pairs of ``DIR/images`` and ``DIR/<targets>``, matched by file stem."""
    layout = f"DIR/images/<name>.png beside DIR/{targets}/<name>.png ({what})"
    root = data_directory(path, layout, field)
    for folder in ("images", targets):
        if not (root / folder).is_dir():
            raise SpecError(field, str(root), f"a directory with an {folder!r} folder: {layout}")
    wanted = {p.stem: p for p in [*images_in(root / targets, field), *sorted((root / targets).glob("*.npy"))]}
    pairs = []
    for image in images_in(root / "images", field):
        if image.stem not in wanted:
            raise SpecError(f"{field} ({image.name})", str(image), f"a {targets} file named {image.stem}.*: {layout}")
        pairs.append((image, wanted[image.stem]))
    if not pairs:
        raise SpecError(field, str(root), f"at least one image: {layout}")
    return pairs


def read_image(path: Path, mode: str | None = "RGB", field: str = FIELD) -> Any:
    """A PIL image, decoded now (so a broken file fails here); ``mode`` None keeps the file's own
    (a mask's class numbers or a depth map's 16-bit values)."""
    from PIL import Image, UnidentifiedImageError

    if path.stat().st_size > MAX_DATA_BYTES:
        raise SpecError(f"{field} ({path.name})", str(path), f"an image of at most {MAX_DATA_BYTES >> 20} MiB")
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert(mode) if mode else image.copy()
    except (UnidentifiedImageError, OSError) as error:
        raise SpecError(f"{field} ({path.name})", str(path), "a readable image file", hint=str(error)) from None


def read_wav(path: Path, sampling_rate: int, field: str = FIELD) -> np.ndarray:
    """A PCM WAV file as float32 mono samples in [-1, 1) at ``sampling_rate`` (resampled with a
    polyphase filter, scipy's, where the file's rate differs)."""
    where = f"{field} ({path.name})"
    if not path.is_file():
        raise SpecError(where, str(path), "an existing WAV file (paths are relative to the JSONL file)")
    try:
        with wave.open(str(path)) as audio:
            width, channels, rate = audio.getsampwidth(), audio.getnchannels(), audio.getframerate()
            frames = audio.readframes(audio.getnframes())
    except (wave.Error, EOFError) as error:
        raise SpecError(where, str(path), "a PCM WAV file (8, 16 or 32-bit)", hint=str(error)) from None
    kinds = {1: (np.uint8, 128.0, 128.0), 2: (np.int16, 0.0, 32768.0), 4: (np.int32, 0.0, 2147483648.0)}
    if width not in kinds:
        raise SpecError(where, f"{8 * width}-bit", "a PCM WAV file of 8, 16 or 32-bit samples")
    dtype, offset, scale = kinds[width]
    samples = ((np.frombuffer(frames, dtype=dtype).astype(np.float32) - offset) / scale).reshape(-1, channels)
    return _resampled(samples.mean(axis=1), rate, sampling_rate)


def read_audio(path: Path, sampling_rate: int, field: str = FIELD) -> np.ndarray:
    """An audio file as float32 mono samples at ``sampling_rate``: WAV read here, FLAC (LibriSpeech's
    format) and the rest of what libsndfile reads through soundfile."""
    if path.suffix.lower() == ".wav":
        return read_wav(path, sampling_rate, field)
    where = f"{field} ({path.name})"
    if not path.is_file():
        raise SpecError(where, str(path), "an existing audio file")
    try:
        import soundfile
    except ImportError:
        raise SpecError(
            where, path.suffix, "WAV, or install honed[audio] (soundfile) to read FLAC and others"
        ) from None
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise SpecError(where, str(path), "an audio file libsndfile reads (FLAC, WAV, OGG)", hint=str(error)) from None
    return _resampled(samples.mean(axis=1), rate, sampling_rate)


def _resampled(mono: np.ndarray, rate: int, sampling_rate: int) -> np.ndarray:
    """``mono`` at ``sampling_rate``, through a polyphase filter (scipy's) where ``rate`` differs."""
    if rate != sampling_rate:
        from scipy.signal import resample_poly

        ratio = Fraction(sampling_rate, rate)
        mono = resample_poly(mono, ratio.numerator, ratio.denominator)
    return mono.astype(np.float32)
