-- Accounts and their directory: locations, users, extensions, numbers.
-- Uniqueness lives here, not in code: one email per account (case-insensitive),
-- one user per extension, one user per number, one primary number per user.
-- The same tables as migrations/sqlite, in PostgreSQL's types.

CREATE TABLE accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    extension_min_digits BIGINT NOT NULL DEFAULT 3,
    extension_max_digits BIGINT NOT NULL DEFAULT 6,
    -- Extensions roster assigns are the free ones from here upward.
    extension_first BIGINT NOT NULL DEFAULT 7000,
    default_role TEXT NOT NULL DEFAULT 'user',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (extension_min_digits BETWEEN 1 AND extension_max_digits),
    CHECK (extension_max_digits <= 15)
);

CREATE TABLE locations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    -- The name as matched: trimmed and lower-cased (Unicode), computed by roster.
    name_key TEXT NOT NULL,
    UNIQUE (account_id, name_key)
);

CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    display_name TEXT NOT NULL,
    -- ASCII only (roster refuses other addresses), so lower() is exact.
    email TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    job_title TEXT,
    department TEXT,
    organizational_unit TEXT,
    role TEXT NOT NULL,
    location_id BIGINT NOT NULL REFERENCES locations (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (account_id, lower(email));

CREATE TABLE extensions (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    extension TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (account_id, extension)
);
CREATE INDEX extensions_user ON extensions (user_id);

-- A number the account owns: parked while user_id is NULL, else assigned to
-- exactly that user. Stored as its E.164 digits without the '+'.
CREATE TABLE numbers (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    number BIGINT NOT NULL CHECK (number BETWEEN 12000000000 AND 19999999999),
    user_id BIGINT REFERENCES users (id),
    is_primary BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (account_id, number),
    CHECK (user_id IS NOT NULL OR NOT is_primary)
);
CREATE INDEX numbers_user ON numbers (user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX numbers_one_primary ON numbers (user_id) WHERE is_primary;
