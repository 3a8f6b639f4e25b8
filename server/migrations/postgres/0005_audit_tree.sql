-- The access log as an RFC 9162 Merkle tree (docs/audit-log.md). The records of audit_log are
-- its leaves. audit_tree holds the hash (lower-case hex) of every perfect subtree the signer has
-- completed: level 0 are the leaf hashes, the node (level, idx) covers leaves idx * 2^level to
-- (idx + 1) * 2^level - 1. Proofs are folded from these. audit_heads holds the signed tree
-- heads (C2SP checkpoint notes); audit_checkpoints stays as the legacy record of the chain's
-- signatures before the tree.

CREATE TABLE audit_tree (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE audit_heads (
    size      BIGINT PRIMARY KEY,
    root_hash TEXT NOT NULL,
    time      TEXT NOT NULL,
    note      TEXT NOT NULL
);
