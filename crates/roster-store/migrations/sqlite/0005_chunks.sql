-- Chunks: an import is split into runs of consecutive data rows, each its
-- own job that any worker may take. The import's counts add up over its
-- chunks (every batch adds its own); it finishes when its last chunk does.

-- Data rows per chunk; 0: the whole file in one.
ALTER TABLE imports ADD COLUMN chunk_rows INTEGER NOT NULL DEFAULT 0;
-- Chunks planned (0: not planned yet), and chunks done.
ALTER TABLE imports ADD COLUMN chunks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN chunks_done INTEGER NOT NULL DEFAULT 0;
-- Extensions roster assigns to the import's rows are taken from here
-- upward, a block at a time (NULL: from the account's extension_first).
ALTER TABLE imports ADD COLUMN extension_cursor INTEGER;
-- The extensions the file's rows name, never assigned to another row:
-- comma-separated digits (NULL: not known yet).
ALTER TABLE imports ADD COLUMN reserved_extensions TEXT;

CREATE TABLE import_chunks (
    import_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    -- The chunk's data rows: the first (0-based, in file order), and how many.
    first_row INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    -- The worker that took it last.
    worker TEXT,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (import_id, seq)
) WITHOUT ROWID;
