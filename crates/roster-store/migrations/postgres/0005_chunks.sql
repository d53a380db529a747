-- Chunks: an import is split into runs of consecutive data rows, each its
-- own job that any worker may take. The import's counts add up over its
-- chunks (every batch adds its own); it finishes when its last chunk does.
-- The same tables as migrations/sqlite, in PostgreSQL's types.

-- Data rows per chunk; 0: the whole file in one.
ALTER TABLE imports ADD COLUMN chunk_rows BIGINT NOT NULL DEFAULT 0;
-- Chunks planned (0: not planned yet), and chunks done.
ALTER TABLE imports ADD COLUMN chunks BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN chunks_done BIGINT NOT NULL DEFAULT 0;

CREATE TABLE import_chunks (
    import_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    -- The chunk's data rows: the first (0-based, in file order), and how many.
    first_row BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    -- Where its first row starts in the file (byte, line), for a reader to
    -- go straight there; NULL: pass over the rows before it.
    start_offset BIGINT,
    start_line BIGINT,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    -- The worker that took it last.
    worker TEXT,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (import_id, seq)
);

-- The extensions an import's file names, never assigned to another row:
-- comma-separated digits. Apart from the imports table, which every batch
-- updates.
CREATE TABLE import_reserved_extensions (
    import_id BIGINT PRIMARY KEY,
    extensions TEXT NOT NULL
);

-- Extensions roster assigns to an import's rows are taken from here
-- upward, a block at a time. Apart from the imports table, whose row every
-- batch locks until it commits: a claim never waits for a batch.
CREATE TABLE import_extension_cursors (
    import_id BIGINT PRIMARY KEY,
    next_extension BIGINT NOT NULL
);
