-- Record keys of the cell-key method (docs/threat-picture.md#cell-key-perturbation): a secret
-- uniform 32-bit number per incident, derived from its id under the hub's pseudonym key, summed
-- per cell of the threat picture. NULL until the hub fills it (at insert, or at start for rows
-- written before this migration or by a tool without the key).
ALTER TABLE incidents ADD COLUMN record_key BIGINT;
