-- An import's failed rows in file order: the results page filtered to
-- failures, or to one error code, and the counts by code, read only them.
CREATE INDEX row_results_failed ON row_results (import_id, row) WHERE status = 'failed';
