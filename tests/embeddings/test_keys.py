import pytest

from embeddings import keys


def test_fingerprint_ignores_field_order():
    assert keys.fingerprint({"a": 1, "b": 2}) == keys.fingerprint({"b": 2, "a": 1})


@pytest.mark.parametrize(
    "change",
    [
        {"model": "other"},
        {"normalize": True},
        {"max_seq_length": 128},
        {"prompt": "query: "},
        {"storage_dtype": "float16"},
        {"format": 2},
    ],
)
def test_fingerprint_changes_with_every_field(change):
    base = {
        "model": "m",
        "normalize": False,
        "max_seq_length": 256,
        "prompt": None,
        "storage_dtype": "float32",
        "format": 1,
    }
    assert keys.fingerprint({**base, **change}) != keys.fingerprint(base)


def test_keys_are_injective_across_field_boundaries():
    # Naive "a:b" + "c" concatenation would make these two collide.
    assert keys.fingerprint({"model": "a:b", "prompt": "c"}) != keys.fingerprint(
        {"model": "a", "prompt": "b:c"}
    )
    ns = keys.namespace("emb", "f" * 16)
    assert keys.text_keys(ns, ["a:b"]) != keys.text_keys(ns, ["a", "b"])[:1]
    assert len(set(keys.text_keys(ns, ["x", "x ", " x", "X"]))) == 4


def test_text_key_is_prefix_fingerprint_and_sha256():
    ns = keys.namespace("emb", "0123456789abcdef")
    [key] = keys.text_keys(ns, ["hello"])
    assert key == (
        "emb:v1:0123456789abcdef:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    )


def test_any_str_hashes_even_lone_surrogates():
    ns = keys.namespace("emb", "0" * 16)
    assert len(keys.text_keys(ns, ["\ud800", "emoji 😀", ""])) == 3


@pytest.mark.parametrize("prefix", ["", "a:b", "a*", "a b", "{emb}"])
def test_bad_prefix_is_refused(prefix):
    with pytest.raises(ValueError, match="prefix"):
        keys.namespace(prefix, "0" * 16)
