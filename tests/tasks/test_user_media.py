"""A user's own images and audio: an ImageFolder for image classification, images with masks or
depth maps, WAV files with a JSONL of transcripts. Each is read and checked when the task is built
(an unreadable or missing file is named, in one line, exit 2 from the CLI before any worker); each
model reads the images through its own image processor where it has one, else resized to the
run's input shape."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import honed
from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef, TaskSpec
from honed.models import load_model
from honed.tasks import ImageClassificationTask, SpeechRecognitionTask, build_task, evaluate_quality


def _digit_folder(root, per_class: int = 10):
    """Test digits of classes 0 and 1 as 8-bit PNGs in DIR/0 and DIR/1 (what a user's folder holds)."""
    test = ImageClassificationTask.digits("test")
    for digit in (0, 1):
        (root / str(digit)).mkdir(parents=True)
        images = test.images[test.labels == digit][:per_class]
        for index, image in enumerate(images):
            pixels = (image[0].numpy() * 255).round().astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(root / str(digit) / f"{index}.png")
    return root


def test_an_image_folder_is_scored_as_the_model_reads_it(tmp_path, digits_cnn):
    task = build_task(TaskSpec(name="image-classification", options={"data": str(_digit_folder(tmp_path / "d"))}))
    assert task.classes == ["0", "1"] and len(task.images) == 20 and task.labels.tolist() == [0] * 10 + [1] * 10
    task.bind(InputSpec(shape=(1, 8, 8)))  # a factory model: resized to the run's input shape, one channel
    handle = load_model(digits_cnn)
    pixels = task.pixels(handle, task.images[:2])
    assert pixels.shape == (2, 1, 8, 8) and float(pixels.max()) <= 1.0
    shipped = ImageClassificationTask.digits("test")
    zeros = shipped.images[shipped.labels == 0][:2]
    assert torch.allclose(pixels, zeros, atol=1 / 255)  # the PNG round trip costs at most one grey level
    quality = evaluate_quality(task, handle, batch_size=8)
    assert quality.items == 20 and quality.values["top1"] >= 0.9  # the trained CNN reads the user's PNGs


def test_a_vision_transformer_reads_the_images_through_its_own_image_processor(tmp_path):
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    config = ViTConfig(image_size=16, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=64, num_labels=2)  # fmt: skip
    directory = tmp_path / "vit"
    ViTForImageClassification(config).save_pretrained(directory)
    processor = ViTImageProcessor(size={"height": 16, "width": 16}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    processor.save_pretrained(directory)
    folder = tmp_path / "images"
    for name, colour in (("cat", (200, 30, 30)), ("dog", (30, 30, 200))):
        (folder / name).mkdir(parents=True)
        Image.new("RGB", (40, 24), colour).save(folder / name / "a.png")
    task = build_task(TaskSpec(name="image-classification", options={"data": str(folder)}))
    handle = load_model(ModelRef(kind="transformers", source=str(directory)))
    pixels = task.pixels(handle, task.images)["pixel_values"]
    assert torch.equal(pixels, processor(task.images, return_tensors="pt")["pixel_values"])
    assert pixels.shape == (2, 3, 16, 16) and float(pixels.min()) < 0  # normalised as the model was trained
    assert evaluate_quality(task, handle).items == 2
    given = build_task(TaskSpec(name="image-classification", options={"data": str(folder), "size": [8, 12]}))
    assert given.pixels(handle, given.images[:1])["pixel_values"].shape == (1, 3, 8, 12)  # the user's size wins


def test_masks_and_depth_maps_are_read_beside_their_images(tmp_path):
    for folder in ("seg/images", "seg/masks", "depth/images", "depth/depths"):
        (tmp_path / folder).mkdir(parents=True)
    mask = np.zeros((12, 16), dtype=np.uint8)
    mask[2:6, 3:9], mask[8:, :4], mask[0, 0] = 1, 2, 255
    for name in ("a", "b"):
        Image.new("RGB", (16, 12), (90, 90, 90)).save(tmp_path / "seg/images" / f"{name}.png")
        Image.fromarray(mask).save(tmp_path / "seg/masks" / f"{name}.png")
        Image.new("RGB", (16, 12), (90, 90, 90)).save(tmp_path / "depth/images" / f"{name}.png")
    Image.fromarray(np.full((12, 16), 5 * 256, dtype=np.uint16)).save(tmp_path / "depth/depths/a.png")
    np.save(tmp_path / "depth/depths/b.npy", np.full((12, 16), 2.5, dtype=np.float32))
    segmentation = build_task(TaskSpec(name="semantic-segmentation", options={"data": str(tmp_path / "seg")}))
    assert segmentation.num_classes == 3 and segmentation.masks.shape == (2, 12, 16)
    assert torch.equal(segmentation.masks[0], torch.from_numpy(mask).long())
    small = build_task(TaskSpec(name="semantic-segmentation", options={"data": str(tmp_path / "seg"), "size": 6}))
    assert small.masks.shape == (2, 6, 6) and set(small.masks.unique().tolist()) <= {0, 1, 2, 255}  # nearest
    depth = build_task(TaskSpec(name="depth-estimation", options={"data": str(tmp_path / "depth")}))
    assert depth.depths.shape == (2, 12, 16) and depth.depths[0, 0, 0] == 5.0 and depth.depths[1, 0, 0] == 2.5
    (tmp_path / "seg/images/c.png").write_bytes(b"not an image")
    with pytest.raises(SpecError, match=r"a masks file named c\.\*"):
        build_task(TaskSpec(name="semantic-segmentation", options={"data": str(tmp_path / "seg")}))
    Image.fromarray(mask).save(tmp_path / "seg/masks/c.png")
    with pytest.raises(SpecError, match=r"\(c\.png\).*a readable image file"):
        build_task(TaskSpec(name="semantic-segmentation", options={"data": str(tmp_path / "seg")}))


def _wav(path, samples: np.ndarray, rate: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(channels)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes((np.repeat(samples, channels) * 32767).astype(np.int16).tobytes())


def test_speech_is_read_from_wav_files_at_any_rate(tmp_path):
    shipped = SpeechRecognitionTask.shipped()
    original = shipped.waveforms[0]
    _wav(tmp_path / "slow.wav", original[::2], 8000, channels=2)  # 8 kHz stereo, as a phone records
    (tmp_path / "clips.jsonl").write_text(json.dumps({"audio": "slow.wav", "text": "The quick brown fox!"}) + "\n")
    task = build_task(TaskSpec(name="speech-recognition", options={"data": str(tmp_path / "clips.jsonl")}))
    assert task.transcripts == ["the quick brown fox"] and task.sampling_rate == 16_000
    assert abs(len(task.waveforms[0]) - len(original)) <= 2  # resampled to 16 kHz, mono
    (tmp_path / "clips.jsonl").write_text(json.dumps({"audio": "gone.wav", "text": "x"}) + "\n")
    with pytest.raises(SpecError, match=r"\(gone\.wav\).*an existing WAV file"):
        build_task(TaskSpec(name="speech-recognition", options={"data": str(tmp_path / "clips.jsonl")}))


def test_the_cli_refuses_a_broken_image_folder_with_exit_2_before_any_worker(tmp_path, digits_cnn):
    folder = _digit_folder(tmp_path / "d", per_class=2)
    (folder / "1" / "broken.png").write_bytes(b"\x89PNG broken")
    done = honed(
        "evaluate", "--model", "honed.zoo:cnn", "--kind", "factory", "--shape", "1x8x8",
        "--task", "image-classification", "--task-data", str(folder), store=tmp_path / "honed.db", check_code=2,
    )  # fmt: skip
    assert "(broken.png)" in done.stderr and "a readable image file" in done.stderr
    assert "measuring" not in done.stderr
