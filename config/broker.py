"""Kombu's Redis transport options, from the visibility timeout."""

from __future__ import annotations

# kombu's own default for how long the restore lock may be held.
KOMBU_MUTEX_EXPIRE = 300


def redis_transport_options(visibility: int) -> dict[str, int]:
    """`visibility`: how long a message taken by a worker that then vanished
    (killed whole, its machine gone) stays unacknowledged before Redis gives
    it back (see CELERY_VISIBILITY_TIMEOUT in settings)."""
    return {
        "visibility_timeout": visibility,
        # Look for such messages every 10 s (kombu's default is 100 s); one
        # cheap sorted-set query each.
        "unacked_restore_interval": min(10, max(1, visibility // 4)),
        "unacked_restore_throttle": 1,
        # Every worker takes a lock in Redis for each look. A worker killed
        # while it held it (SIGKILL, OOM) leaves it to expire: kombu's 5
        # minutes, during which no one gives any message back. No message is
        # due sooner than the visibility timeout, so holding the others back
        # longer than that only delays them; a look takes milliseconds, and
        # two looks at once cannot give a message back twice (each is a
        # transaction on its tag).
        "unacked_mutex_expire": min(KOMBU_MUTEX_EXPIRE, max(5, visibility)),
    }
