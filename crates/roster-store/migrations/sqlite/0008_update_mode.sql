-- no-transaction
-- Update mode: an import may update users as well as create them. Its mode
-- and the counts of rows updated and left unchanged join the import; row
-- results gain those statuses; the plan the import applies is kept beside
-- it. SQLite changes a CHECK only by building the table again, which needs
-- foreign keys off, and that only outside a transaction: the migration opens
-- its own.

PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE imports_new (
    id INTEGER PRIMARY KEY,
    -- The id shown outside (a UUID): not guessable, unlike the row id.
    public_id TEXT NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'stopping', 'stopped',
                                         'completed', 'completed_with_errors', 'failed')),
    -- What the rows do to users whose email they name.
    mode TEXT NOT NULL DEFAULT 'create' CHECK (mode IN ('create', 'upsert', 'update')),
    -- As the admin named the file: shown, never used as a path.
    file_name TEXT NOT NULL,
    file_bytes INTEGER NOT NULL DEFAULT 0,
    voice INTEGER NOT NULL CHECK (voice IN (0, 1)),
    -- 'users', 'none' or 'to:ADDRESS'.
    passwords TEXT NOT NULL,
    total INTEGER NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    not_processed INTEGER NOT NULL DEFAULT 0,
    -- Why the import failed, for state 'failed'.
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    deliveries_queued INTEGER NOT NULL DEFAULT 0,
    deliveries_sent INTEGER NOT NULL DEFAULT 0,
    deliveries_failed INTEGER NOT NULL DEFAULT 0,
    chunk_rows INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    chunks_done INTEGER NOT NULL DEFAULT 0,
    deliveries_window_ms INTEGER NOT NULL DEFAULT 0,
    deliveries_window_count INTEGER NOT NULL DEFAULT 0,
    deliveries_rate_milli INTEGER,
    deliveries_settled_ms INTEGER,
    CHECK (processed = created + updated + unchanged + failed
           AND processed + not_processed <= total)
);
INSERT INTO imports_new (id, public_id, account_id, state, file_name, file_bytes, voice,
        passwords, total, processed, created, failed, not_processed, error, created_at,
        started_at, finished_at, deliveries_queued, deliveries_sent, deliveries_failed,
        chunk_rows, chunks, chunks_done, deliveries_window_ms, deliveries_window_count,
        deliveries_rate_milli, deliveries_settled_ms)
    SELECT id, public_id, account_id, state, file_name, file_bytes, voice,
        passwords, total, processed, created, failed, not_processed, error, created_at,
        started_at, finished_at, deliveries_queued, deliveries_sent, deliveries_failed,
        chunk_rows, chunks, chunks_done, deliveries_window_ms, deliveries_window_count,
        deliveries_rate_milli, deliveries_settled_ms
    FROM imports;
DROP TABLE imports;
ALTER TABLE imports_new RENAME TO imports;
-- At most one import queued or running per account, whoever starts it.
CREATE UNIQUE INDEX imports_one_active ON imports (account_id)
    WHERE state IN ('queued', 'running', 'stopping');
CREATE INDEX imports_account ON imports (account_id, created_at);

CREATE TABLE row_results_new (
    import_id INTEGER NOT NULL,
    -- The line of the file where the row starts.
    row INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('created', 'updated', 'unchanged', 'failed')),
    user_id INTEGER,
    email TEXT,
    extension TEXT,
    -- The user's numbers in E.164, primary first, separated by ';'.
    numbers TEXT,
    -- For a failure: a JSON array of {"code", "column", "message"}.
    errors TEXT,
    PRIMARY KEY (import_id, row),
    CHECK ((status = 'failed') = (user_id IS NULL))
) WITHOUT ROWID;
INSERT INTO row_results_new SELECT import_id, row, status, user_id, email, extension, numbers,
    errors FROM row_results;
DROP TABLE row_results;
ALTER TABLE row_results_new RENAME TO row_results;
CREATE INDEX row_results_failed ON row_results (import_id, row) WHERE status = 'failed';

-- The plan an import applies: a row for each data row that updates a user
-- or leaves one unchanged (with the user as the plan saw them), or that is
-- linked to another row (it takes what that row gives up, or the other way
-- round: linked rows are applied together). A data row without one creates
-- a user.
CREATE TABLE import_plan_rows (
    import_id INTEGER NOT NULL,
    row INTEGER NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('create', 'update', 'unchanged')),
    user_id INTEGER,
    -- roster's encoding of the user's fields, numbers and extensions.
    before BLOB,
    linked INTEGER NOT NULL CHECK (linked IN (0, 1)),
    PRIMARY KEY (import_id, row),
    CHECK ((action = 'create') = (user_id IS NULL) AND (user_id IS NULL) = (before IS NULL))
) WITHOUT ROWID;
CREATE INDEX import_plan_linked ON import_plan_rows (import_id, row) WHERE linked = 1;

COMMIT;
PRAGMA foreign_keys = ON;
