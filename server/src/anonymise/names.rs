//! Finds the listed victims' and witnesses' names in a narrative.
//!
//! Matching runs on a folded copy of the text (see `normalise`), with a map back to the original
//! byte offsets, so "KARIMI", "Karimi" and "Karîmi" are one name and the replaced span is exactly
//! the original spelling. A name matches only as a whole word: "Ali" does not hit "Alice".

use super::normalise::{fold, fold_char};
use super::{Finding, PiiKind};

/// Rank of name findings among the detectors (see `Finding::rank`).
const RANK: u8 = 4;

/// Parts shorter than this are not matched on their own: initials and short particles would
/// hit ordinary words.
const MIN_PART_CHARS: usize = 3;

/// Titles and name particles that are not identifying on their own, folded.
const NOT_A_NAME_PART: &[&str] = &[
    "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "eng", "bin", "ibn", "bint", "abu", "umm",
    "wad", "ould", "daw", "naw", "saw", "van", "von", "der", "den", "des", "del", "dos", "das",
    "the", "and", "بن", "ابن", "بنت", "ابو", "ام", "عبد", "ال",
];

/// Single-letter Arabic proclitics (and, with, for, so, like) written joined to the next word.
const ARABIC_PROCLITICS: &[char] = &['و', 'ب', 'ل', 'ف', 'ك'];

/// The text folded for matching, with each folded byte's source range in the original.
struct FoldedText {
    folded: String,
    /// For each byte of `folded`: start of the original char it came from.
    starts: Vec<usize>,
    /// For each byte of `folded`: end of the original char it came from, extended over any
    /// dropped marks that follow it (so "e" + combining accent is replaced whole).
    ends: Vec<usize>,
}

impl FoldedText {
    fn new(text: &str) -> Self {
        let mut folded = String::with_capacity(text.len());
        let mut starts = Vec::with_capacity(text.len());
        let mut ends = Vec::with_capacity(text.len());
        for (at, c) in text.char_indices() {
            let end = at + c.len_utf8();
            let before = folded.len();
            if fold_char(c, &mut folded) == 0 {
                // A dropped mark belongs to the char before it.
                if let Some(last) = ends.last().copied() {
                    if last == at {
                        let from = ends.iter().rposition(|&e| e != last).map_or(0, |i| i + 1);
                        for e in &mut ends[from..] {
                            *e = end;
                        }
                    }
                }
                continue;
            }
            let added = folded.len() - before;
            starts.extend(std::iter::repeat_n(at, added));
            ends.extend(std::iter::repeat_n(end, added));
        }
        FoldedText {
            folded,
            starts,
            ends,
        }
    }

    /// The original byte range of the folded range `start..end` (non-empty).
    fn original(&self, start: usize, end: usize) -> (usize, usize) {
        (self.starts[start], self.ends[end - 1])
    }
}

/// One spelling to look for: the folded parts of a listed name (or a single part), and what
/// its script means for word boundaries.
#[derive(Debug, PartialEq, Eq)]
struct Spelling {
    parts: Vec<String>,
    arabic: bool,
    /// Written without spaces between words (then no word-boundary check is possible).
    unspaced_script: bool,
}

impl Spelling {
    fn new(parts: Vec<String>) -> Self {
        let arabic = parts.iter().any(|p| p.chars().any(is_arabic));
        let unspaced_script = parts.iter().any(|p| p.chars().any(is_unspaced_script));
        Spelling {
            parts,
            arabic,
            unspaced_script,
        }
    }

    fn chars(&self) -> usize {
        self.parts.iter().map(|p| p.chars().count()).sum::<usize>() + self.parts.len()
    }

    /// The end of this spelling if it stands at `at` in `haystack`: the parts in order, with
    /// any run of spaces, hyphens or dots between them ("Ahmad  Karimi", "Abdul-Wahid").
    fn match_at(&self, haystack: &str, at: usize) -> Option<usize> {
        let mut pos = at;
        for (index, part) in self.parts.iter().enumerate() {
            if index > 0 {
                let gap: usize = haystack[pos..]
                    .chars()
                    .take_while(|&c| c.is_whitespace() || c == '-' || c == '.')
                    .map(char::len_utf8)
                    .sum();
                if gap == 0 {
                    return None;
                }
                pos += gap;
            }
            if !haystack[pos..].starts_with(part.as_str()) {
                return None;
            }
            pos += part.len();
        }
        Some(pos)
    }

    fn bounded(&self, haystack: &str, start: usize, end: usize) -> bool {
        self.unspaced_script || is_whole_word(haystack, start, end, self.arabic)
    }
}

/// Every occurrence of a listed name (full or a part) in `text`.
pub(crate) fn find_names(text: &str, known_names: &[&str]) -> Vec<Finding> {
    let spellings = build_spellings(known_names);
    if spellings.is_empty() {
        return Vec::new();
    }
    let folded = FoldedText::new(text);
    let haystack = folded.folded.as_str();
    let mut findings = Vec::new();
    let mut at = 0;
    while at < haystack.len() {
        let found = spellings.iter().find_map(|spelling| {
            spelling
                .match_at(haystack, at)
                .filter(|&end| spelling.bounded(haystack, at, end))
        });
        match found {
            Some(end) => {
                let (start, end_in_text) = folded.original(at, end);
                findings.push(Finding {
                    start,
                    end: end_in_text,
                    kind: PiiKind::Name,
                    rank: RANK,
                });
                at = end;
            }
            None => at = next_char_boundary(haystack, at),
        }
    }
    findings
}

/// The spellings of every listed name and of its identifying parts, longest first so a full
/// name is preferred to its parts.
fn build_spellings(known_names: &[&str]) -> Vec<Spelling> {
    let mut spellings: Vec<Spelling> = Vec::new();
    for name in known_names {
        let parts = split_parts(name);
        if parts.is_empty() {
            continue;
        }
        let full_chars: usize = parts.iter().map(|p| p.chars().count()).sum();
        if parts.len() > 1 {
            for part in &parts {
                if part.chars().count() >= MIN_PART_CHARS
                    && !NOT_A_NAME_PART.contains(&part.as_str())
                {
                    add_spelling(&mut spellings, vec![part.clone()]);
                }
            }
        }
        if full_chars >= 2 {
            add_spelling(&mut spellings, parts);
        }
    }
    spellings.sort_by_key(|spelling| std::cmp::Reverse(spelling.chars()));
    spellings
}

fn add_spelling(spellings: &mut Vec<Spelling>, parts: Vec<String>) {
    let spelling = Spelling::new(parts);
    if !spellings.contains(&spelling) {
        spellings.push(spelling);
    }
}

/// The folded parts of a listed name: split at spaces and hyphens, punctuation trimmed.
fn split_parts(name: &str) -> Vec<String> {
    fold(name)
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .map(|part| part.trim_matches(is_punctuation))
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// True when `start..end` of the folded text is not part of a longer word. In Arabic script a
/// one-letter proclitic may be joined in front ("وأحمد", "and Ahmad").
fn is_whole_word(haystack: &str, start: usize, end: usize, arabic: bool) -> bool {
    let after_ok = haystack[end..]
        .chars()
        .next()
        .is_none_or(|c| !is_word_char(c));
    if !after_ok {
        return false;
    }
    let mut before = haystack[..start].chars().rev();
    match before.next() {
        None => true,
        Some(c) if !is_word_char(c) => true,
        Some(c) if arabic && ARABIC_PROCLITICS.contains(&c) => {
            before.next().is_none_or(|c| !is_word_char(c))
        }
        Some(_) => false,
    }
}

/// Punctuation that may cling to a listed name ("Dr.", "(Ahmad)"); marks such as a Myanmar
/// asat are part of the name and stay.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c, '\u{00A1}'..='\u{00BF}' | '\u{2000}'..='\u{206F}' | '،' | '؛' | '؟')
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn is_arabic(c: char) -> bool {
    matches!(c, '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{08A0}'..='\u{08FF}')
}

/// Scripts written without spaces between words (Myanmar, Thai, Lao, Khmer, CJK).
fn is_unspaced_script(c: char) -> bool {
    matches!(
        c,
        '\u{1000}'..='\u{109F}'
            | '\u{0E00}'..='\u{0EFF}'
            | '\u{1780}'..='\u{17FF}'
            | '\u{3040}'..='\u{30FF}'
            | '\u{4E00}'..='\u{9FFF}'
    )
}

fn next_char_boundary(text: &str, at: usize) -> usize {
    text[at..]
        .chars()
        .next()
        .map_or(text.len(), |c| at + c.len_utf8())
}
