-- Password deliveries travel in groups: the users one batch of an import
-- created, in one transaction, get one job per attempt between them, not
-- one each. A group is the import, the line its batch starts on, and the
-- attempt its deliveries wait for; `delivery_jobs` links each group to the
-- job that carries it now, so that a delivery left without a live job is
-- found by one index search per group, never by a scan of the queue.

-- The line of the file the batch that created the user starts on.
ALTER TABLE deliveries ADD COLUMN batch INTEGER NOT NULL DEFAULT 0;
-- The attempt the delivery waits for (from 1), while it is queued.
ALTER TABLE deliveries ADD COLUMN next_attempt INTEGER NOT NULL DEFAULT 1;
UPDATE deliveries SET next_attempt = attempts + 1 WHERE state = 'queued';
CREATE INDEX deliveries_waiting ON deliveries (import_id, batch, next_attempt)
    WHERE state = 'queued';

CREATE TABLE delivery_jobs (
    import_id INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    -- The idempotency key of the group's job, unique to each job pushed.
    job_key TEXT NOT NULL,
    PRIMARY KEY (import_id, batch, attempt)
) WITHOUT ROWID;
-- Deliveries queued before groups existed: a key no job has, so that the
-- first sweep queues them again.
INSERT INTO delivery_jobs (import_id, batch, attempt, job_key)
    SELECT DISTINCT import_id, batch, next_attempt, 'none' FROM deliveries WHERE state = 'queued';

-- How fast the import's passwords go out: messages settled in the current
-- window (from its start, in Unix milliseconds), the rate of the last full
-- window (messages a second, times 1000), and when one was last settled.
ALTER TABLE imports ADD COLUMN deliveries_window_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN deliveries_window_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN deliveries_rate_milli INTEGER;
ALTER TABLE imports ADD COLUMN deliveries_settled_ms INTEGER;
