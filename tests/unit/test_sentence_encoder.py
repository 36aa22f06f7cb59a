"""The sentence encoder from its pinned packages: unit vectors that put paraphrases together, the same
answer alone or in a batch and from the cache, and a damaged model file stopped at load with a clear
message (never a wrong answer)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from common.sentence_encoder import (
    DIMENSIONS,
    MODEL_FILE,
    MODEL_PACKAGE,
    TOKENIZER_FILE,
    TOKENIZER_PACKAGE,
    EncoderUnavailable,
    SentenceEncoder,
    package_file,
    shared_encoder,
)


def test_paraphrases_are_closer_than_unrelated_messages():
    vectors = shared_encoder().encode(
        ["can I visit your showroom", "do you have a show room", "my order never arrived and nobody replies"]
    )
    assert vectors.shape == (3, DIMENSIONS) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.6 > 0.3 > similarity[0, 2]


def test_alone_in_a_batch_and_from_the_cache_give_the_same_vector():
    encoder = shared_encoder()
    text = "where is my refund, I have waited three weeks"
    alone = SentenceEncoder(
        package_file(MODEL_PACKAGE, MODEL_FILE), package_file(TOKENIZER_PACKAGE, TOKENIZER_FILE)
    ).encode_one(text)
    batch = encoder.encode(["a much longer message that makes the batch pad the short one " * 3, text, "hi"])
    assert np.allclose(alone, batch[1], atol=1e-4)
    assert np.array_equal(encoder.encode([text])[0], encoder.encode([text])[0])
    assert encoder.encode([]).shape == (0, DIMENSIONS)


def test_a_damaged_model_file_stops_the_encoder_at_load(tmp_path: Path):
    model = tmp_path / "model.onnx"
    shutil.copy(package_file(MODEL_PACKAGE, MODEL_FILE), model)
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    model.write_bytes(bytes(data))
    with pytest.raises(EncoderUnavailable, match="not the expected model.*sha256.*Reinstall"):
        SentenceEncoder(model, package_file(TOKENIZER_PACKAGE, TOKENIZER_FILE))


def test_a_missing_file_says_how_to_reinstall(tmp_path: Path):
    with pytest.raises(EncoderUnavailable, match="missing: run `make setup`"):
        SentenceEncoder(tmp_path / "nothing.onnx", package_file(TOKENIZER_PACKAGE, TOKENIZER_FILE))
    with pytest.raises(EncoderUnavailable, match="not installed"):
        package_file("no_such_package_here", "model.onnx")


def test_text_that_is_not_valid_unicode_is_encoded_not_refused():
    vectors = shared_encoder().encode(["a\ud800b", "ab"])
    assert vectors.shape == (2, DIMENSIONS) and np.all(np.isfinite(vectors))
