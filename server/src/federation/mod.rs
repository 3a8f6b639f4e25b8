//! Federation: this hub pulling from its peer hubs under agreements.
//!
//! - [`agreement`]: the `[[peers]]` configuration and the terms the policy applies to a peer
//!   (defined in `identity::agreement`, which loads and reloads it; re-exported here for
//!   callers outside the crate);
//! - [`channel`]: the connection to a peer (the peer's SPIFFE id pinned in the handshake,
//!   connect timeout);
//! - [`copies`]: which foreign copy wins (pure rules the store carries out);
//! - [`origin_keys`]: the origin hubs' federation keys from the agreements, against which
//!   every incoming record's origin signature is verified;
//! - [`worker`]: one pull task per agreement, through the client SDK with this hub's own
//!   certificate and a token it issues itself for the peer, applying each page and the cursor
//!   after it in one store transaction, backing off with jitter on failure.
//!
//! Egress to peers is not here: peers pull through the same `SyncService.Pull` as any partner,
//! and `policy::PolicyEngine::redact` reduces what they get to their agreement.

pub use crate::identity::agreement;
pub mod channel;
pub mod copies;
pub mod origin_keys;
pub mod worker;
