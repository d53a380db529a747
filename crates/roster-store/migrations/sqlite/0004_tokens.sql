-- API tokens: each belongs to one account and opens only its imports. Only a
-- SHA-256 of a token is kept; the token itself is shown once, when made.

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    -- Lower-case hex.
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
