"""Landing receipts: signed, found in a reply, verified only under the key that signed them."""

from __future__ import annotations

import dataclasses

import pytest

from scrapyfleet.core import receipts

KEY = b"k" * 32
OTHER = b"o" * 32


def test_sign_parse_verify_round_trip() -> None:
    text = receipts.sign(KEY, "b1_easy_t.jl", 1234, 10)
    receipt = receipts.parse(f"226 landed b1_easy_t.jl; {text}")
    assert receipt == receipts.parse(text)
    assert receipt is not None
    assert (receipt.name, receipt.size, receipt.lines) == ("b1_easy_t.jl", 1234, 10)
    assert str(receipt) == text
    assert text.startswith("receipt v1 name=b1_easy_t.jl bytes=1234 lines=10 hmac=")
    assert receipts.verify(KEY, receipt)
    assert not receipts.verify(OTHER, receipt)


@pytest.mark.parametrize("field", ["name", "size", "lines"])
def test_any_changed_field_fails_verification(field: str) -> None:
    receipt = receipts.parse(receipts.sign(KEY, "a.jl", 5, 1))
    assert receipt is not None
    changed = {"name": "b.jl", "size": 6, "lines": 2}[field]
    assert not receipts.verify(KEY, dataclasses.replace(receipt, **{field: changed}))


@pytest.mark.parametrize(
    "text",
    [
        "226 landed a.jl",
        "receipt v1 name=a.jl bytes=5 lines=1 hmac=" + "0" * 63,
        "receipt v2 name=a.jl bytes=5 lines=1 hmac=" + "0" * 64,
        "receipt v1 name=a.jl bytes=-5 lines=1 hmac=" + "0" * 64,
        "receipt v1 name=a.jl bytes=5 lines=1 hmac=" + "0" * 64 + "ff",
        "xreceipt v1 name=a.jl bytes=5 lines=1 hmac=" + "0" * 64,
    ],
)
def test_text_without_a_well_formed_receipt_parses_to_none(text: str) -> None:
    assert receipts.parse(text) is None


def test_keys_are_text_of_some_length(tmp_path) -> None:
    path = tmp_path / "key"
    path.write_text("  " + "x" * 16 + "\n")
    assert receipts.read_key_file(path) == b"x" * 16
    with pytest.raises(ValueError, match="at least 16 bytes"):
        receipts.key_from_text("short\n")
