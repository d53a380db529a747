-- Update mode: an import may update users as well as create them. Its mode
-- and the counts of rows updated and left unchanged join the import; row
-- results gain those statuses; the plan the import applies is kept beside
-- it. The same tables as migrations/sqlite.

ALTER TABLE imports ADD COLUMN mode TEXT NOT NULL DEFAULT 'create'
    CHECK (mode IN ('create', 'upsert', 'update'));
ALTER TABLE imports ADD COLUMN updated BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN unchanged BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports DROP CONSTRAINT imports_check;
ALTER TABLE imports ADD CONSTRAINT imports_check
    CHECK (processed = created + updated + unchanged + failed
           AND processed + not_processed <= total);

ALTER TABLE row_results DROP CONSTRAINT row_results_status_check;
ALTER TABLE row_results ADD CONSTRAINT row_results_status_check
    CHECK (status IN ('created', 'updated', 'unchanged', 'failed'));
ALTER TABLE row_results DROP CONSTRAINT row_results_check;
ALTER TABLE row_results ADD CONSTRAINT row_results_check
    CHECK ((status = 'failed') = (user_id IS NULL));

CREATE TABLE import_plan_rows (
    import_id BIGINT NOT NULL,
    row BIGINT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('create', 'update', 'unchanged')),
    user_id BIGINT,
    -- roster's encoding of the user's fields, numbers and extensions.
    before BYTEA,
    linked BOOLEAN NOT NULL,
    PRIMARY KEY (import_id, row),
    CHECK ((action = 'create') = (user_id IS NULL) AND (user_id IS NULL) = (before IS NULL))
);
CREATE INDEX import_plan_linked ON import_plan_rows (import_id, row) WHERE linked;
