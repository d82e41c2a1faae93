-- ReAct agent: one running turn per conversation thread, across workers.
-- The lease expires on its own if a worker dies mid-turn.
CREATE TABLE IF NOT EXISTS react_turn_locks (
    thread_id  TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
