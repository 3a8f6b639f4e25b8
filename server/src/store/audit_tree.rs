//! The access log's Merkle tree: the perfect subtrees the signer completed (`audit_tree`) and
//! the signed tree heads (`audit_heads`). The store only keeps them: the signer in
//! `audit::checkpoints` decides what is signed and checks what it reads back.

use super::common::{from_sql, to_sql};
use super::{Store, StoreError};

/// A signed tree head as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredHead {
    pub size: i64,
    pub root_hash: String,
    pub time: String,
    pub note: String,
}

impl StoredHead {
    pub fn tree_size(&self) -> u64 {
        from_sql(self.size)
    }
}

/// Rows per multi-row insert of tree nodes (3 placeholders each, well under both backends'
/// parameter limits).
const NODES_PER_INSERT: usize = 500;

impl Store {
    /// The hash of the perfect subtree (level, index), if the signer stored it.
    pub async fn audit_node(&self, level: u32, index: u64) -> Result<Option<String>, StoreError> {
        let sql = self
            .db
            .sql("SELECT hash FROM audit_tree WHERE level = $1 AND idx = $2")
            .arg(i64::from(level))
            .arg(to_sql(index));
        let row: Option<(String,)> = self.db.run().fetch_optional(sql).await?;
        Ok(row.map(|(hash,)| hash))
    }

    /// Stores perfect subtrees (level, index, hash); a stored one is replaced, since the signer
    /// computed these from records it has just checked.
    pub async fn add_audit_nodes(&self, nodes: &[(u32, u64, String)]) -> Result<(), StoreError> {
        for chunk in nodes.chunks(NODES_PER_INSERT) {
            let mut sql = self.db.sql("INSERT INTO audit_tree (level, idx, hash)");
            sql.values(chunk, |row, (level, index, hash)| {
                row.bind(i64::from(*level))
                    .bind(to_sql(*index))
                    .bind(hash.as_str());
            });
            sql.push(" ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash");
            self.db.run().execute(sql).await?;
        }
        Ok(())
    }

    /// The newest signed tree head.
    pub async fn last_tree_head(&self) -> Result<Option<StoredHead>, StoreError> {
        let sql = self
            .db
            .sql("SELECT size, root_hash, time, note FROM audit_heads ORDER BY size DESC LIMIT 1");
        self.db.run().fetch_optional(sql).await
    }

    /// The signed head of exactly `size`.
    pub async fn tree_head(&self, size: u64) -> Result<Option<StoredHead>, StoreError> {
        let sql = self
            .db
            .sql("SELECT size, root_hash, time, note FROM audit_heads WHERE size = $1")
            .arg(to_sql(size));
        self.db.run().fetch_optional(sql).await
    }

    /// Signed heads with `from <= size <= to`, oldest first, at most `limit`.
    pub async fn tree_heads(
        &self,
        from: u64,
        to: u64,
        limit: u32,
    ) -> Result<Vec<StoredHead>, StoreError> {
        let sql = self
            .db
            .sql(
                "SELECT size, root_hash, time, note FROM audit_heads \
                 WHERE size >= $1 AND size <= $2 ORDER BY size LIMIT $3",
            )
            .arg(to_sql(from))
            .arg(to_sql(to))
            .arg(i64::from(limit));
        self.db.run().fetch_all(sql).await
    }

    /// Stores a signed head (a second one of the same size, signed by another replica, is
    /// ignored: both sign the same root).
    pub async fn add_tree_head(&self, head: &StoredHead) -> Result<(), StoreError> {
        let sql = self
            .db
            .sql(
                "INSERT INTO audit_heads (size, root_hash, time, note) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (size) DO NOTHING",
            )
            .arg(head.size)
            .arg(&head.root_hash)
            .arg(&head.time)
            .arg(&head.note);
        self.db.run().execute(sql).await?;
        Ok(())
    }
}
