-- Chunks: an import is split into runs of consecutive data rows, each its
-- own job that any worker may take. The import's counts add up over its
-- chunks (every batch adds its own); it finishes when its last chunk does.

-- Data rows per chunk; 0: the whole file in one.
ALTER TABLE imports ADD COLUMN chunk_rows INTEGER NOT NULL DEFAULT 0;
-- Chunks planned (0: not planned yet), and chunks done.
ALTER TABLE imports ADD COLUMN chunks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN chunks_done INTEGER NOT NULL DEFAULT 0;

CREATE TABLE import_chunks (
    import_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    -- The chunk's data rows: the first (0-based, in file order), and how many.
    first_row INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    -- Where its first row starts in the file (byte, line), for a reader to
    -- go straight there; NULL: pass over the rows before it.
    start_offset INTEGER,
    start_line INTEGER,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    -- The worker that took it last.
    worker TEXT,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (import_id, seq)
) WITHOUT ROWID;

-- The extensions an import's file names, never assigned to another row:
-- comma-separated digits. Apart from the imports table, which every batch
-- updates: SQLite rewrites a row whole, megabytes of them included.
CREATE TABLE import_reserved_extensions (
    import_id INTEGER PRIMARY KEY,
    extensions TEXT NOT NULL
);

-- Extensions roster assigns to an import's rows are taken from here
-- upward, a block at a time. Apart from the imports table, whose row every
-- batch locks until it commits: a claim never waits for a batch.
CREATE TABLE import_extension_cursors (
    import_id INTEGER PRIMARY KEY,
    next_extension INTEGER NOT NULL
);
