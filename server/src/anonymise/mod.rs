//! Ingest-time anonymiser: scrubs personal data out of free text before it is stored, and
//! derives the pseudonymous victim key.
//!
//! Narratives are shared at T2 with partner organisations, so anything in them that points at
//! a person must go before storage, not at read time: e-mail addresses, phone numbers, URLs,
//! IBANs, identity-document numbers, vehicle plates, precise coordinates, the names the
//! reporter listed in the private annex, and person names nobody listed (`unlisted_names`). Each is replaced by a typed placeholder (`[PHONE]`, ...)
//! so the narrative still reads, and the caller learns what was removed ([`ScrubReport`]) to tell
//! the submitter.
//!
//! Detection is rule-based and deliberately biased towards removing: a false positive costs a
//! word of narrative, a miss can cost a life. Rules lean on shape (IBAN checksum, `+`/`00`/`0`
//! prefixes, letter–digit mixes) and on the words just before a number ("tel.", "passport",
//! "plate"), and leave dates, times, years, counts, amounts of money and road names alone.
//!
//! Known limitations: unlisted names are found from context and word lists, in Latin script
//! only (docs/anonymisation.md gives the measured recall and what it misses); a listed name is
//! not found in another script or transliteration than the one listed
//! (list "Yousef Haddad" and "يوسف حداد" both if both may occur); a listed name part that is
//! also an ordinary word or a place ("Khan" in "Dera Ismail Khan") is replaced there too;
//! numbers written out in words are not recognised; a phone number with neither a `+`/`00`/`0`
//! prefix nor a phone-like grouping is only caught after a word such as "tel." or "call"; plates
//! without letters only after a word such as "plate" or "registration".
//!
//! The module has no gRPC or SQL dependency; the API layer calls [`scrub`] on the narrative with
//! [`annex_names`] of the incident's private annex, and [`victim_key`] on each victim identity.

mod detect;
mod name_lists;
mod names;
mod normalise;
mod unlisted_names;
mod victim_key;

use std::collections::BTreeMap;

use crate::domain::PrivateAnnex;

pub use victim_key::victim_key;

/// A kind of personal data the scrubber removes. The order is the order reports list them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    Email,
    Phone,
    Url,
    Iban,
    IdNumber,
    Plate,
    Coordinates,
    Name,
}

impl PiiKind {
    /// Every kind, in report order.
    pub const ALL: [PiiKind; 8] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Url,
        PiiKind::Iban,
        PiiKind::IdNumber,
        PiiKind::Plate,
        PiiKind::Coordinates,
        PiiKind::Name,
    ];

    /// The text that stands in for a removed item, so readers see that something was there.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::Url => "[URL]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::IdNumber => "[ID_NUMBER]",
            PiiKind::Plate => "[PLATE]",
            PiiKind::Coordinates => "[COORDINATES]",
            PiiKind::Name => "[NAME]",
        }
    }

    /// The stable name (as used in responses and logs).
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "EMAIL",
            PiiKind::Phone => "PHONE",
            PiiKind::Url => "URL",
            PiiKind::Iban => "IBAN",
            PiiKind::IdNumber => "ID_NUMBER",
            PiiKind::Plate => "PLATE",
            PiiKind::Coordinates => "COORDINATES",
            PiiKind::Name => "NAME",
        }
    }
}

impl std::fmt::Display for PiiKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one scrub removed: how many items of each kind (kinds with none are absent). It never
/// holds the removed text, so it can go into responses and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubReport {
    pub counts: BTreeMap<PiiKind, u32>,
}

impl ScrubReport {
    /// Items removed, all kinds together.
    pub fn total(&self) -> u32 {
        self.counts.values().sum()
    }

    /// Items of `kind` removed.
    pub fn count(&self, kind: PiiKind) -> u32 {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    /// True when nothing was removed.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    fn add(&mut self, kind: PiiKind) {
        *self.counts.entry(kind).or_insert(0) += 1;
    }
}

/// A stretch of the input (byte offsets) found to be personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Finding {
    pub start: usize,
    pub end: usize,
    pub kind: PiiKind,
    /// Which detector found it; lower wins when two findings overlap (an e-mail address beats
    /// the name inside it, an IBAN beats the digit groups inside it).
    pub rank: u8,
}

/// Replaces the personal data in `text` by placeholders and reports what it removed.
///
/// `known_names` are the victims' and witnesses' names from the incident's private annex: each
/// full name, and each of its parts of three letters or more, is replaced wherever it stands as a
/// whole word, whatever the case, diacritics or Arabic letter variants.
pub fn scrub(text: &str, known_names: &[&str]) -> (String, ScrubReport) {
    let mut findings = detect::find_all(text);
    findings.extend(names::find_names(text, known_names));
    findings.extend(unlisted_names::find_unlisted_names(text));
    let chosen = merge_adjacent_coordinates(text, resolve_overlaps(findings));

    let mut out = String::with_capacity(text.len());
    let mut report = ScrubReport::default();
    let mut at = 0;
    for finding in chosen {
        out.push_str(&text[at..finding.start]);
        out.push_str(finding.kind.placeholder());
        report.add(finding.kind);
        at = finding.end;
    }
    out.push_str(&text[at..]);
    (out, report)
}

/// The names to pass to [`scrub`] for an incident: every non-empty victim or witness name in its
/// private annex.
pub fn annex_names(annex: &PrivateAnnex) -> Vec<&str> {
    annex
        .victim_identities
        .iter()
        .map(|identity| identity.name.trim())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Compiles every detector now. The hub calls this at start and refuses to serve if any fails:
/// a detector silently skipped would let personal data through (fail closed).
pub fn self_check() -> Result<(), String> {
    let failed = detect::patterns::all()
        .into_iter()
        .filter(|pattern| pattern.is_none())
        .count();
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} anonymiser patterns do not compile"))
    }
}

/// Per-organisation secrets for victim keys, derived from one hub master key so that only the
/// master key needs keeping: HMAC-SHA256(master, "slt-hub org-secret v1" || org id).
#[derive(Clone)]
pub struct OrgSecrets {
    master: ring::hmac::Key,
}

impl OrgSecrets {
    /// `master`: at least 32 random bytes (the hub's pseudonym key file).
    pub fn new(master: &[u8]) -> Self {
        Self {
            master: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, master),
        }
    }

    /// The secret under which `org`'s victim keys are derived.
    pub fn for_org(&self, org: &str) -> Vec<u8> {
        let mut context = ring::hmac::Context::with_key(&self.master);
        context.update(b"slt-hub org-secret v1\0");
        context.update(org.as_bytes());
        context.sign().as_ref().to_vec()
    }
}

impl std::fmt::Debug for OrgSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrgSecrets(..)")
    }
}

/// Anonymises an incident before storage: scrubs its narrative (with the annex's names) and
/// sets the pseudonymous key of every victim in its annex. Returns what was scrubbed.
pub fn anonymise_draft(draft: &mut crate::domain::IncidentDraft, org_secret: &[u8]) -> ScrubReport {
    let names: Vec<String> = draft
        .private
        .as_ref()
        .map(|annex| annex_names(annex).into_iter().map(str::to_string).collect())
        .unwrap_or_default();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut report = ScrubReport::default();
    if let Some(narrative) = draft.content.narrative.as_mut() {
        let (scrubbed, found) = scrub(narrative, &names);
        *narrative = scrubbed;
        report = found;
    }
    if let Some(annex) = draft.private.as_mut() {
        for identity in &mut annex.victim_identities {
            identity.victim_key = victim_key(org_secret, &identity.name);
        }
    }
    report
}

/// Scrubs a peer hub's incident again on arrival: its narrative and retraction reason, as ours
/// are at ingest. The peer's scrubber may be older, configured otherwise, or not run at all;
/// what we store and relay is held to our own standard. (A foreign copy has no annex, so there
/// are no listed names to add.)
pub fn scrub_foreign(incident: &mut crate::domain::StoredIncident) -> ScrubReport {
    let mut report = ScrubReport::default();
    for text in [
        incident.content.narrative.as_mut(),
        incident.retraction_reason.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        let (scrubbed, found) = scrub(text, &[]);
        *text = scrubbed;
        for (kind, count) in found.counts {
            *report.counts.entry(kind).or_insert(0) += count;
        }
    }
    report
}

/// Keeps the best of overlapping findings: lower rank first, then the earlier, then the longer.
/// The result is sorted by position and free of overlaps.
fn resolve_overlaps(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by_key(|f| (f.rank, f.start, std::cmp::Reverse(f.end - f.start)));
    let mut chosen: Vec<Finding> = Vec::with_capacity(findings.len());
    for finding in findings {
        if finding.start >= finding.end {
            continue;
        }
        let overlaps = chosen
            .iter()
            .any(|c| finding.start < c.end && c.start < finding.end);
        if !overlaps {
            chosen.push(finding);
        }
    }
    chosen.sort_by_key(|f| f.start);
    chosen
}

/// Joins coordinate findings that are the two halves of one position ("lat 2.04 lon 45.31",
/// `34°33'19"N 69°12'27"E`), so the report counts one position, not two.
fn merge_adjacent_coordinates(text: &str, findings: Vec<Finding>) -> Vec<Finding> {
    let mut merged: Vec<Finding> = Vec::with_capacity(findings.len());
    for finding in findings {
        if let Some(last) = merged.last_mut() {
            if last.kind == PiiKind::Coordinates
                && finding.kind == PiiKind::Coordinates
                && is_half_position(&text[last.start..last.end])
                && is_half_position(&text[finding.start..finding.end])
                && is_pair_gap(&text[last.end..finding.start])
            {
                last.end = finding.end;
                continue;
            }
        }
        merged.push(finding);
    }
    merged
}

/// True for a latitude or a longitude alone (one decimal number or one degree sign), as
/// opposed to a whole position: two positions in a row stay two.
fn is_half_position(span: &str) -> bool {
    span.matches('.').count() <= 1 && span.matches('°').count() <= 1
}

/// True for what may stand between the latitude and the longitude of one position.
fn is_pair_gap(gap: &str) -> bool {
    let trimmed = gap.trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '/'));
    gap.len() <= 8 && (trimmed.is_empty() || trimmed.eq_ignore_ascii_case("and"))
}

#[cfg(test)]
mod tests;
