//! TAXII pages over the change feed. A page is read from `Feed::page` (so every incident passed
//! the policy engine for this viewer) one feed mark's batch at a time, and each object is
//! dated by the mark that released its change (`date_added`). Nothing past the last mark is
//! served.
//!
//! `next` is a sealed position: the log position the page's last feed read started from, and
//! the last object delivered from it when the page ended inside that read. Following `next`
//! therefore resumes exactly where the page ended, and it always moves forward (no loops).
//! `added_after` maps to the last mark at or before it, so objects dated after it are exactly
//! those past that mark's position. A page never ends inside a batch unless the batch is its
//! first (then only `next` is an exact resume point), so `X-TAXII-Date-Added-Last` used as the
//! next `added_after` misses nothing.

use crate::feed::{Feed, FeedChange, FeedError, FeedFilter};
use crate::identity::Principal;
use crate::sealed::Sealer;
use crate::store::StoreError;
use crate::wire::incident_to_proto;

use super::stix::{StixObject, incident_objects};

/// Default and largest objects per page.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1_000;
/// Change-log entries read per feed page, and at most per request (a page of invisible
/// changes ends early with `more` and a `next` past them).
const SCAN: u32 = 500;
const SCAN_BUDGET: usize = 20_000;
/// What `next` tokens are sealed for.
const NEXT_PURPOSE: &str = "taxii-next";

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("the next token is not one this hub issued for this query")]
    BadNext,
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which versions `match[version]` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Versions {
    /// `last`, `first` and `all`: the hub keeps one version of each object, its current one.
    Current,
    /// Specific `modified` values.
    Exact(Vec<String>),
}

/// The filters of an objects or manifest request.
#[derive(Debug, Clone)]
pub struct Match {
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: Versions,
    /// false when `match[spec_version]` excludes 2.1.
    pub spec_version_ok: bool,
}

impl Match {
    fn accepts(&self, object: &StixObject) -> bool {
        self.spec_version_ok
            && (self.ids.is_empty() || self.ids.contains(&object.id))
            && (self.types.is_empty() || self.types.iter().any(|kind| kind == object.kind))
            && match &self.versions {
                Versions::Current => true,
                Versions::Exact(wanted) => wanted.contains(&object.modified),
            }
    }

    /// What a `next` token is bound to: the same filters, in a canonical form.
    fn fingerprint(&self) -> String {
        let mut ids = self.ids.clone();
        ids.sort();
        let mut types = self.types.clone();
        types.sort();
        let versions = match &self.versions {
            Versions::Current => "current".to_string(),
            Versions::Exact(list) => {
                let mut list = list.clone();
                list.sort();
                list.join(",")
            }
        };
        let text = format!(
            "{}|{}|{}|{}",
            ids.join(","),
            types.join(","),
            versions,
            self.spec_version_ok
        );
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        digest
            .as_ref()
            .iter()
            .take(12)
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    after: i64,
    /// The last object delivered from the feed read starting at `after`.
    resume: Option<String>,
}

/// One page: objects with their `date_added` (unix seconds), and how to go on.
#[derive(Debug)]
pub struct Page {
    pub objects: Vec<(StixObject, i64)>,
    pub more: bool,
    pub next: Option<String>,
}

/// Reads pages for one viewer.
pub struct Pager<'a> {
    pub feed: &'a Feed,
    pub sealer: &'a Sealer,
    pub principal: &'a Principal,
}

impl Pager<'_> {
    fn seal(&self, position: &Position, filters: &Match) -> Option<String> {
        let plain = format!(
            "t1:{}:{}:{}:{}",
            self.feed.store().log_epoch(),
            position.after,
            filters.fingerprint(),
            position.resume.as_deref().unwrap_or("")
        );
        match self.sealer.seal(NEXT_PURPOSE, plain.as_bytes()) {
            Ok(token) => Some(token),
            Err(error) => {
                tracing::error!(%error, "could not seal a TAXII next token");
                None
            }
        }
    }

    fn open(&self, token: &str, filters: &Match) -> Result<Position, PageError> {
        let plain = self
            .sealer
            .open(NEXT_PURPOSE, token)
            .and_then(|plain| String::from_utf8(plain).ok())
            .ok_or(PageError::BadNext)?;
        let mut parts = plain.splitn(5, ':');
        let (Some("t1"), Some(epoch), Some(after), Some(fingerprint), Some(resume)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(PageError::BadNext);
        };
        // Another change log (the database replaced): its positions mean nothing here.
        if epoch != self.feed.store().log_epoch() || fingerprint != filters.fingerprint() {
            return Err(PageError::BadNext);
        }
        let after = after.parse::<i64>().map_err(|_| PageError::BadNext)?;
        Ok(Position {
            after,
            resume: (!resume.is_empty()).then(|| resume.to_string()),
        })
    }

    /// The page after `next` (or after `added_after`, unix seconds, or from the start).
    pub async fn page(
        &self,
        next: Option<&str>,
        added_after: Option<i64>,
        filters: &Match,
        limit: usize,
    ) -> Result<Page, PageError> {
        let store = self.feed.store();
        let mut position = match (next, added_after) {
            (Some(token), _) => self.open(token, filters)?,
            (None, Some(after)) => Position {
                after: store
                    .feed_mark_at_or_before(after)
                    .await?
                    .map(|mark| mark.seq)
                    .unwrap_or(0),
                resume: None,
            },
            (None, None) => Position {
                after: 0,
                resume: None,
            },
        };
        let empty = Page {
            objects: Vec::new(),
            more: false,
            next: None,
        };
        let Some(last) = store.last_feed_mark().await? else {
            return Ok(empty);
        };
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut objects: Vec<(StixObject, i64)> = Vec::new();
        // The objects and position when the last complete batch ended on this page.
        let mut batch_start: Option<(usize, i64)> = None;
        let mut scanned = 0usize;
        let filter = FeedFilter::default();
        loop {
            if position.after >= last.seq {
                return Ok(Page {
                    objects,
                    more: false,
                    next: None,
                });
            }
            let Some(mark) = store.feed_mark_covering(position.after + 1).await? else {
                return Ok(Page {
                    objects,
                    more: false,
                    next: None,
                });
            };
            let page = self
                .feed
                .page(
                    self.principal,
                    &filter,
                    position.after,
                    SCAN,
                    Some(mark.seq),
                )
                .await?;
            scanned += page.scanned;
            let read_from = position.after;
            let mut incidents = Vec::new();
            for change in page.changes {
                match change {
                    FeedChange::Upsert(redacted) | FeedChange::Retract(redacted) => {
                        incidents.push(redacted)
                    }
                    // A REVOKE has no STIX form a client would act on (docs/taxii.md);
                    // advisories are not served over TAXII yet.
                    _ => {}
                }
            }
            // The feed shows an incident's current state at each of its entries; TAXII shows
            // it once, in the batch of its latest change (its date_added).
            let ids: Vec<uuid::Uuid> = incidents.iter().map(|r| r.incident.id).collect();
            let latest = store.latest_incident_changes(&ids).await?;
            let mut read: Vec<StixObject> = Vec::new();
            for redacted in incidents {
                if latest
                    .get(&redacted.incident.id)
                    .is_some_and(|seq| *seq > mark.seq)
                {
                    continue;
                }
                let incident = incident_to_proto(redacted);
                read.extend(
                    incident_objects(&incident, mark.at)
                        .into_iter()
                        .filter(|object| filters.accepts(object)),
                );
            }
            if let Some(resume) = position.resume.take() {
                if let Some(index) = read.iter().position(|object| object.id == resume) {
                    read.drain(..=index);
                }
                // Not found (the incident changed since): the whole read again; duplicates,
                // never gaps.
            }
            let mut delivered_last: Option<String> = None;
            let mut full = false;
            for object in read.into_iter() {
                if objects.len() == limit {
                    full = true;
                    break;
                }
                delivered_last = Some(object.id.clone());
                objects.push((object, mark.at));
            }
            if full {
                // The page ends inside this read.
                return Ok(self.cut(
                    objects,
                    batch_start,
                    Position {
                        after: read_from,
                        resume: delivered_last,
                    },
                    filters,
                ));
            }
            position.after = if page.scanned == 0 {
                mark.seq
            } else {
                page.cursor_seq
            };
            if position.after >= mark.seq {
                batch_start = Some((objects.len(), position.after));
            }
            if position.after < last.seq && (objects.len() == limit || scanned >= SCAN_BUDGET) {
                return Ok(self.cut(objects, batch_start, position, filters));
            }
        }
    }

    /// Ends a page with more to come at `position`; when that is inside a batch that is not
    /// the page's first, the page ends at the last complete batch instead, so the last date
    /// on the page is a complete one.
    fn cut(
        &self,
        mut objects: Vec<(StixObject, i64)>,
        batch_start: Option<(usize, i64)>,
        position: Position,
        filters: &Match,
    ) -> Page {
        let position = match batch_start {
            Some((count, after)) if after != position.after || position.resume.is_some() => {
                if count > 0 && count < objects.len() {
                    objects.truncate(count);
                    Position {
                        after,
                        resume: None,
                    }
                } else {
                    position
                }
            }
            _ => position,
        };
        Page {
            next: self.seal(&position, filters),
            more: true,
            objects,
        }
    }
}
