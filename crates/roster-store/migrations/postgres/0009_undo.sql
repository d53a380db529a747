-- Undo: an import can be reverted, once, by a job like the import itself.
-- The result of each row that created or updated a user keeps the user as
-- the import left them (`after_image`) and, for an update, as it found them
-- (`before_image`), in roster's encoding of a user (never a password): undo
-- reverts a row only while its user is still as the import left them.
-- The same tables as migrations/sqlite.

ALTER TABLE row_results ADD COLUMN before_image BYTEA;
ALTER TABLE row_results ADD COLUMN after_image BYTEA;

-- The import's undo, once asked: its state (the words of an import's),
-- the rows it is to revert (those created or updated), how many it
-- reverted and left alone, the queued password messages it cancelled,
-- its chunks, and when.
ALTER TABLE imports ADD COLUMN undo_state TEXT
    CHECK (undo_state IN ('queued', 'running', 'stopping', 'stopped',
                          'completed', 'completed_with_errors', 'failed'));
ALTER TABLE imports ADD COLUMN undo_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN undone BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN not_undone BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN undo_cancelled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN undo_chunks BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN undo_chunks_done BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN undo_error TEXT;
ALTER TABLE imports ADD COLUMN undo_asked_at TEXT;
ALTER TABLE imports ADD COLUMN undo_started_at TEXT;
ALTER TABLE imports ADD COLUMN undo_finished_at TEXT;

-- An undo holds its account like an import: at most one import queued or
-- running, or being undone, per account.
DROP INDEX imports_one_active;
CREATE UNIQUE INDEX imports_one_active ON imports (account_id)
    WHERE state IN ('queued', 'running', 'stopping')
       OR undo_state IN ('queued', 'running', 'stopping');

-- What the undo did with each row it took up: reverted it, or left it
-- (with why); a note for a reverted row says what could not be (a password
-- message already sent). Written in the transaction that reverts the row.
CREATE TABLE row_undos (
    import_id BIGINT NOT NULL,
    row BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('undone', 'not_undone')),
    code TEXT,
    message TEXT,
    PRIMARY KEY (import_id, row)
);

-- An undo's chunks: runs of the import's rows, by line (first included,
-- end not), each its own job.
CREATE TABLE undo_chunks (
    import_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    first_row BIGINT NOT NULL,
    end_row BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    worker TEXT,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (import_id, seq)
);
