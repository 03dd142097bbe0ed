"""The background entry recount the stats ask for: per-model entry counts come from a SCAN,
which must never run on a request, so a stale count is redone in a thread, by one process at a
time (a claim that expires if its holder dies)."""

import logging
import threading
import time
import uuid
from typing import Any

from embeddings import keys
from embeddings.conf import get_config
from embeddings.exceptions import CacheError
from embeddings.stores import get_store

logger = logging.getLogger(__name__)

_recount_lock = threading.Lock()


def recount_if_stale(counted: dict[str, Any], total: int | None, *, wait: bool = False) -> bool:
    """Recount in a background thread when the last count is older than COUNT_MAX_AGE, or
    sooner when the store has changed since, but never more often than every 20 counts' worth
    of time (at least 5 s), so a busy million-key cache is not scanned back to back.

    `wait`: count in this thread, for a short-lived process (a command), whose daemon thread
    would die with it while holding the claim, so nobody recounted for the claim's 30 s.
    Returns whether it counted (with `wait`), so the caller can read the fresh count."""
    max_age = get_config()["STATS"]["COUNT_MAX_AGE"]
    counted_at = counted.get("counted_at")
    if counted_at is not None:
        age = time.time() - counted_at
        changed = total is not None and total != counted.get("store_total")
        pause = max(5.0, 20 * float(counted.get("seconds") or 0))
        if age < max_age and not (changed and age >= pause):
            return False
    if not _recount_lock.acquire(blocking=False):
        return False  # one is already running in this process
    token = uuid.uuid4().hex
    claim = keys.recount_claim_key(get_config()["KEY_PREFIX"])
    store = get_store()
    try:  # and one at a time across processes
        lease = int(max(30, 3 * float(counted.get("seconds") or 0)))
        [ours] = store.claim_many([claim], lease=lease, token=token)
    except CacheError:
        ours = False
    if not ours:
        _recount_lock.release()
        return False

    def run() -> None:
        from embeddings.maintenance import refresh_entry_counts

        try:
            refresh_entry_counts()
        except CacheError as exc:  # down or full: the stats already say so
            logger.warning("background entry count skipped: %s", exc)
        except Exception:  # a background thread has no caller to tell; log and move on
            logger.exception("background entry count failed")
        finally:
            try:
                store.release_many([claim], token=token)
            except CacheError:
                pass  # the claim expires by itself
            except Exception:  # likewise; whatever it was, recounting must not stop for good
                logger.exception("releasing the entry count's claim failed")
            finally:
                _recount_lock.release()

    if wait:
        run()
        return True
    threading.Thread(target=run, name="embeddings-recount", daemon=True).start()
    return False
