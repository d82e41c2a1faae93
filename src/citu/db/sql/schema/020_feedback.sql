-- QA feedback (thumbs up/down on answers). Same columns, types and index names as the old
-- service's table, so an existing deployment's rows can be copied over unchanged.
CREATE TABLE IF NOT EXISTS qa_feedback (
    id SERIAL PRIMARY KEY,
    question TEXT NOT NULL,
    sql TEXT NOT NULL,
    is_thumb_up BOOLEAN NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    create_time TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    is_in_training_data BOOLEAN DEFAULT FALSE,
    update_time TIMESTAMP
);

CREATE INDEX IF NOT EXISTS idx_qa_feedback_user_id ON qa_feedback (user_id);
CREATE INDEX IF NOT EXISTS idx_qa_feedback_create_time ON qa_feedback (create_time);
CREATE INDEX IF NOT EXISTS idx_qa_feedback_is_thumb_up ON qa_feedback (is_thumb_up);
CREATE INDEX IF NOT EXISTS idx_qa_feedback_is_in_training ON qa_feedback (is_in_training_data);
