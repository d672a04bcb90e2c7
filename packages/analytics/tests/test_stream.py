"""The real streaming query on a local Spark: files landing in steps, duplicates, restarts."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.analytics.sourcelog import batch_files
from scrapyfleet.demosite.catalog import Catalog, price_text

VOCAB = [
    "flat",
    "Garden",
    "jacuzzi",
    "studio",
    "café",
    "2-bed",
    "sea-view",
    "parking",
    "quiet",
    "Penthouse",
    "loft",
    "Don't",
    "x²",
]
BAD_LINES = [
    "not json at all",
    '{"url": "http://site/bad", "title": "cut off',
    json.dumps({"url": "http://site/b1", "title": "no price"}),
    json.dumps({"url": "http://site/b2", "price": 100}),
    json.dumps({"url": "http://site/b3", "title": "free", "price": 0}),
    json.dumps({"url": "http://site/b4", "title": "POA", "price": "POA"}),
    json.dumps({"title": "no url", "price": 100}),
]


def listing_lines(rng: random.Random, start: int, count: int) -> list[str]:
    """Listings `start..start+count-1` in mixed shapes; prices in quarters, so sums are exact."""
    lines = []
    for i in range(start, start + count):
        title = " ".join(rng.sample(VOCAB, rng.randint(1, 5)))
        price = rng.randint(2000, 8000) / 4
        shape = i % 3
        item: dict[str, Any] = {
            "url": f"http://site/p{i}",
            "title": [title] if shape == 1 else title,
            "price": [price_text(price)] if shape == 1 else str(price) if shape == 2 else price,
            "spider": "easy",
        }
        lines.append(json.dumps(item, ensure_ascii=False))
    return lines


def make_steps() -> list[list[str]]:
    """Four deliveries: new listings, bad lines, duplicates within a file and re-run batches."""
    rng = random.Random(7)
    first = listing_lines(rng, 0, 300) + BAD_LINES[:3]
    second = listing_lines(rng, 300, 300) + first[:50] + first[100:110] * 2 + BAD_LINES[3:]
    third = listing_lines(rng, 600, 300) + first  # a whole batch delivered again
    fourth = listing_lines(rng, 900, 200) + second[250:] + ["", "  "]
    return [first, second, third, fourth]


@pytest.fixture
def job(make_job: Callable[..., Any], tmp_path: Path) -> Iterator[Any]:
    job = make_job(tmp_path)
    job.start()
    yield job
    job.stop()


@pytest.fixture(scope="module")
def uninterrupted(
    make_job: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> list[dict]:
    """shifts.json after each step of one uninterrupted run."""
    job = make_job(tmp_path_factory.mktemp("uninterrupted"))
    job.start()
    try:
        return [job.land(f"step{n}_easy_t.jl", lines) for n, lines in enumerate(make_steps())]
    finally:
        job.stop()


def test_jacuzzi_example(job: Any) -> None:
    lines = [json.dumps({"url": "u0", "title": "Jacuzzi flat", "price": 1300})]
    lines += [json.dumps({"url": f"u{i}", "title": "Flat", "price": 995}) for i in range(1, 61)]
    doc = job.land("b1_easy_t.jl", lines)
    assert doc["listings"] == 61 and doc["avg_price"] == 1000.0
    assert [row["word"] for row in doc["words"]] == ["jacuzzi"]  # "flat" is everywhere
    assert doc["words"][0]["shift"] == pytest.approx(0.305, abs=1e-12)


def test_one_pass_over_the_input(job: Any) -> None:
    lines = listing_lines(random.Random(1), 0, 120) + BAD_LINES
    job.land("b1_easy_t.jl", lines)
    assert job.query is not None
    progress = job.query.lastProgress
    assert progress is not None and progress["numInputRows"] == len(lines)


def test_each_step_matches_reference(
    uninterrupted: list[dict], reference_table: Callable, assert_same_table: Callable
) -> None:
    seen: list[str] = []
    for step, doc in zip(make_steps(), uninterrupted, strict=True):
        seen += step
        assert_same_table(doc, reference_table(seen))


def test_restart_gives_the_uninterrupted_table(
    make_job: Callable[..., Any], tmp_path: Path, uninterrupted: list[dict]
) -> None:
    first, second, third, fourth = make_steps()
    job = make_job(tmp_path)
    job.start()
    job.land("step0_easy_t.jl", first)
    job.land("step1_easy_t.jl", second)
    job.stop()
    job.drop("step2_easy_t.jl", third)  # lands while the job is down
    job.start()
    try:
        final = job.land("step3_easy_t.jl", fourth)
    finally:
        job.stop()
    expected = uninterrupted[-1]
    for key in ("listings", "bad_records", "avg_price", "words"):
        assert final[key] == expected[key], key
    progress = json.loads((job.output / "progress.json").read_text())
    assert [entry["listings"] for entry in progress][-1] == expected["listings"]


def test_demosite_ground_truth(job: Any) -> None:
    catalog = Catalog(total=3000, seed=0)
    lines = []
    for i in range(catalog.total):
        item = catalog.item(i, "http://127.0.0.1:9312")
        if i % 2:  # the book's ItemLoader shapes
            item["title"], item["price"] = [item["title"]], [price_text(item["price"])]
        lines.append(json.dumps(item, ensure_ascii=False))
    job.drop("b1_easy_t.jl", lines[:1000])
    doc = job.land("b2_easy_t.jl", lines[1000:])
    truth = catalog.truth()
    assert doc["listings"] == catalog.total and doc["bad_records"] == 0
    assert doc["avg_price"] == pytest.approx(catalog.average_price, rel=1e-12)
    got = {row["word"]: row for row in doc["words"]}
    assert got.keys() == truth.keys()
    for word, want in truth.items():
        assert got[word]["count"] == want.count, word
        assert got[word]["sum"] == pytest.approx(want.sum, rel=1e-12), word
        assert got[word]["shift"] == pytest.approx(want.shift, abs=1e-9), word


def test_huge_line_is_a_bad_record(job: Any) -> None:
    """A 50 MB line (cap 1 MiB) is counted as bad, never parsed; the query stays up."""
    good = listing_lines(random.Random(2), 0, 50)
    huge = json.dumps({"url": "http://site/huge", "title": "x " * 25_000_000, "price": 1})
    doc = job.land("b1_easy_t.jl", [good[0], huge, *good[1:]])
    assert (doc["listings"], doc["bad_records"]) == (50, 1)
    assert job.query is not None and job.query.isActive
    doc = job.land("b2_easy_t.jl", listing_lines(random.Random(3), 50, 10))
    assert (doc["listings"], doc["bad_records"]) == (60, 1)


def test_file_deleted_after_listing(
    make_job: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file listed for a micro-batch but deleted before it is read is skipped and named."""
    job = make_job(tmp_path, "--max-files-per-trigger", "1")
    job.items.mkdir(parents=True)
    sizes = {"a_easy_t.jl": 30, "b_easy_t.jl": 20}
    for start, (name, size) in zip((0, 30), sizes.items(), strict=True):
        job.drop(name, listing_lines(random.Random(start), start, size))
    checkpoint = tmp_path / "ckpt"
    read_first: list[str] = []

    def delete_the_other(_: str) -> None:  # after micro-batch 0, before 1 reads its file
        if not read_first:
            read_first.extend(path.name for path in batch_files(checkpoint, 0) or [])
            for name in sizes.keys() - set(read_first):
                (job.items / name).unlink()

    job.start(echo=delete_the_other)
    try:
        doc = job.land("c_easy_t.jl", listing_lines(random.Random(6), 50, 5))
        assert job.query is not None and job.query.isActive
    finally:
        job.stop()
    (other,) = sizes.keys() - set(read_first)
    assert [path.name for path in batch_files(checkpoint, 1) or []] == [other]
    assert (doc["listings"], doc["bad_records"]) == (sizes[read_first[0]] + 5, 0)
    assert "files_gone" in capsys.readouterr().out
