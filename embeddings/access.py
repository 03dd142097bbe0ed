"""Who reads the cache's figures: its operators, the superusers.

The cache is shared by everyone whose texts it embeds. Its counters, read before and after
embedding one text, say whether that text was a hit: whether someone else's texts hold it
verbatim. Staff may run a part of the installation only (in the project using this app, one
client's projects), so the figures are the superusers' (and a Prometheus scraper's, with
`EMBEDDINGS["METRICS_TOKEN"]`), not every staff user's.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def is_operator(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Whether `user` may read the cache's figures and run its maintenance: an active
    superuser."""
    return bool(user is not None and user.is_active and user.is_superuser)
