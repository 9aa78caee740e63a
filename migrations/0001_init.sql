-- enrolld store schema, version 1: one table per entity. Each row keeps its record as JSONB
-- (the same serde record the sled store keeps) next to the columns that queries filter, sort
-- or constrain on. Text keys that are scanned in order use the "C" collation, so that they
-- sort by bytes, as sled's trees do.

CREATE TABLE certificates (
    serial      BYTEA PRIMARY KEY,
    subject_lc  TEXT COLLATE "C" NOT NULL,
    not_after   BIGINT NOT NULL,
    subject_id  TEXT COLLATE "C",
    record      JSONB NOT NULL,
    der         BYTEA NOT NULL
);
CREATE INDEX certificates_by_subject ON certificates (subject_lc, serial);
CREATE INDEX certificates_by_expiry ON certificates (not_after, serial);
CREATE INDEX certificates_by_subject_id ON certificates (subject_id, serial);

-- The CRL's source and the OCSP fast path: one row per revoked certificate.
CREATE TABLE revoked (
    serial      BYTEA PRIMARY KEY,
    revoked_at  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL,
    reason      TEXT NOT NULL
);

CREATE TABLE credentials (
    id          TEXT COLLATE "C" PRIMARY KEY,
    subject_id  TEXT COLLATE "C",
    record      JSONB NOT NULL
);
CREATE INDEX credentials_by_subject ON credentials (subject_id, id);

CREATE TABLE admin_tokens (
    id          TEXT COLLATE "C" PRIMARY KEY,
    record      JSONB NOT NULL
);

-- Monotonic counters: the revocation epoch and CRL numbers.
CREATE TABLE counters (
    name        TEXT PRIMARY KEY,
    value       BIGINT NOT NULL
);

-- Certificates per UTC day and channel group, bumped by the certificate's own transaction.
CREATE TABLE issued_per_day (
    day           BIGINT NOT NULL,
    channel_group TEXT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (day, channel_group)
);

CREATE TABLE subjects (
    id          TEXT COLLATE "C" PRIMARY KEY,
    kind        TEXT NOT NULL,
    external_id TEXT NOT NULL,
    record      JSONB NOT NULL,
    UNIQUE (kind, external_id)
);

-- The audit log: a hash chain numbered from 1, and its head (one row).
CREATE TABLE audit (
    seq         BIGINT PRIMARY KEY,
    record      JSONB NOT NULL
);
CREATE TABLE audit_head (
    id          INT PRIMARY KEY CHECK (id = 1),
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE TABLE audit_checkpoints (
    seq         BIGINT PRIMARY KEY,
    record      JSONB NOT NULL
);

CREATE TABLE approvals (
    id              TEXT COLLATE "C" PRIMARY KEY,
    credential      TEXT NOT NULL,
    csr_fingerprint TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    subject_id      TEXT COLLATE "C",
    record          JSONB NOT NULL,
    UNIQUE (credential, csr_fingerprint)
);
CREATE INDEX approvals_by_status ON approvals (status, created_at, id);
CREATE INDEX approvals_by_subject ON approvals (subject_id, id);

CREATE TABLE pickups (
    id          TEXT COLLATE "C" PRIMARY KEY,
    subject_id  TEXT COLLATE "C" NOT NULL,
    record      JSONB NOT NULL
);
CREATE INDEX pickups_by_subject ON pickups (subject_id, id);

CREATE TABLE scep_transactions (
    key         TEXT PRIMARY KEY,
    record      JSONB NOT NULL
);

-- The mail outbox: one mail per event.
CREATE TABLE mail (
    id              TEXT COLLATE "C" PRIMARY KEY,
    event           TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    record          JSONB NOT NULL
);
CREATE INDEX mail_due ON mail (next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX mail_recent ON mail (created_at, id);

-- ACME (RFC 8555 §7.1).
CREATE TABLE acme_eab_keys (
    kid         TEXT COLLATE "C" PRIMARY KEY,
    subject_id  TEXT COLLATE "C",
    account     TEXT UNIQUE,
    record      JSONB NOT NULL
);
CREATE INDEX acme_eab_keys_by_subject ON acme_eab_keys (subject_id, kid);

CREATE TABLE acme_accounts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    thumbprint  TEXT NOT NULL UNIQUE,
    eab_kid     TEXT UNIQUE,
    record      JSONB NOT NULL
);

CREATE TABLE acme_orders (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account     TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    record      JSONB NOT NULL
);
CREATE INDEX acme_orders_by_account ON acme_orders (account, created_at, id);

CREATE TABLE acme_authzs (
    id          TEXT COLLATE "C" PRIMARY KEY,
    record      JSONB NOT NULL
);
