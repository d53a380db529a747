-- Password delivery. A user created by an import has no usable password
-- until its delivery job stores the hash of a temporary one; the clear
-- password is never stored. One delivery per user, written in the
-- transaction that creates the user; its apalis job is queued in the same
-- transaction. The same tables as migrations/sqlite, in PostgreSQL's types.

ALTER TABLE users ADD COLUMN password_hash TEXT;
-- The user must choose a new password at the next sign-in.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE deliveries (
    user_id BIGINT PRIMARY KEY,
    import_id BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    -- Sends tried so far; each one with a fresh password.
    attempts BIGINT NOT NULL DEFAULT 0,
    -- The last failure: why it is being retried, or why it failed for good.
    error TEXT,
    -- When it was sent or given up.
    settled_at TEXT
);

-- The import's deliveries by state, kept beside its row counts.
ALTER TABLE imports ADD COLUMN deliveries_queued BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN deliveries_sent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN deliveries_failed BIGINT NOT NULL DEFAULT 0;
