-- Imports: one uploaded file each, its lifecycle and counts, the file itself
-- in blocks (so every worker sharing the database can read it), and one
-- result per processed row. Rows without a result in a finished import were
-- not processed.

CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    -- The id shown outside (a UUID): not guessable, unlike the row id.
    public_id TEXT NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'stopping', 'stopped',
                                         'completed', 'completed_with_errors', 'failed')),
    -- As the admin named the file: shown, never used as a path.
    file_name TEXT NOT NULL,
    file_bytes INTEGER NOT NULL DEFAULT 0,
    voice INTEGER NOT NULL CHECK (voice IN (0, 1)),
    -- 'users', 'none' or 'to:ADDRESS'.
    passwords TEXT NOT NULL,
    total INTEGER NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    not_processed INTEGER NOT NULL DEFAULT 0,
    -- Why the import failed, for state 'failed'.
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    CHECK (processed = created + failed AND processed + not_processed <= total)
);
-- At most one import queued or running per account, whoever starts it.
CREATE UNIQUE INDEX imports_one_active ON imports (account_id)
    WHERE state IN ('queued', 'running', 'stopping');
CREATE INDEX imports_account ON imports (account_id, created_at);

CREATE TABLE import_file_blocks (
    import_id INTEGER NOT NULL REFERENCES imports (id),
    seq INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (import_id, seq)
);

-- No foreign keys from here: a result is written in the transaction of its
-- row's user, neither imports nor users are ever deleted, and a key check per
-- row is a measurable share of an import's time.
CREATE TABLE row_results (
    import_id INTEGER NOT NULL,
    -- The line of the file where the row starts.
    row INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('created', 'failed')),
    user_id INTEGER,
    email TEXT,
    extension TEXT,
    -- The user's numbers in E.164, primary first, separated by ';'.
    numbers TEXT,
    -- For a failure: a JSON array of {"code", "column", "message"}.
    errors TEXT,
    PRIMARY KEY (import_id, row),
    CHECK ((status = 'created') = (user_id IS NOT NULL))
) WITHOUT ROWID;

-- The import that created the user (informational: no key check per row).
ALTER TABLE users ADD COLUMN import_id INTEGER;
