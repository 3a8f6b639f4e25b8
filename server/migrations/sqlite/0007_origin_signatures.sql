-- Origin signatures (docs/federation.md#origin-signatures): for a foreign copy, the origin
-- hub's signed rendering as it arrived (the canonical encoding of the tier it was received at)
-- and the origin's Ed25519 signature over it, kept so a relay forwards exactly what the origin
-- signed. NULL for local incidents and for copies applied before this migration (those are not
-- forwarded: nothing proves their origin).
ALTER TABLE incidents ADD COLUMN origin_rendering BLOB;
ALTER TABLE incidents ADD COLUMN origin_signature BLOB;
