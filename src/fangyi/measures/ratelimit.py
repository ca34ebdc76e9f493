"""Hourly counters in the shared cache, for the pages anyone can reach without a login.

A counter lives in a fixed window (the key names the window), created with an atomic
`cache.add` and counted with `cache.incr` (atomic on Redis), so every server process counts
the same hits and nothing needs cleaning up: an old window's key simply expires.
"""

import time

from django.core.cache import cache

WINDOW_SECONDS = 3600


def within_limit(name: str, limit: int) -> bool:
    """Count one hit on `name` in this hour; False once the hour's hits pass `limit`."""
    key = f"ratelimit:{name}:{int(time.time()) // WINDOW_SECONDS}"
    cache.add(key, 0, timeout=2 * WINDOW_SECONDS)
    try:
        hits = cache.incr(key)
    except ValueError:  # evicted between add and incr: a lost count, not an error
        return True
    return hits <= limit
