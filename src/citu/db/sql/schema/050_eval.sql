-- Evaluation runs (accuracy, latency and cost on a golden question set) and their
-- per-question results. A run's status moves running -> completed | failed | cancelled |
-- interrupted; the partial unique index lets only one run per set be under way, on any worker.

CREATE TABLE IF NOT EXISTS eval_runs (
    run_id           VARCHAR(48) PRIMARY KEY,
    set_name         VARCHAR(200) NOT NULL,
    target           VARCHAR(20) NOT NULL,
    concurrency      INTEGER NOT NULL,
    status           VARCHAR(20) NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'interrupted')),
    total            INTEGER NOT NULL DEFAULT 0,
    done             INTEGER NOT NULL DEFAULT 0,
    summary          JSONB,
    report           JSONB,
    error_message    TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    created_by       VARCHAR(64),
    created_at       TIMESTAMP NOT NULL DEFAULT LOCALTIMESTAMP,
    finished_at      TIMESTAMP,
    updated_at       TIMESTAMP NOT NULL DEFAULT LOCALTIMESTAMP
);

CREATE INDEX IF NOT EXISTS idx_eval_runs_created_at ON eval_runs (created_at DESC);
CREATE INDEX IF NOT EXISTS idx_eval_runs_set_name ON eval_runs (set_name);
CREATE UNIQUE INDEX IF NOT EXISTS uq_eval_runs_one_running_per_set
    ON eval_runs (set_name) WHERE status = 'running';

CREATE TABLE IF NOT EXISTS eval_results (
    run_id      VARCHAR(48) NOT NULL REFERENCES eval_runs (run_id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    correct     BOOLEAN,
    status      VARCHAR(40),
    latency_ms  DOUBLE PRECISION,
    result      JSONB NOT NULL,
    PRIMARY KEY (run_id, position)
);

CREATE INDEX IF NOT EXISTS idx_eval_results_question ON eval_results (question_id);
