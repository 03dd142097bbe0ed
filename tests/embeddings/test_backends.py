"""What the sentence-transformers backend reads from a model folder without loading it."""

import json

import pytest

from embeddings.backends.sentence_transformers import SentenceTransformerBackend
from embeddings.conf import get_config


def _folder(tmp_path):
    folder = tmp_path / "my-model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights" * 100)
    (folder / "config.json").write_text(json.dumps({"hidden_size": 8}))
    (folder / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"a": 0}}}))
    (folder / "vocab.txt").write_text("a\nb\n")
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True})
    )
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {}}))
    return folder


def _identity(folder) -> str:
    return SentenceTransformerBackend(model=str(folder), config=get_config()).identity


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("tokenizer.json", '{"model": {"vocab": {"a": 0, "b": 1}}}'),
        ("vocab.txt", "a\nb\nc\n"),
        ("1_Pooling/config.json", '{"word_embedding_dimension": 8, "pooling_mode_cls_token": 1}'),
        ("config_sentence_transformers.json", '{"prompts": {"query": "query: "}}'),
        ("config.json", '{"hidden_size": 8, "layer_norm_eps": 1e-5}'),
    ],
)
def test_a_local_folder_fingerprint_covers_config_and_tokenizer_files(tmp_path, name, content):
    folder = _folder(tmp_path)
    before = _identity(folder)
    (folder / name).write_text(content)
    assert _identity(folder) != before


def test_a_local_folder_fingerprint_is_stable(tmp_path):
    folder = _folder(tmp_path)
    assert _identity(folder) == _identity(folder)
    (folder / "README.md").write_text("docs do not change vectors")
    assert _identity(folder) == _identity(folder)
