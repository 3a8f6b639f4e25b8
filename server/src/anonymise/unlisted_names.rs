//! Finds person names nobody listed in the annex, in narratives written in English or French.
//!
//! The text is cut into words; runs of capitalised words (with name particles such as "bin",
//! "al", "ould" between them) are the candidates. Within a run, words of the allow-list (places,
//! organisations, ordinary capitalised words, acronyms) split it; each remaining stretch is a
//! name when
//! - a title stands before it ("Mr", "Sheikh", "Commander"), or a post or a naming word
//!   ("the driver, X", "a guard named X", "his brother X"); or
//! - what follows says a person ("X, a nurse", "X (34)", "X was abducted", "X said"); or
//! - one of its words is a listed given or family name (`data/*_names.txt`), or one of them is
//!   an ambiguous one ("Hope", "Said") beside another capitalised word; or
//! - it is two or more capitalised words that no list knows, and nothing marks it as a place
//!   ("near X Y", "X Y district").
//!
//! A stretch followed by a noun such as "Hospital", "Road" or "district" names a place or a body
//! ("Mirwais Hospital") and is kept. Once a name is found, its other mentions in the narrative
//! ("... Tumbo was released") go too. The decisions are word-list look-ups (hash sets of folded
//! words), so the cost is linear in the text.
//!
//! Known limitations: names in Arabic, Ge'ez or other scripts, and names written in lower case,
//! are only found when listed in the annex; a single unknown capitalised word with no context
//! ("... met Xyzzy at the gate") is kept, as it is as likely a place; an unknown two-word place
//! with no place word near it is taken for a name.

use std::collections::HashSet;

use super::name_lists::{
    HONORIFICS, LISTS, PARTICLES, PERSON_BEFORE_OF, PERSON_PARTICIPLES, PERSON_VERBS, PLACE_HEADS,
    PLACE_NOUNS, PLACE_WORDS_AFTER, PLACE_WORDS_BEFORE, ROLES_AFTER, ROLES_BEFORE,
    STRONG_PLACE_WORDS_BEFORE,
};
use super::normalise::fold;
use super::{Finding, PiiKind};

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "janvier",
    "fevrier",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "aout",
    "septembre",
    "octobre",
    "novembre",
    "decembre",
];

/// Same rank as listed names: of two overlapping name findings the earlier, longer one wins.
const RANK: u8 = 4;

/// Parts shorter than this are not looked for again elsewhere in the narrative.
const MIN_COREFERENCE_CHARS: usize = 3;

/// A word of the narrative.
#[derive(Debug)]
struct Token {
    start: usize,
    /// End of the word without a possessive "'s", which stays after the placeholder.
    end: usize,
    /// End including the possessive.
    full_end: usize,
    folded: String,
    capitalised: bool,
    all_caps: bool,
    has_digit: bool,
    /// Where the token is a lower-case name particle ("bin", "al").
    particle: bool,
    /// Part of an allow-listed place or organisation (set after tokenising).
    allowed: bool,
}

/// What stands between two words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gap {
    Space,
    Comma,
    Open,
    Break,
    Other,
}

/// What a capitalised word is, for the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Not part of a name: ordinary word, title, acronym, place or organisation.
    Stop,
    /// A title before a name ("Mr", "Sheikh").
    Honorific,
    /// A place of the allow-list that is also a listed name ("Farah", "Bol").
    PlaceOrName,
    /// A listed name.
    Name,
    /// A listed name that is also an ordinary word.
    Weak,
    /// Capitalised, in no list.
    Unknown,
    /// A name particle or an initial.
    Particle,
}

/// Every unlisted person name found in `text`.
pub(crate) fn find_unlisted_names(text: &str) -> Vec<Finding> {
    let mut tokens = tokenize(text);
    if tokens.is_empty() {
        return Vec::new();
    }
    let gaps: Vec<Gap> = (0..tokens.len())
        .map(|i| {
            if i == 0 {
                Gap::Break
            } else {
                gap_kind(
                    &text[tokens[i - 1].full_end..tokens[i].start],
                    &tokens[i - 1],
                )
            }
        })
        .collect();
    let protected = protected_phrases(&tokens, &gaps);
    for (token, &covered) in tokens.iter_mut().zip(&protected) {
        token.allowed = covered > 0;
    }
    let status: Vec<Status> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| classify(token, protected[i]))
        .collect();

    let mut status = status;
    let first = judge_all(&tokens, &gaps, &status);
    // Other mentions of a found name ("... Tumbo was released", "Gulbadan Tumbo" where only
    // "Tumbo" had context) count as listed names in a second pass.
    if mark_found_parts(&tokens, &mut status, &first) {
        judge_all(&tokens, &gaps, &status)
    } else {
        first
    }
    .iter()
    .map(|&(a, b)| finding(tokens[a].start, tokens[b - 1].end))
    .collect()
}

/// The name stretches of every capitalised run, as token ranges.
fn judge_all(tokens: &[Token], gaps: &[Gap], status: &[Status]) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if !is_run_word(&tokens[i], status[i]) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < tokens.len() && gaps[j] == Gap::Space && is_run_word(&tokens[j], status[j]) {
            j += 1;
        }
        judge_run(tokens, gaps, status, i, j, &mut spans);
        i = j;
    }
    spans
}

fn finding(start: usize, end: usize) -> Finding {
    Finding {
        start,
        end,
        kind: PiiKind::Name,
        rank: RANK,
    }
}

/// Cuts `text` into words: letters and digits, with inner hyphens and apostrophes.
fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if !c.is_alphanumeric() {
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(at, c)) = chars.peek() {
            if c.is_alphanumeric() || is_mark(c) {
                end = at + c.len_utf8();
                chars.next();
                continue;
            }
            let joiner = matches!(c, '-' | '\'' | '\u{2019}' | '\u{2010}' | '\u{2011}');
            let next = text[at + c.len_utf8()..].chars().next();
            // "17.05.2022", "11:30", "12.5": one number, so that no part of it reads as an age.
            let number_joiner = matches!(c, '.' | '/' | ':' | ',')
                && text[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|p| p.is_ascii_digit())
                && next.is_some_and(|n| n.is_ascii_digit());
            if (joiner && next.is_some_and(char::is_alphanumeric)) || number_joiner {
                end = at + c.len_utf8();
                chars.next();
                continue;
            }
            break;
        }
        tokens.push(make_token(text, start, end));
    }
    tokens
}

fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

fn make_token(text: &str, start: usize, full_end: usize) -> Token {
    // French elision: "L'infirmière", "d'Alain": the word starts after the apostrophe.
    let word = &text[start..full_end];
    let elided = [
        "l'",
        "L'",
        "d'",
        "D'",
        "l\u{2019}",
        "L\u{2019}",
        "d\u{2019}",
        "D\u{2019}",
    ]
    .iter()
    .find(|prefix| word.len() > prefix.len() + 1 && word.starts_with(*prefix));
    let start = start + elided.map_or(0, |prefix| prefix.len());
    let word = &text[start..full_end];
    let end = ["'s", "\u{2019}s", "'S"]
        .iter()
        .find(|suffix| word.len() > suffix.len() + 1 && word.ends_with(*suffix))
        .map_or(full_end, |suffix| full_end - suffix.len());
    let word = &text[start..end];
    let folded = fold(word);
    let first_upper = word.chars().next().is_some_and(char::is_uppercase);
    // "al-Hakimi", "el-Amin", "d'Souza": a lower-case particle joined to a capitalised name.
    let particle_prefixed = !first_upper
        && word
            .split(['-', '\'', '\u{2019}'])
            .nth(1)
            .is_some_and(|rest| rest.chars().next().is_some_and(char::is_uppercase))
        && word
            .split(['-', '\'', '\u{2019}'])
            .next()
            .is_some_and(|head| PARTICLES.contains(&fold(head).as_str()) || head == "d");
    let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    let all_caps = letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase());
    let has_digit = word.chars().any(|c| c.is_numeric());
    let particle = !first_upper && PARTICLES.contains(&folded.as_str());
    Token {
        start,
        end,
        full_end,
        folded,
        capitalised: first_upper || particle_prefixed,
        all_caps,
        has_digit,
        particle,
        allowed: false,
    }
}

fn gap_kind(gap: &str, before: &Token) -> Gap {
    if gap.chars().all(|c| c.is_whitespace() && c != '\n') && !gap.is_empty() {
        return Gap::Space;
    }
    let trimmed = gap.trim();
    // "Dr. Ahmad", "M. Kabongo", "A. Karimi": the dot of a title or an initial.
    if trimmed == "."
        && !gap.contains('\n')
        && (HONORIFICS.contains(&before.folded.as_str())
            || (before.folded.chars().count() == 1 && before.capitalised))
    {
        return Gap::Space;
    }
    if gap.contains('\n') || trimmed.contains(['.', '!', '?', ';', ':']) {
        Gap::Break
    } else if trimmed.contains('(') {
        Gap::Open
    } else if trimmed.contains(',') {
        Gap::Comma
    } else {
        Gap::Other
    }
}

/// Marks the words covered by an allow-listed place or organisation, longest entry first. The
/// value is the length in words of the entry covering the word (0: none).
fn protected_phrases(tokens: &[Token], gaps: &[Gap]) -> Vec<usize> {
    let lists = &*LISTS;
    let mut protected = vec![0usize; tokens.len()];
    let mut i = 0;
    while i < tokens.len() {
        if !(tokens[i].capitalised || tokens[i].has_digit) {
            i += 1;
            continue;
        }
        let mut key = String::new();
        let mut longest = 0;
        for len in 1..=lists.allowed_max_words {
            let at = i + len - 1;
            if at >= tokens.len() || (len > 1 && gaps[at] != Gap::Space) {
                break;
            }
            if len > 1 {
                key.push(' ');
            }
            key.push_str(&tokens[at].folded);
            if lists.allowed.contains(&key) {
                longest = len;
            }
        }
        if longest > 0 {
            for slot in &mut protected[i..i + longest] {
                *slot = longest;
            }
            i += longest;
        } else {
            i += 1;
        }
    }
    protected
}

fn classify(token: &Token, protected: usize) -> Status {
    let lists = &*LISTS;
    if token.particle {
        return Status::Particle;
    }
    if !token.capitalised || token.has_digit {
        return Status::Stop;
    }
    let word = token.folded.as_str();
    // A title or a post at the head of a run ("Driver Xyz", "Sheikh Xyz", "M. Xyz") introduces
    // a name.
    if (HONORIFICS.contains(&word) || ROLES_BEFORE.contains(&word)) && !lists.names.contains(word) {
        return Status::Honorific;
    }
    if word.chars().count() == 1 {
        return Status::Particle; // an initial
    }
    let listed = name_status(word);
    if protected > 1 {
        return Status::Stop;
    }
    if protected == 1 {
        return if listed.is_some() {
            Status::PlaceOrName
        } else {
            Status::Stop
        };
    }
    if lists.common.contains(word) || PLACE_NOUNS.contains(&word) {
        return Status::Stop;
    }
    match listed {
        Some(status) => status,
        None if token.all_caps => Status::Stop,
        None => Status::Unknown,
    }
}

/// `Name` or `Weak` when the word, or a part of a hyphenated word, is a listed name.
fn name_status(word: &str) -> Option<Status> {
    let lists = &*LISTS;
    let lookup = |part: &str| {
        if lists.ambiguous.contains(part) {
            Some(Status::Weak)
        } else if lists.names.contains(part) {
            Some(Status::Name)
        } else {
            None
        }
    };
    if let Some(status) = lookup(word) {
        return Some(status);
    }
    let parts: Vec<&str> = word
        .split(['-', '\''])
        .filter(|part| part.len() > 1 && !PARTICLES.contains(part))
        .collect();
    if parts.len() < 2 && !word.contains(['-', '\'']) {
        return None;
    }
    parts
        .iter()
        .filter_map(|part| lookup(part))
        .min_by_key(|status| u8::from(*status != Status::Name))
}

fn is_run_word(token: &Token, status: Status) -> bool {
    token.capitalised || status == Status::Particle
}

/// Decides which stretches of the capitalised run `from..to` are names.
fn judge_run(
    tokens: &[Token],
    gaps: &[Gap],
    status: &[Status],
    from: usize,
    to: usize,
    spans: &mut Vec<(usize, usize)>,
) {
    // A run that ends in "Hospital", "Road", "Network" names a place or a body as a whole.
    if (from + 1..to).any(|k| PLACE_NOUNS.contains(&tokens[k].folded.as_str())) {
        let last_noun = (from + 1..to)
            .rev()
            .find(|&k| PLACE_NOUNS.contains(&tokens[k].folded.as_str()))
            .unwrap_or(from);
        // Names after the noun ("... Hospital Ahmad Karimi") are still judged.
        if last_noun + 1 < to {
            judge_run(tokens, gaps, status, last_noun + 1, to, spans);
        }
        return;
    }
    let mut k = from;
    while k < to {
        if matches!(status[k], Status::Stop | Status::Honorific) {
            k += 1;
            continue;
        }
        let mut end = k;
        while end < to && !matches!(status[end], Status::Stop | Status::Honorific) {
            end += 1;
        }
        // Particles do not end a name ("... bin") nor start one, initials may start one.
        let mut start = k;
        while start < end && tokens[start].particle {
            start += 1;
        }
        let mut stop = end;
        while stop > start && status[stop - 1] == Status::Particle {
            stop -= 1;
        }
        if start < stop && is_name(tokens, gaps, status, start, stop, from) {
            spans.push((start, stop));
        }
        k = end;
    }
}

/// The decision for one stretch `start..stop` of a run that began at `run_start`.
fn is_name(
    tokens: &[Token],
    gaps: &[Gap],
    status: &[Status],
    start: usize,
    stop: usize,
    run_start: usize,
) -> bool {
    let stretch = &status[start..stop];
    if !stretch.iter().any(|s| {
        matches!(
            s,
            Status::Name | Status::Weak | Status::Unknown | Status::PlaceOrName
        )
    }) {
        return false;
    }
    if place_after(tokens, gaps, stop)
        || named_place(tokens, gaps, start)
        || PLACE_HEADS.contains(&tokens[start].folded.as_str())
    {
        return false;
    }
    if titled(tokens, gaps, status, start, run_start) || person_follows(tokens, gaps, stop) {
        return true;
    }
    let count = |wanted: Status| stretch.iter().filter(|&&s| s == wanted).count();
    let words = stretch.iter().filter(|&&s| s != Status::Particle).count();
    let placeish = place_before(tokens, gaps, start);
    // "near Maryan": one word after a place word is a place, even if it is also a name.
    if count(Status::Name) > 0 {
        let strong_place = start > 0
            && gaps[start] == Gap::Space
            && STRONG_PLACE_WORDS_BEFORE.contains(&tokens[start - 1].folded.as_str());
        return !(strong_place && words == 1);
    }
    if count(Status::Weak) > 0 && words >= 2 {
        return count(Status::Weak) + count(Status::Unknown) + count(Status::PlaceOrName) >= 2
            && !(placeish && count(Status::Weak) == 0);
    }
    // "al-Ittihad al-Islami": words with an article are as often a group or a place.
    let unknown = (start..stop)
        .filter(|&k| status[k] == Status::Unknown && !has_article(&tokens[k]))
        .count();
    unknown >= 2 && !placeish
}

fn has_article(token: &Token) -> bool {
    [
        "al-", "el-", "al'", "as-", "ash-", "ad-", "ar-", "an-", "at-",
    ]
    .iter()
    .any(|article| token.folded.starts_with(article))
}

/// A title or a post right before the stretch (inside the run, or just before it).
fn titled(
    tokens: &[Token],
    gaps: &[Gap],
    status: &[Status],
    start: usize,
    run_start: usize,
) -> bool {
    if start > run_start {
        // "Sheikh X" or "Driver X", not "Lower Sheikh Mesri" (a place).
        return (run_start..start).all(|k| status[k] == Status::Honorific);
    }
    if start == 0 {
        return false;
    }
    let before = &tokens[start - 1];
    let word = before.folded.as_str();
    // "the engineer's Fayda ID": a possessive post does not name the next word.
    if before.end != before.full_end {
        return false;
    }
    match gaps[start] {
        Gap::Space if word == "of" => {
            start >= 2 && PERSON_BEFORE_OF.contains(&tokens[start - 2].folded.as_str())
        }
        Gap::Space => {
            (HONORIFICS.contains(&word) && before.capitalised)
                || ROLES_BEFORE.contains(&word)
                || (word == "as"
                    && start >= 2
                    && matches!(
                        tokens[start - 2].folded.as_str(),
                        "identified" | "known" | "named" | "introduced" | "listed"
                    ))
        }
        Gap::Comma | Gap::Open | Gap::Other => ROLES_BEFORE.contains(&word),
        Gap::Break => false,
    }
}

/// What follows the stretch says it is a person.
fn person_follows(tokens: &[Token], gaps: &[Gap], stop: usize) -> bool {
    let Some(next) = tokens.get(stop) else {
        return false;
    };
    match gaps[stop] {
        Gap::Comma | Gap::Open => {
            // "X, 34," or "X (34)": an age; "X, 15 September" is a date.
            if next.folded.len() <= 2 && next.folded.chars().all(|c| c.is_ascii_digit()) {
                return !tokens
                    .get(stop + 1)
                    .is_some_and(|t| MONTHS.contains(&t.folded.as_str()));
            }
            // "X, a nurse", "X (driver)", "X, who ...": a post within the next few words.
            (stop..tokens.len().min(stop + 4))
                .take_while(|&k| k == stop || gaps[k] != Gap::Break)
                .any(|k| ROLES_AFTER.contains(&tokens[k].folded.as_str()))
        }
        Gap::Space => {
            let word = next.folded.as_str();
            if PERSON_VERBS.contains(&word) {
                return true;
            }
            // "X and another guard", "X and two other staff".
            if matches!(word, "and" | "et")
                && tokens[stop + 1..]
                    .iter()
                    .take(3)
                    .take_while(|t| !t.capitalised)
                    .any(|t| ROLES_AFTER.contains(&t.folded.as_str()))
                && tokens.get(stop + 1).is_some_and(|t| {
                    matches!(
                        t.folded.as_str(),
                        "another"
                            | "other"
                            | "his"
                            | "her"
                            | "their"
                            | "a"
                            | "an"
                            | "two"
                            | "three"
                    )
                })
            {
                return true;
            }
            let auxiliary = matches!(word, "was" | "were" | "had" | "has" | "is" | "a" | "est");
            auxiliary
                && tokens[stop + 1..]
                    .iter()
                    .take(3)
                    .any(|t| PERSON_PARTICIPLES.contains(&t.folded.as_str()))
        }
        _ => false,
    }
}

/// A lower-case place word right before the stretch ("near", "the village of").
fn place_before(tokens: &[Token], gaps: &[Gap], start: usize) -> bool {
    if start == 0 || gaps[start] != Gap::Space {
        return false;
    }
    let word = tokens[start - 1].folded.as_str();
    if tokens[start - 1].capitalised {
        return false;
    }
    if word == "of" {
        return start >= 2 && PLACE_WORDS_AFTER.contains(&tokens[start - 2].folded.as_str());
    }
    // "between Chitral and Landi Kotal", "Bannu or X": coordinated with a known place.
    if matches!(word, "and" | "or" | "et") {
        return start >= 2
            && (tokens[start - 2].allowed
                || (start >= 3
                    && matches!(tokens[start - 3].folded.as_str(), "between" | "entre")));
    }
    PLACE_WORDS_BEFORE.contains(&word)
}

/// "the village of X", "the outskirts of X": a place whatever its words.
fn named_place(tokens: &[Token], gaps: &[Gap], start: usize) -> bool {
    start >= 2
        && gaps[start] == Gap::Space
        && tokens[start - 1].folded == "of"
        && PLACE_WORDS_AFTER.contains(&tokens[start - 2].folded.as_str())
}

/// A place noun right after the stretch ("X district", "X Hospital").
fn place_after(tokens: &[Token], gaps: &[Gap], stop: usize) -> bool {
    tokens.get(stop).is_some_and(|next| {
        gaps[stop] == Gap::Space
            && (PLACE_WORDS_AFTER.contains(&next.folded.as_str())
                || PLACE_NOUNS.contains(&next.folded.as_str()))
    })
}

/// Turns the unknown or ambiguous words that are parts of a found name into listed names;
/// false when nothing changed. Places that are also names ("Farah") are left to context.
fn mark_found_parts(tokens: &[Token], status: &mut [Status], spans: &[(usize, usize)]) -> bool {
    let lists = &*LISTS;
    let mut parts: HashSet<&str> = HashSet::new();
    for &(a, b) in spans {
        for k in a..b {
            let word = tokens[k].folded.as_str();
            if status[k] != Status::Particle
                && word.chars().count() >= MIN_COREFERENCE_CHARS
                && !lists.common.contains(word)
            {
                parts.insert(word);
            }
        }
    }
    let mut changed = false;
    for (k, token) in tokens.iter().enumerate() {
        if matches!(status[k], Status::Unknown | Status::Weak)
            && parts.contains(token.folded.as_str())
        {
            status[k] = Status::Name;
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::find_unlisted_names;

    fn names(text: &str) -> Vec<&str> {
        let mut found = find_unlisted_names(text);
        found.sort_by_key(|f| f.start);
        found.iter().map(|f| &text[f.start..f.end]).collect()
    }

    #[test]
    fn titles_and_posts() {
        assert_eq!(
            names("The driver, Zorbek Quillan, was shot."),
            ["Zorbek Quillan"]
        );
        assert_eq!(names("They beat Mr Tavoro at the gate."), ["Tavoro"]);
        assert_eq!(names("A guard named Pemulwuy escaped."), ["Pemulwuy"]);
        assert_eq!(
            names("Commander Ostrava Velk ordered it."),
            ["Ostrava Velk"]
        );
        assert_eq!(names("Dr. Ahmad Karimi was taken."), ["Ahmad Karimi"]);
    }

    #[test]
    fn what_follows() {
        assert_eq!(
            names("Zuberi Mkandawire, a nurse, was hurt."),
            ["Zuberi Mkandawire"]
        );
        assert_eq!(names("Kettu (34) was taken."), ["Kettu"]);
        assert_eq!(names("Later Ondrake was released."), ["Ondrake"]);
    }

    #[test]
    fn listed_names_and_other_mentions() {
        assert_eq!(
            names("Abdirahman Farah was abducted in Baidoa. Farah was freed."),
            ["Abdirahman Farah", "Farah"]
        );
        assert_eq!(names("Staff of Hodan district met Halima."), ["Halima"]);
    }

    #[test]
    fn places_and_bodies_stay() {
        assert!(names("Patients were moved to Mirwais Hospital in Kandahar.").is_empty());
        assert!(names("Al-Shabaab claimed the attack on the Afgoye corridor.").is_empty());
        assert!(names("MSF and UNICEF suspended work in Farah province.").is_empty());
        assert!(names("On Monday 3 March the Toyota Land Cruiser left Kabul.").is_empty());
        assert!(names("The convoy left Dera Ismail Khan for Bannu.").is_empty());
    }
}
