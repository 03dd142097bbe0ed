"""Cache key derivation. Pure: no Django, no I/O.

A key is `{prefix}:v1:{fingerprint}:{sha256(text)}`:

- the fingerprint hashes the canonical JSON of everything that changes a vector (model identity,
  normalisation, sequence length, prompt, storage dtype, value format), so changing any of them
  moves to a new key space instead of returning a stale vector;
- the text part is the SHA-256 of the exact UTF-8 text, fixed length, so no two (fingerprint,
  text) pairs give the same key: the encoding is injective.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping

KEY_VERSION = 1
FINGERPRINT_LENGTH = 16  # hex characters: 64 bits, ample to tell model configurations apart


def fingerprint(fields: Mapping[str, object]) -> str:
    """Return a short hex digest of `fields` (JSON-serialisable), independent of their order."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH]


def namespace(prefix: str, fingerprint: str) -> str:
    """Return the part shared by every key of one model configuration (ends with ':')."""
    # No braces either: on a Redis Cluster the first {...} of a key is its hash tag.
    if not prefix or any(ch in prefix for ch in ":*?[]{} \n"):
        raise ValueError(
            f"Key prefix must be non-empty without ':', braces, spaces or glob chars: {prefix!r}"
        )
    return f"{prefix}:v{KEY_VERSION}:{fingerprint}:"


def text_digest(text: str) -> str:
    # surrogatepass: every Python str hashes, even one with lone surrogates.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def text_keys(namespace: str, texts: Iterable[str]) -> list[str]:
    """Return the cache key of each text under `namespace`, in order."""
    sha256 = hashlib.sha256
    return [namespace + sha256(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]


def claim_key(key: str) -> str:
    """Key marking that some process is computing the vector of `key` (a value key).

    Outside `{prefix}:v1:` on purpose, so claims are never counted or flushed as vectors."""
    prefix, version, rest = key.split(":", 2)
    return f"{prefix}:claim:{version}:{rest}"


def stats_key(prefix: str, fingerprint: str, *, minute: int | None = None) -> str:
    """Key of a model's usage counters: lifetime, or one minute's bucket (epoch minute).

    Outside `{prefix}:v1:` on purpose: flushing a model's vectors keeps its counters."""
    base = f"{prefix}:stats:{fingerprint}"
    return base if minute is None else f"{base}:m{minute}"


def models_key(prefix: str) -> str:
    """Key of the registry of model fingerprints seen (fingerprint -> JSON description)."""
    return f"{prefix}:stats:models"


def recount_claim_key(prefix: str) -> str:
    """Key held by the one process recounting entries (so workers do not all scan at once)."""
    return f"{prefix}:stats:recount-claim"


def entry_counts_key(prefix: str) -> str:
    """Key of the last count of entries per fingerprint (JSON, with when it was taken)."""
    return f"{prefix}:stats:entry-counts"


_HEX = frozenset("0123456789abcdef")


def cluster_key(key: str, *, buckets: int) -> str:
    """The key as stored on a Redis Cluster: a text's keys (value and claim) get a hash tag
    naming one of `buckets` buckets of their model, chosen by the text's digest:

        emb:v1:{fingerprint}:{digest} -> emb:v1:{fingerprint}:{{fingerprint}.07}:{digest}

    So one model's vectors spread over `buckets` slots (over the nodes), a lookup is at most one
    MGET per bucket, a text's claim lives in its value's slot, and prefixes still match for
    SCAN. Other keys (counters, registries) are returned unchanged."""
    head, _, digest = key.rpartition(":")
    if len(digest) != 64 or not _HEX.issuperset(digest):
        return key
    fingerprint = head.rpartition(":")[2]
    bucket = int(digest[:8], 16) % buckets
    return f"{head}:{{{fingerprint}.{bucket:02x}}}:{digest}"


def logical_key(key: str) -> str:
    """The inverse of `cluster_key`."""
    start = key.find(":{")
    if start < 0:
        return key
    end = key.find("}:", start)
    return key[:start] + key[end + 1 :] if end > 0 else key
