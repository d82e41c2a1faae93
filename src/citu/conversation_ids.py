"""The one format of a conversation (and ReAct thread) id: ``<user_id>:<YYYYMMDDHHMMSSmmm>``.

Local time to the millisecond, as the old service generated them; the user id before the first
colon is how a conversation is attributed to its owner.
"""

from __future__ import annotations

from datetime import datetime


def new_conversation_id(user_id: str, moment: datetime | None = None) -> str:
    """A fresh id for ``user_id``'s conversation started at ``moment`` (default: now)."""
    moment = moment or datetime.now()
    return f"{user_id}:{moment:%Y%m%d%H%M%S}{moment.microsecond // 1000:03d}"
