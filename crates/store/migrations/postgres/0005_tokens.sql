-- API tokens: only the SHA-256 of each token's secret is kept (PostgreSQL dialect).
CREATE TABLE api_token (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('reader', 'officer', 'admin')),
    secret_hash  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    revoked_at   TEXT,
    revoked_by   TEXT
);
