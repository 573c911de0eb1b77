"""A task with real labels: a CNN trained here on scikit-learn's digits, then optimised."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef
from honed.models import load_model
from honed.models.capabilities import Capability
from honed.optimization import optimize
from honed.tasks import ImageClassificationTask, agreement, evaluate_quality

INPUTS = InputSpec(shape=(1, 8, 8))


@pytest.fixture(scope="module")
def trained(digits_cnn):
    return load_model(digits_cnn, seed=0), ImageClassificationTask.digits("test")


def test_a_trained_model_scores_well_and_the_metrics_agree_with_a_hand_count(trained):
    handle, test = trained
    result = evaluate_quality(test, handle)
    assert result.items == len(test.labels) == 540 and result.primary == "top1"
    with torch.inference_mode():
        hand = (handle.module(test.images).argmax(1) == test.labels).float().mean().item()
    assert result.primary_value == pytest.approx(hand) and hand > 0.9
    assert result.values["top5"] >= result.values["top1"]


@pytest.mark.slow
def test_optimisations_move_the_metric_in_the_expected_direction(trained):
    handle, test = trained
    base = evaluate_quality(test, handle).primary_value
    # Mild, well-behaved optimisations keep accuracy within two points.
    for recipe in (
        ["dynamic-int8"],
        ["torchao-int8-weight-only"],
        ["bf16"],
        [{"algorithm": "onnxruntime", "params": {"quantization": "dynamic-int8"}}],
        [{"algorithm": "onnxruntime", "params": {"quantization": "static-int8"}}],
        [{"algorithm": "openvino", "params": {"quantization": "int8"}}],
    ):
        optimised = optimize(handle, recipe, "cpu", INPUTS)
        assert evaluate_quality(test, optimised).primary_value >= base - 0.02, recipe
    # Removing nine weights in ten must cost accuracy, and agreement with the base must fall with it.
    crushed = optimize(handle, [{"algorithm": "magnitude-prune", "params": {"amount": 0.9}}], "cpu", INPUTS)
    assert evaluate_quality(test, crushed).primary_value < base - 0.1
    mild = agreement(test, handle, optimize(handle, ["dynamic-int8"], "cpu", INPUTS))
    harsh = agreement(test, handle, crushed)
    assert mild["top1_agreement"] > 0.97 and harsh["top1_agreement"] < mild["top1_agreement"]
    assert harsh["logits_kl"] > mild["logits_kl"] and harsh["output_cosine"] < mild["output_cosine"]


def test_limit_and_split_checks(trained):
    _, test = trained
    assert sum(len(labels) for _, labels in test.batches(100, limit=250)) == 250
    with pytest.raises(ValueError, match="split"):
        ImageClassificationTask.digits("validation")


@pytest.mark.slow
def test_minilm_retrieves_the_shipped_pairs_and_optimisations_keep_fidelity(minilm_path):
    from honed.tasks import TextEmbeddingTask

    task = TextEmbeddingTask.shipped(k=1)
    base = load_model(ModelRef(kind="sentence-transformers", source=minilm_path))
    recall = evaluate_quality(task, base, batch_size=8)
    assert recall.items == 24 and recall.values["recall_at_k"] >= 0.9  # a real embedder finds its pairs
    shuffled = TextEmbeddingTask(task.queries, task.passages[1:] + task.passages[:1], k=1)
    assert evaluate_quality(shuffled, base).values["recall_at_k"] <= 0.1  # and not mismatched ones
    int8 = optimize(base, ["dynamic-int8"], "cpu", InputSpec(seq_len=32))
    fidelity = agreement(task, base, int8, batch_size=8)
    assert fidelity["output_cosine"] > 0.95
    assert evaluate_quality(task, int8).values["recall_at_k"] >= recall.values["recall_at_k"] - 0.05


def test_multiple_choice_scores_by_continuation_loglikelihood(tiny_llama_dir):
    import numpy as np

    from honed.core.errors import SpecError
    from honed.tasks import MultipleChoiceTask
    from honed.tasks.choice import continuation_loglikelihood

    handle = load_model(
        ModelRef(kind="transformers", source=str(tiny_llama_dir), options={"auto_class": "AutoModelForCausalLM"})
    )
    task = MultipleChoiceTask.shipped()
    assert len(task.items) == 12 and all(len(item["endings"]) == 4 for item in task.items)

    # An independent computation: one forward per prefix, the next token's log-probability each time.
    tok = handle.tokenizer
    ctx, cont = (
        tok("The cat sat", add_special_tokens=False)["input_ids"],
        tok(" on the mat", add_special_tokens=False)["input_ids"],
    )
    expected = 0.0
    with torch.inference_mode():
        for i, token in enumerate(cont):
            logits = handle.module(input_ids=torch.tensor([ctx + cont[:i]])).logits[0, -1]
            expected += torch.log_softmax(logits.float(), -1)[token].item()
        assert continuation_loglikelihood(handle, "The cat sat", " on the mat") == pytest.approx(expected, abs=1e-4)

    result = evaluate_quality(task, handle, batch_size=4, limit=8)
    scores, labels = task.collect(handle, 4, 8)
    acc = np.mean([np.argmax(s) == g for s, g in zip(scores, labels)])
    norm = np.mean(
        [
            np.argmax(np.array(s) / [len(e.encode()) for e in item["endings"]]) == g
            for s, g, item in zip(scores, labels, task.items)
        ]
    )
    assert result.items == 8 and result.values["mc_accuracy"] == pytest.approx(acc)
    assert result.values["mc_accuracy_norm"] == pytest.approx(norm)
    with pytest.raises(SpecError, match="items\\[0\\]"):
        MultipleChoiceTask([{"ctx": "x", "endings": ["a"], "label": 3}])


@pytest.fixture(scope="module")
def trained_segnet():
    from honed.tasks import SegmentationTask

    torch.manual_seed(0)
    handle = load_model(ModelRef(kind="factory", source="honed.zoo:segnet"), seed=0)
    train = SegmentationTask.shapes(count=256, seed=1)
    model = handle.module.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(8):
        for images, masks in train.batches(32):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(images), masks).backward()
            optimiser.step()
    model.eval()
    return handle, SegmentationTask.shapes(count=64, seed=2)


@pytest.mark.slow
def test_segmentation_metrics_and_optimisations(trained_segnet):
    handle, test = trained_segnet
    result = evaluate_quality(test, handle, batch_size=16)
    with torch.inference_mode():
        predicted = handle.module(test.images).argmax(1)
    assert result.values["pixel_accuracy"] == pytest.approx((predicted == test.masks).float().mean().item())
    assert result.values["miou"] > 0.7, result.values
    inputs = InputSpec(shape=(3, 32, 32))
    for recipe in (["bf16"], ["onnxruntime"]):
        kept = evaluate_quality(test, optimize(handle, recipe, "cpu", inputs)).values["miou"]
        assert kept >= result.values["miou"] - 0.02, (recipe, kept)
    crushed = optimize(handle, [{"algorithm": "structured-prune", "params": {"ratio": 0.75}}], "cpu", inputs)
    assert evaluate_quality(test, crushed).values["miou"] < result.values["miou"] - 0.05


def test_segformer_from_a_config_runs_through_the_task(tmp_path):
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    from honed.tasks import SegmentationTask

    torch.manual_seed(0)
    config = SegformerConfig(
        num_labels=3,
        num_encoder_blocks=2,
        depths=[1, 1],
        sr_ratios=[2, 1],
        hidden_sizes=[16, 32],
        num_attention_heads=[1, 2],
        patch_sizes=[7, 3],
        strides=[4, 2],
        mlp_ratios=[2, 2],
        decoder_hidden_size=32,
    )
    SegformerForSemanticSegmentation(config).save_pretrained(tmp_path)
    handle = load_model(
        ModelRef(kind="transformers", source=str(tmp_path), options={"auto_class": "AutoModelForSemanticSegmentation"})
    )
    task = SegmentationTask.shapes(count=8, seed=3)
    logits = task.predict(handle, task.images[:2])
    assert logits.shape == (2, 3, 32, 32)  # SegFormer predicts at 1/4 resolution; the task upsamples
    values = evaluate_quality(task, handle).values
    predicted = task.predict(handle, task.images).argmax(1)
    assert values["pixel_accuracy"] == pytest.approx((predicted == task.masks).float().mean().item())
    assert 0 <= values["miou"] <= 1
    assert (
        agreement(task, handle, optimize(handle, ["bf16"], "cpu", InputSpec(shape=(3, 32, 32))))["output_cosine"] > 0.99
    )


@pytest.fixture(scope="module")
def trained_depth():
    from honed.tasks import DepthEstimationTask

    torch.manual_seed(0)
    handle = load_model(ModelRef(kind="factory", source="honed.zoo:segnet", options={"kwargs": {"classes": 1}}), seed=0)
    train = DepthEstimationTask.scenes(count=256, seed=1)
    model = handle.module.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(25):  # epochs: about five seconds on two cores
        for images, depths in train.batches(32):
            optimiser.zero_grad()
            valid = depths > 0
            torch.nn.functional.l1_loss(model(images)[:, 0][valid], depths[valid]).backward()
            optimiser.step()
    model.eval()
    return handle, DepthEstimationTask.scenes(count=64, seed=2)


@pytest.mark.slow
def test_depth_scenes_metrics_and_optimisations(trained_depth):
    handle, test = trained_depth
    valid = test.depths > 0
    assert 0.3 < valid.float().mean() < 0.9 and test.depths.max() <= 20.0  # sky and far ground are masked out
    result = evaluate_quality(test, handle, batch_size=16)
    with torch.inference_mode():
        predicted = handle.module(test.images)[:, 0].clamp(1e-3, 20.0).double()
    # abs_rel by hand: per image over valid pixels, then the mean over images.
    hand = (
        torch.stack(
            [((predicted[i] - test.depths[i]).abs() / test.depths[i])[valid[i]].mean() for i in range(len(test.depths))]
        )
        .mean()
        .item()
    )
    assert result.values["abs_rel"] == pytest.approx(hand, rel=1e-6)
    assert result.values["abs_rel"] < 0.2 and result.values["delta1"] > 0.85, result.values
    kept = evaluate_quality(test, optimize(handle, ["bf16"], "cpu", InputSpec(shape=(3, 32, 32))))
    assert kept.values["abs_rel"] <= result.values["abs_rel"] + 0.02
    crushed = optimize(
        handle, [{"algorithm": "magnitude-prune", "params": {"amount": 0.95}}], "cpu", InputSpec(shape=(3, 32, 32))
    )
    assert evaluate_quality(test, crushed).values["abs_rel"] > result.values["abs_rel"] + 0.05


def test_glpn_from_a_config_runs_through_the_depth_task(tmp_path):
    from transformers import GLPNConfig, GLPNForDepthEstimation

    from honed.tasks import DepthEstimationTask

    torch.manual_seed(0)
    config = GLPNConfig(
        num_encoder_blocks=2,
        depths=[1, 1],
        sr_ratios=[2, 1],
        hidden_sizes=[16, 32],
        num_attention_heads=[1, 2],
        patch_sizes=[7, 3],
        strides=[4, 2],
        mlp_ratios=[2, 2],
        decoder_hidden_size=16,
        max_depth=20,
    )
    GLPNForDepthEstimation(config).save_pretrained(tmp_path)
    handle = load_model(
        ModelRef(kind="transformers", source=str(tmp_path), options={"auto_class": "AutoModelForDepthEstimation"})
    )
    task = DepthEstimationTask.scenes(count=4, seed=3)
    assert task.predict(handle, task.images[:2]).shape == (2, 32, 32)
    values = evaluate_quality(task, handle).values
    assert set(values) == set(task.metrics) and values["abs_rel"] > 0 and 0 <= values["delta1"] <= 1


@pytest.mark.slow
def test_shipped_speech_scored_by_jiwer_with_the_real_time_factor(tiny_whisper_dir):
    import jiwer

    from honed.tasks import SpeechRecognitionTask
    from honed.tasks.speech import normalise

    task = SpeechRecognitionTask.shipped(max_new_tokens=16)
    seconds = [len(w) / task.sampling_rate for w in task.waveforms]
    assert len(task.waveforms) == 10 and all(1.0 < s < 6.0 for s in seconds)
    assert task.transcripts[0] == "the quick brown fox jumps over the lazy dog"
    handle = load_model(
        ModelRef(kind="transformers", source=str(tiny_whisper_dir), options={"auto_class": "AutoModelForSpeechSeq2Seq"})
    )
    transcripts = task.collect(handle, batch_size=5, limit=None)[0]
    result = evaluate_quality(task, handle, batch_size=5)
    assert result.values["wer"] == pytest.approx(jiwer.wer(task.transcripts, transcripts))
    assert result.values["cer"] == pytest.approx(jiwer.cer(task.transcripts, transcripts))
    timing = result.timing
    assert timing["audio_seconds"] == pytest.approx(sum(seconds))
    assert (
        timing["real_time_factor"] == pytest.approx(timing["seconds"] / timing["audio_seconds"])
        and timing["seconds"] > 0
    )
    # Per batch of five: the median and 90th percentile of two factors lie between them.
    assert len(task.batch_factors) == 2
    assert min(task.batch_factors) <= timing["real_time_factor_p50"] <= timing["real_time_factor_p90"]
    assert timing["real_time_factor_p90"] <= max(task.batch_factors)
    # Scored against its own transcripts, a model is perfect: predictions and references line up item by item.
    own = SpeechRecognitionTask(task.waveforms, transcripts, max_new_tokens=16)
    assert evaluate_quality(own, handle, batch_size=3).values == {"wer": 0.0, "cer": 0.0}
    # Synthetic model-scope inputs default to the feature extractor's shape: 80 mel bins x its
    # chunk (3 s here, so training is fast; 30 s in the published Whisper models).
    batch = handle.example_inputs(2, InputSpec(), seed=0)
    assert batch["input_features"].shape == (2, 80, 300) and batch["decoder_input_ids"].shape == (2, 1)
    assert handle.run(batch)["logits"].shape[:2] == (2, 1)
    with pytest.raises(SpecError, match="speech-to-text model"):
        task.transcribed(load_model(ModelRef(kind="factory", source="honed.zoo:mlp")), task.waveforms[:1])
    # Pipeline scope: raw waveforms in, transcripts out, as the task decodes them; decoding is capped.
    raw = handle.raw_inputs(2, InputSpec(audio_seconds=1.5), seed=0)
    assert [w.shape for w in raw] == [(24_000,), (24_000,)] and raw[0].dtype == np.float32
    handle.max_new_tokens = 16
    full = handle.run_pipeline(task.waveforms[:5])
    assert [normalise(t) for t in full] == transcripts[:5]
    handle.max_new_tokens = 2  # greedy decoding: the first tokens of the same transcripts
    short = handle.run_pipeline(task.waveforms[:5])
    assert all(f.startswith(s) for s, f in zip(short, full)) and sum(map(len, short)) < sum(map(len, full))


@pytest.mark.slow
def test_a_speech_model_trained_here_shows_wer_moving_the_expected_way(tiny_whisper_dir, tmp_path, monkeypatch):
    """The tiny Whisper memorises the ten shipped utterances (teacher forcing, ~10 s): not a
    general recogniser, but a model with a real WER of 0 that optimisations can only spoil."""
    from honed.tasks import SpeechRecognitionTask

    task = SpeechRecognitionTask.shipped(max_new_tokens=64)
    handle = load_model(
        ModelRef(kind="transformers", source=str(tiny_whisper_dir), options={"auto_class": "AutoModelForSpeechSeq2Seq"})
    )
    config, tokenizer = handle.module.config, handle.tokenizer
    targets = [
        [config.decoder_start_token_id, *tokenizer(t, add_special_tokens=False).input_ids, config.eos_token_id]
        for t in task.transcripts
    ]
    width = max(map(len, targets))
    decoder = torch.full((len(targets), width), config.eos_token_id)
    labels = torch.full((len(targets), width), -100)  # cross_entropy's ignore_index
    for row, ids in enumerate(targets):
        decoder[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(ids) - 1] = torch.tensor(ids[1:])
    features = handle.preprocess(task.waveforms)["input_features"]
    torch.manual_seed(0)
    model = handle.module.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(300):
        logits = model(input_features=features, decoder_input_ids=decoder).logits
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if loss.item() < 0.02:
            break
    model.eval()
    assert evaluate_quality(task, handle, batch_size=5).values == {"wer": 0.0, "cer": 0.0}
    for recipe in (
        ["dynamic-int8"],
        ["bf16"],
        [{"algorithm": "openvino", "params": {"precision": "bf16", "quantization": "int8-weights"}}],
    ):  # measured: all keep WER 0
        assert evaluate_quality(task, optimize(handle, recipe, "cpu"), batch_size=5).values["wer"] <= 0.1, recipe
    # OpenVINO in f32 (encoder, stateful decoder, transformers' generate) writes the torch model's transcripts.
    exported = optimize(handle, ["openvino"], "cpu", kept=tmp_path / "kept")
    assert Capability.TRANSCRIBES in exported.capabilities
    assert exported.transcribe(task.waveforms, 64) == handle.transcribe(task.waveforms, 64)
    # The run's next worker reads both graphs the first one kept, and transcribes alike, from a
    # source built without weights (its config, generation config, tokenizer and features only).
    monkeypatch.setattr("honed.optimization.algorithms.openvino.export_speech", None)  # calling it would fail
    again = optimize(load_model(handle.ref, weights=False), ["openvino"], "cpu", kept=tmp_path / "kept")
    assert again.transcribe(task.waveforms, 64) == handle.transcribe(task.waveforms, 64)
    assert again.stats() == exported.stats()
    clips = exported.raw_inputs(2, InputSpec(audio_seconds=2.0), seed=0)  # pipeline scope: synthetic audio
    exported.max_new_tokens = handle.max_new_tokens = 8
    assert exported.run_pipeline(clips) == handle.run_pipeline(clips)
    # Both graphs count and are saved (the decoder alone would miss the encoder's weights).
    assert exported.stats().parameters >= 0.95 * sum(p.numel() for p in handle.module.parameters())
    saved = exported.save(tmp_path / "saved")
    assert {"encoder.xml", "encoder.bin", "decoder.xml", "decoder.bin"} <= {
        p.name for p in (saved / "artifact").iterdir()
    }
    crushed = optimize(handle, [{"algorithm": "magnitude-prune", "params": {"amount": 0.9}}], "cpu")
    assert evaluate_quality(task, crushed, batch_size=5).values["wer"] >= 0.5  # measured 1.0


def test_perplexity_of_a_causal_lm_on_shipped_text_matches_a_hand_computation(tiny_llama_dir):
    import math

    from honed.tasks import LanguageModelingTask

    handle = load_model(
        ModelRef(kind="transformers", source=str(tiny_llama_dir), options={"auto_class": "AutoModelForCausalLM"}),
        seed=0,
    )
    task = LanguageModelingTask.default()
    assert len(task.texts) == 36
    result = evaluate_quality(task, handle, limit=5)
    # By hand: exp of the mean next-token negative log-likelihood over every predicted token.
    total, count = 0.0, 0
    with torch.inference_mode():
        for text in task.texts[:5]:
            ids = handle.tokenizer(text, return_tensors="pt")["input_ids"]
            log_probs = torch.log_softmax(handle.module(input_ids=ids).logits[0, :-1].float(), dim=-1)
            total -= log_probs.gather(1, ids[0, 1:, None]).sum().item()
            count += ids.shape[1] - 1
    assert result.values["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-4)
    # A random-weight model is near-uniform: perplexity close to the vocabulary size.
    assert 0.3 * handle.module.config.vocab_size < result.values["perplexity"] < 3 * handle.module.config.vocab_size


def test_a_language_model_is_compared_with_its_base_at_every_position_of_real_text(tiny_llama_dir):
    from honed.tasks import LanguageModelingTask, agreement_of

    ref = ModelRef(kind="transformers", source=str(tiny_llama_dir), options={"auto_class": "AutoModelForCausalLM"})
    handle = load_model(ref, seed=0)
    task = LanguageModelingTask.default()
    base = task.outputs(handle, 1, 4)
    positions = sum(len(handle.token_ids(text)) - 1 for text in task.texts[:4])
    assert base.shape == (positions, handle.module.config.vocab_size)  # one row per predicted token
    assert task.agreement_items(positions) == f"{positions} token positions of 4 texts of the task"
    same = agreement_of(base, task.outputs(handle, 1, 4), task.agreement_metrics)
    assert same == {"top1_agreement": 1.0, "logits_kl": pytest.approx(0.0, abs=1e-9)}
    with torch.no_grad():  # a perturbed copy moves both measures the expected way
        for parameter in handle.module.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    moved = agreement_of(base, task.outputs(handle, 1, 4), task.agreement_metrics)
    assert moved["top1_agreement"] < 1.0 and moved["logits_kl"] > 1e-4


@pytest.mark.parametrize("task_class", ["SegmentationTask", "DepthEstimationTask"])
def test_generated_images_take_a_square_size_either_way_and_refuse_a_rectangle(task_class):
    import honed.tasks

    cls = getattr(honed.tasks, task_class)
    images = [cls.default(count=2, size=size).images for size in (16, [16, 16])]
    assert images[0].shape[-2:] == (16, 16) and torch.equal(images[0], images[1])
    with pytest.raises(SpecError, match=r"generated images are square") as refused:
        cls.default(count=2, size=[16, 24])
    assert refused.value.field == "task.options.size"


def test_a_capability_is_reached_through_its_type_and_a_handle_without_it_is_refused():
    from honed.models.capabilities import as_decoder, as_scorer, as_transcriber, as_writer

    mlp = load_model(ModelRef(kind="factory", source="honed.zoo:mlp"))
    for view, needs in [
        (as_scorer, "scores next tokens"),
        (as_decoder, "generates tokens"),  # and scores next tokens, or writes text
        (as_writer, "writes text from text"),
        (as_transcriber, "transcribes speech"),
    ]:
        with pytest.raises(SpecError, match=needs) as refused:
            view(mlp)
        assert refused.value.field == "model"
