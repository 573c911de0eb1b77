"""The human-preference arena: outputs made by real small models (two tiny language models with
different weights; two image generators with different seeds), votes cast in headless Chromium
on the dashboard, ratings by Bradley-Terry (checked against the closed form for two players)."""

from __future__ import annotations

import math

import httpx
import pytest

from helpers import honed
from honed.arena import votes
from honed.arena.create import Contestant, create_arena
from honed.core.errors import HonedError, SpecError
from honed.core.protocol import InputSpec, ModelRef
from honed.store.database import Store
from web import browser, click_and_load, dashboard  # noqa: F401  (browser: the fixture)


@pytest.fixture(scope="module")
def second_llama_dir(tmp_path_factory, minilm_path):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1)  # other weights than tiny_llama_dir's: other words
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    directory = tmp_path_factory.mktemp("tiny-llama-b")
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def text_arena(tmp_path_factory, tiny_llama_dir, second_llama_dir):
    root = tmp_path_factory.mktemp("arena")
    store = root / "arena.db"
    prompts = root / "prompts.txt"
    prompts.write_text("the cat sat\nonce upon a time\nhello world\n")
    done = honed(
        "arena",
        "create",
        "words",
        "--model",
        str(tiny_llama_dir),
        "--model",
        str(second_llama_dir),
        "--kind",
        "transformers",
        "--prompts",
        str(prompts),
        "--max-tokens",
        "6",
        store=store,
    )
    arena_id = done.stdout.split("created arena ")[1].split(":")[0]
    return {"store": store, "id": arena_id}


def test_each_contestant_answers_every_prompt_and_pairs_are_made(text_arena, tiny_llama_dir):
    arena = votes.arena(Store(f"sqlite:///{text_arena['store']}"), text_arena["id"])
    assert arena.kind == "text" and len(arena.prompts) == 3
    first, second = arena.outputs
    assert all(first) and all(second) and first != second  # different weights, different words
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    ids = tokenizer(["the cat sat"], return_tensors="pt")
    with torch.inference_mode():
        expected = model.generate(
            input_ids=ids["input_ids"],
            attention_mask=ids["attention_mask"],
            max_new_tokens=6,
            do_sample=False,
            pad_token_id=0,
        )[0, ids["input_ids"].shape[1] :]
    assert first[0] == tokenizer.decode(expected, skip_special_tokens=True)  # greedy, as the model decodes


def _vote_in_browser(browser, base: str, arena, voter: str, favourite: int | None) -> int:
    """Votes every pair as ``voter``: for contestant ``favourite`` (found by its output, the page
    being blind) or a tie when None. Returns the pairs voted."""
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{base}/arena/{arena.id}")
    browser.find_element(By.ID, "voter").send_keys(voter)
    click_and_load(browser, browser.find_element(By.ID, "set-voter"))
    voted = 0
    while not browser.find_elements(By.ID, "done"):
        prompt = arena.prompts.index(browser.find_element(By.ID, "prompt").text)
        left = browser.find_element(By.CSS_SELECTOR, "#output-left pre").text
        if favourite is None:
            button = "vote-tie"
        else:
            button = "vote-left" if left.strip() == arena.outputs[favourite][prompt].strip() else "vote-right"
        click_and_load(browser, browser.find_element(By.ID, button))
        voted += 1
        assert voted <= 3, "a voter saw a pair twice"
    return voted


def test_votes_in_the_browser_move_the_ratings(text_arena, browser):
    from selenium.webdriver.common.by import By

    store = Store(f"sqlite:///{text_arena['store']}")
    arena = votes.arena(store, text_arena["id"])
    with dashboard(text_arena["store"]) as base:
        browser.get(f"{base}/arena")
        assert "words" in browser.find_element(By.ID, "arenas").text
        assert _vote_in_browser(browser, base, arena, "alice", favourite=1) == 3
        after_alice = votes.ratings(store, arena.id)
        assert after_alice.ratings[0].label == arena.contestants[1]["label"] and after_alice.votes == 3
        assert _vote_in_browser(browser, base, arena, "bob", favourite=None) == 3
        browser.get(f"{base}/arena/{arena.id}/ratings")
        shown = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "tr.rating")]
        assert shown[0].startswith(arena.contestants[1]["label"])
        after_bob = votes.ratings(store, arena.id)
        assert after_bob.votes == 6 and after_bob.voters == 2
        assert after_bob.ratings[0].rating < after_alice.ratings[0].rating  # ties pull the two together
        assert (
            after_bob.win_rate[1][0] == pytest.approx(4.5 / 6)
            and "75 %" in browser.find_element(By.ID, "win-rate").text
        )
        # Each voter sees each pair once: a second vote on a pair is refused.
        pair = votes.next_pair(store, arena.id, "carol")[0]
        votes.vote(store, arena.id, pair.id, "carol", "left")
        with pytest.raises(HonedError, match="already voted"):
            votes.vote(store, arena.id, pair.id, "carol", "right")
        # A vote without the page's CSRF token is refused.
        forged = httpx.post(
            f"{base}/arena/{arena.id}/vote",
            data={"pair": str(pair.id), "side": "left"},
            cookies={"honed_voter": "mallory"},
        )
        assert forged.status_code == 403


def test_bradley_terry_matches_the_closed_form_for_two_contestants(tmp_path):
    """Two players: the MLE strength ratio is wins / losses, a tie counting half each way. Three
    wins for A and one tie: A won 3.5 of 4, so the Elo gap is 400 log10(3.5 / 0.5)."""
    store = Store(f"sqlite:///{tmp_path / 'bt.db'}")
    arena_id = _image_arena(store, prompts=["a", "b", "c", "d"])
    arena = votes.arena(store, arena_id)
    for index, voter in enumerate(["v1", "v2", "v3", "v4"]):
        pair = votes.next_pair(store, arena_id, voter)[0]
        side = "tie" if index == 3 else ("right" if votes.swapped(voter, pair.id) else "left")  # the first contestant
        votes.vote(store, arena_id, pair.id, voter, side)
    result = votes.ratings(store, arena_id)
    best, other = result.ratings
    assert best.label == arena.contestants[0]["label"] and best.wins == 3.5
    assert best.rating - other.rating == pytest.approx(400 * math.log10(7), rel=0.02)
    assert best.low < best.rating < best.high


def _image_arena(store: Store, prompts: list[str]) -> str:
    painters = [
        Contestant(
            ModelRef(
                kind="factory", source="honed.zoo:painter", name=f"painter-{seed}", options={"kwargs": {"seed": seed}}
            )
        )
        for seed in (0, 1)
    ]
    return create_arena(store, "pictures", painters, prompts, InputSpec(shape=(3, 8, 8)))


def test_an_image_arena_shows_pictures_that_differ(tmp_path, browser):
    from selenium.webdriver.common.by import By

    store_path = tmp_path / "images.db"
    arena_id = _image_arena(Store(f"sqlite:///{store_path}"), prompts=["a red sunset", "a blue sea"])
    arena = votes.arena(Store(f"sqlite:///{store_path}"), arena_id)
    assert arena.kind == "image" and arena.outputs[0][0].startswith("data:image/png;base64,")
    assert arena.outputs[0][0] != arena.outputs[1][0] and arena.outputs[0][0] != arena.outputs[0][1]
    with dashboard(store_path) as base:
        browser.delete_all_cookies()
        browser.get(f"{base}/arena/{arena_id}")
        browser.find_element(By.ID, "voter").send_keys("dana")
        click_and_load(browser, browser.find_element(By.ID, "set-voter"))
        pictures = browser.find_elements(By.CSS_SELECTOR, "#pair img")
        assert len(pictures) == 2 and all(p.get_attribute("naturalWidth") == "128" for p in pictures)


def test_an_arena_needs_two_different_contestants(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'one.db'}")
    one = [Contestant(ModelRef(kind="factory", source="honed.zoo:painter"))]
    with pytest.raises(SpecError, match="two or more"):
        create_arena(store, "alone", one, ["a"], InputSpec(shape=(3, 8, 8)))
    with pytest.raises(SpecError, match="different"):
        create_arena(store, "twins", one * 2, ["a"], InputSpec(shape=(3, 8, 8)))


def test_the_command_line_lists_arenas_and_prints_ratings(text_arena):
    listed = honed("arena", "list", store=text_arena["store"])
    assert text_arena["id"] in listed.stdout and "words" in listed.stdout
    shown = honed("arena", "ratings", text_arena["id"], store=text_arena["store"])
    assert "votes from" in shown.stdout and shown.stdout.count(" · base") == 2
    missing = honed("arena", "ratings", "0" * 32, store=text_arena["store"], check_code=2)
    assert "no arena" in missing.stderr
