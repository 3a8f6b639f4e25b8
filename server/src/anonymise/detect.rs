//! Pattern detectors: e-mail, URL, IBAN, coordinates, phone, identity-document numbers and
//! vehicle plates.
//!
//! Regexes only propose candidates; the decisions (is this digit run a phone number, a date, an
//! amount of money?) are made in code, where they can be read and tested. Rust's regex has no
//! look-around, so word boundaries around numbers are checked in code too.

use std::sync::LazyLock;

use regex::Regex;

use super::{Finding, PiiKind};

// Ranks: lower wins when findings overlap (see `Finding::rank`). Names are rank 4.
const RANK_EMAIL: u8 = 0;
const RANK_URL: u8 = 1;
const RANK_IBAN: u8 = 2;
const RANK_COORDINATES: u8 = 3;
const RANK_PLATE_SHAPE: u8 = 5;
const RANK_PLATE_CONTEXT: u8 = 6;
const RANK_ID_TOKEN: u8 = 7;
const RANK_NUMBER: u8 = 8;

/// How far before a number to look for a word that says what it is ("tel.", "passport").
const CONTEXT_CHARS: usize = 40;

/// A lazily compiled pattern. `None` only if the pattern does not compile, which the unit tests
/// rule out (they force every pattern); the detector is then skipped and an error logged, rather
/// than the hub panicking on a submission.
type Pattern = LazyLock<Option<Regex>>;

fn compile(pattern: &str) -> Option<Regex> {
    match Regex::new(pattern) {
        Ok(regex) => Some(regex),
        Err(error) => {
            tracing::error!(%error, "anonymiser pattern does not compile; detector skipped");
            None
        }
    }
}

fn matches<'t>(pattern: &Pattern, text: &'t str) -> impl Iterator<Item = regex::Match<'t>> {
    pattern.iter().flat_map(move |regex| regex.find_iter(text))
}

fn captures<'t>(pattern: &Pattern, text: &'t str) -> impl Iterator<Item = regex::Captures<'t>> {
    pattern
        .iter()
        .flat_map(move |regex| regex.captures_iter(text))
}

fn is_match(pattern: &Pattern, text: &str) -> bool {
    pattern.as_ref().is_some_and(|regex| regex.is_match(text))
}

static EMAIL: Pattern = LazyLock::new(|| {
    compile(r"[\w][\w.%+\-]*@[\w](?:[\w\-]*[\w])?(?:\.[\w](?:[\w\-]*[\w])?)*\.\p{L}{2,24}")
});

/// "name [at] example [dot] org" and "name (at) example.org".
static EMAIL_OBFUSCATED: Pattern = LazyLock::new(|| {
    compile(
        r"(?i)[\w][\w.+\-]*\s*[\[(\{<]\s*at\s*[\])\}>]\s*[\w\-]+(?:(?:\s*[\[(\{<]\s*dot\s*[\])\}>]\s*|\.)[\w\-]+)+",
    )
});

/// "name at example dot org": only with a "dot" and a plausible last label.
static EMAIL_SPELLED: Pattern = LazyLock::new(|| {
    compile(
        r"(?i)\b[\w][\w.+\-]*\s+at\s+[\w\-]+(?:\s+dot\s+[\w\-]+)*\s+dot\s+(?:com|org|net|int|info|edu|gov|[a-z]{2})\b",
    )
});

static URL: Pattern = LazyLock::new(|| {
    compile(r#"(?i)\b(?:(?:https?|s?ftps?)://|www\d{0,3}\.)[^\s<>"'\[\]{}|\\^`]+"#)
});

/// A bare domain with a common top-level domain, optionally with a path ("reliefweb.int/...").
static BARE_DOMAIN: Pattern = LazyLock::new(|| {
    compile(
        r#"(?i)\b(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+(?:com|org|net|int|info|io|edu|gov|ngo|biz|app|news|me|tv|ly|co\.uk|org\.uk|af|so|ss|sd|sy|cd|ye|ng|ml|cf|pk|iq|ke|et|ht|ua|mm|lb|jo|tr|ch|fr|de|be|nl|uk|no|se|dk)\b(?:/[^\s<>"'\[\]{}|\\^`]*)?"#,
    )
});

static IBAN: Pattern = LazyLock::new(|| {
    compile(r"\b[A-Z]{2}[0-9]{2}(?:[ \-]?[A-Z0-9]{4}){2,7}(?:[ \-]?[A-Z0-9]{1,4})?\b")
});

/// A decimal latitude/longitude pair without labels: both numbers need 3+ decimals.
static COORD_DECIMAL_PAIR: Pattern = LazyLock::new(|| {
    compile(
        r"[-+\x{2212}]?\d{1,2}\.(\d{3,})\s*°?\s*[NS]?(?:\s*[,;/]\s*|\s+)[-+\x{2212}]?\d{1,3}\.(\d{3,})(?:\s*°)?(?:\s*[EW]\b)?",
    )
});

/// One labelled decimal coordinate ("lat 2.0469", "longitude: 45.3182"); two adjacent ones are
/// merged into one position later.
static COORD_LABELLED: Pattern = LazyLock::new(|| {
    compile(
        r"(?i)\b(?:lat(?:itude)?|lon(?:g(?:itude)?)?|lng)\.?\s*[:=]?\s*[-+\x{2212}]?\d{1,3}(?:\.\d+)?(?:\s*°)?(?:\s*(?-i:[NSEW])\b)?",
    )
});

/// Hemisphere-letter decimal degrees: "N 34.5553 E 69.2075", "34.5553°N, 69.2075°E".
static COORD_HEMISPHERE: Pattern = LazyLock::new(|| {
    compile(
        r"\b[NS]\s?\d{1,2}\.\d{2,}(?:\s*°)?(?:\s*[,;/]\s*|\s+)?[EW]\s?\d{1,3}\.\d{2,}(?:\s*°)?|\b\d{1,3}\.\d{2,}\s*°?\s*[NSEW]\b",
    )
});

/// Degrees, minutes (and seconds): `34°33'19"N`, `N 34°33.3'`, `34° 33′ 19″`.
static COORD_DMS: Pattern = LazyLock::new(|| {
    compile(
        r#"(?:\b[NSEW]\s?)?\b\d{1,3}\s?°\s?\d{1,2}(?:[.,]\d+)?\s?(?:'|’|′)(?:\s?\d{1,2}(?:[.,]\d+)?\s?(?:"|''|″|”|’’))?(?:\s?[NSEW]\b)?"#,
    )
});

/// MGRS grid references: "42S VD 12345 67890", "38SMB4484".
static COORD_MGRS: Pattern =
    LazyLock::new(|| compile(r"\b\d{1,2}[C-HJ-NP-X]\s?[A-HJ-NP-Z]{2}\s?(\d{2,5})\s?(\d{2,5})\b"));

/// Digit groups that may be a phone number, an ID number or something harmless; the groups may
/// start with `+`, `00` or a parenthesised country or area code. Arabic-Indic digits count.
static NUMBER: Pattern = LazyLock::new(|| {
    let d = r"[0-9\x{0660}-\x{0669}\x{06F0}-\x{06F9}]";
    let sep = r"(?:[ \x{00A0}]{0,2}[.\-][ \x{00A0}]{0,2}|[ \x{00A0}]{1,2})";
    compile(&format!(
        r"(?:\(\s*(?:\+|00){d}{{1,3}}\s*\)|\+\s?{d}{{1,3}}|\({d}{{1,5}}\)|{d}{{1,15}})(?:{sep}?(?:\(0\)|\({d}{{1,4}}\)|{d}{{1,15}}))*"
    ))
});

/// Letters then digits, as passport and ID-card numbers are written: "P1234567", "ЕК123456",
/// "AB 1234567" (space only after an ID word), "UNX-12345"; proGres-style "123-12C12345";
/// digits with a check letter ("12345678901234A"); Myanmar NRC "12/MaYaKa(N)123456".
static ID_TOKEN: Pattern = LazyLock::new(|| {
    compile(
        r"\b\p{Lu}{1,3}[\- ]?[0-9]{5,12}\p{Lu}?\b|\b[0-9]{1,4}-?[0-9]{0,4}[A-Z]{1,2}[0-9]{4,8}\b|\b[0-9]{6,16}[A-Z]\b|\b[0-9]{1,2}/[A-Za-z]{3,9}\s?\((?:N|E|P|T|Naing)\)\s?[0-9]{5,6}\b",
    )
});

/// Plate shapes recognisable without context: letters-digits-letters ("KBZ 123A",
/// "ABC-123DE", "AA 1234 BB"), agency plates ("UN-4512"), letters-dash-digits ("LEA-1234"),
/// Myanmar-style "1A-2345".
static PLATE_SHAPE: Pattern = LazyLock::new(|| {
    compile(
        r"\b[A-Z]{2,3}[ \-]?[0-9]{3,4}[ \-]?[A-Z]{1,2}\b|\b(?:UN|WFP|UNICEF|UNHCR|IOM|ICRC|MSF|UNDP|UNFPA|UNOPS|OCHA)[ \-]?[0-9]{3,5}\b|\b[A-Z]{2,3}-[0-9]{4,5}\b|\b[0-9][A-Z]-[0-9]{4}\b",
    )
});

/// A plate after a word that announces one: "plate no. KBZ 123A", "registration: 12345 B".
static PLATE_CONTEXT: Pattern = LazyLock::new(|| {
    compile(
        r"(?i:\b(?:plates?|registration|regn?|immatricul\w*|plaque))\.?(?i:\s+(?:no|nr|num|number)\b\.?)?(?:\s*[:#=]\s*|\s+)((?:[A-Z0-9]{1,6}[ \-/]?){1,4})",
    )
});

static PHONE_WORDS: Pattern = LazyLock::new(|| {
    compile(
        r"(?i)\b(?:tel|t[eé]l[eé]phone|phone[sd]?|telephone|mobile|mob|cell|cellphone|gsm|call|called|calling|calls|caller|callers|whatsapp|signal|viber|telegram|imo|thuraya|iridium|satphone|sms|text|texted|hotline|contact|contacts|contacted|reach|reached|dial|dialled|dialed|rang|ring|numéro|portable)\b",
    )
});

static ID_WORDS: Pattern = LazyLock::new(|| {
    compile(
        r"(?i)\b(?:id|ids|identity|identification|national\s+(?:number|no|id|identity|identification)|nif|cin|nina|nrc|fayda|nni|passport|passports|tazkira|tazkera|taskera|tazkiras|nin|cnic|nic|card|document|documents|doc|case|progres|refugee|licence|license|permit|badge|employee|staff\s+no|personnel|matricule|voter|birth|certificate|ration|serial|carte|passeport)\b",
    )
});

static PLATE_WORDS: Pattern = LazyLock::new(|| {
    compile(r"(?i)\b(?:plates?|registration|registered|regn?|immatricul\w*|plaque)\b")
});

static CURRENCY_BEFORE: Pattern = LazyLock::new(|| {
    compile(
        r"(?i)(?:\b(?:usd|us\$|eur|gbp|chf|afn|afs|sos|ssp|sdg|syp|cdf|fc|yer|ngn|xof|xaf|cfa|fcfa|pkr|rs|iqd|kes|ksh|etb|birr|htg|uah|mmk|kyat|lbp|jod|sar|aed|dollars?|euros?|francs?)|[$€£₦₹])\s*$",
    )
});

static CURRENCY_AFTER: Pattern = LazyLock::new(|| {
    compile(
        r"(?i)^\s*(?:usd|eur|gbp|chf|afn|afs|afghanis?|sos|ssp|sdg|syp|cdf|fc|yer|ngn|naira|xof|xaf|cfa|fcfa|pkr|rupees?|iqd|dinars?|kes|ksh|shillings?|etb|birr|htg|gourdes?|uah|hryvnias?|mmk|kyats?|dollars?|euros?|francs?|pounds?|riyals?|million|billion|people|persons|individuals|households|families|idps|refugees|beneficiaries|children|km|kg|tonnes?|litres?)\b",
    )
});

/// Currency codes that may stand before digits without being an ID prefix.
const CURRENCY_PREFIXES: &[&str] = &[
    "USD", "EUR", "GBP", "CHF", "AFN", "AFS", "SOS", "SSP", "SDG", "SYP", "CDF", "FC", "YER",
    "NGN", "XOF", "XAF", "CFA", "PKR", "RS", "IQD", "KES", "KSH", "ETB", "HTG", "UAH", "MMK",
    "LBP", "JOD", "SAR", "AED",
];

/// Every pattern-based finding in `text` (names are found elsewhere).
pub(crate) fn find_all(text: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    find_emails(text, &mut findings);
    find_urls(text, &mut findings);
    find_ibans(text, &mut findings);
    find_coordinates(text, &mut findings);
    find_plate_shapes(text, &mut findings);
    find_id_tokens(text, &mut findings);
    find_numbers(text, &mut findings);
    find_context_plates(text, &mut findings);
    drop_time_fractions(text, &mut findings);
    findings
}

/// A time of day with a fraction of a second ("19:42:57.123456789Z", "14:30:25,5"), as
/// timestamps are written: never an identifier or a phone number.
static TIME_FRACTION: Pattern =
    LazyLock::new(|| compile(r"\b\d{1,2}:\d{2}(?::\d{2})?[.,]\d{1,9}(?:Z\b|[+\-]\d{2}:?\d{2}\b)?"));

/// Removes the number-shaped findings that lie in a timestamp's time of day.
fn drop_time_fractions(text: &str, findings: &mut Vec<Finding>) {
    let times: Vec<(usize, usize)> = matches(&TIME_FRACTION, text)
        .map(|m| (m.start(), m.end()))
        .collect();
    if times.is_empty() {
        return;
    }
    findings.retain(|f| {
        !matches!(f.kind, PiiKind::IdNumber | PiiKind::Phone | PiiKind::Plate)
            || !times
                .iter()
                .any(|&(start, end)| f.start >= start && f.end <= end)
    });
}

fn push(findings: &mut Vec<Finding>, start: usize, end: usize, kind: PiiKind, rank: u8) {
    findings.push(Finding {
        start,
        end,
        kind,
        rank,
    });
}

fn find_emails(text: &str, findings: &mut Vec<Finding>) {
    for pattern in [&EMAIL, &EMAIL_OBFUSCATED, &EMAIL_SPELLED] {
        for m in matches(pattern, text) {
            push(findings, m.start(), m.end(), PiiKind::Email, RANK_EMAIL);
        }
    }
}

fn find_urls(text: &str, findings: &mut Vec<Finding>) {
    for pattern in [&URL, &BARE_DOMAIN] {
        for m in matches(pattern, text) {
            if text[..m.start()].ends_with('@') {
                continue;
            }
            let end = m.start() + trim_url_end(m.as_str());
            push(findings, m.start(), end, PiiKind::Url, RANK_URL);
        }
    }
}

/// Length of `url` without the sentence punctuation that follows it; a closing parenthesis
/// stays when the URL opened one (Wikipedia-style paths).
fn trim_url_end(url: &str) -> usize {
    let mut end = url.len();
    while let Some(c) = url[..end].chars().next_back() {
        let strip = match c {
            '.' | ',' | ';' | ':' | '!' | '?' | '"' | '\'' | '»' | '”' | '’' => true,
            ')' => url[..end].matches('(').count() < url[..end].matches(')').count(),
            _ => false,
        };
        if !strip {
            break;
        }
        end -= c.len_utf8();
    }
    end
}

fn find_ibans(text: &str, findings: &mut Vec<Finding>) {
    for m in matches(&IBAN, text) {
        // The pattern is greedy: shorten group by group until the checksum holds, so a
        // following capitalised word or number is not swallowed.
        let mut candidate = m.as_str();
        loop {
            let compact: String = candidate
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            if compact.len() < 15 {
                break;
            }
            if iban_checksum_ok(&compact) || has_context(text, m.start(), &IBAN_WORDS) {
                push(
                    findings,
                    m.start(),
                    m.start() + candidate.len(),
                    PiiKind::Iban,
                    RANK_IBAN,
                );
                break;
            }
            match candidate.rfind([' ', '-']) {
                Some(cut) => candidate = &candidate[..cut],
                None => break,
            }
        }
    }
}

static IBAN_WORDS: Pattern =
    LazyLock::new(|| compile(r"(?i)\b(?:iban|account|acct|a/c|bank|transfer|virement|compte)\b"));

/// ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 = 1.
fn iban_checksum_ok(compact: &str) -> bool {
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rearranged = compact[4..].chars().chain(compact[..4].chars());
    let mut remainder: u32 = 0;
    for c in rearranged {
        let value = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        remainder = if value < 10 {
            (remainder * 10 + value) % 97
        } else {
            (remainder * 100 + value) % 97
        };
    }
    remainder == 1
}

fn find_coordinates(text: &str, findings: &mut Vec<Finding>) {
    for caps in captures(&COORD_DECIMAL_PAIR, text) {
        let Some(m) = caps.get(0) else { continue };
        if !number_boundaries_ok(text, m.start(), m.end()) {
            continue;
        }
        let decimals = |i| caps.get(i).map_or(0, |d| d.as_str().len());
        // "1.500, 2.500" is how some write thousands: with exactly three decimals each, a
        // currency next to the numbers says it is money.
        if decimals(1) == 3 && decimals(2) == 3 && is_money(text, m.start(), m.end()) {
            continue;
        }
        push(
            findings,
            m.start(),
            m.end(),
            PiiKind::Coordinates,
            RANK_COORDINATES,
        );
    }
    for pattern in [&COORD_LABELLED, &COORD_HEMISPHERE, &COORD_DMS] {
        for m in matches(pattern, text) {
            if number_boundaries_ok(text, m.start(), m.end()) {
                push(
                    findings,
                    m.start(),
                    m.end(),
                    PiiKind::Coordinates,
                    RANK_COORDINATES,
                );
            }
        }
    }
    for caps in captures(&COORD_MGRS, text) {
        let (Some(m), Some(east), Some(north)) = (caps.get(0), caps.get(1), caps.get(2)) else {
            continue;
        };
        let spaced = east.end() < north.start();
        let plausible = if spaced {
            east.len() == north.len()
        } else {
            // Unspaced digits are split evenly; the regex split may be anywhere.
            (east.len() + north.len()) % 2 == 0 && east.len() + north.len() >= 4
        };
        if plausible {
            push(
                findings,
                m.start(),
                m.end(),
                PiiKind::Coordinates,
                RANK_COORDINATES,
            );
        }
    }
}

fn find_plate_shapes(text: &str, findings: &mut Vec<Finding>) {
    for m in matches(&PLATE_SHAPE, text) {
        let token = m.as_str();
        if looks_like_time_with_suffix(token) || is_agency_year(token) || continues(text, m.end()) {
            continue;
        }
        let kind = match context_kind(text, m.start()) {
            Some(PiiKind::IdNumber) => PiiKind::IdNumber,
            _ => PiiKind::Plate,
        };
        push(findings, m.start(), m.end(), kind, RANK_PLATE_SHAPE);
    }
}

/// True when the token goes on past `end` with a joiner ("UNHCR 245-19C00457"): then it is
/// part of a longer code, not a plate.
fn continues(text: &str, end: usize) -> bool {
    let mut after = text[end..].chars();
    matches!(after.next(), Some('-' | '/')) && after.next().is_some_and(char::is_alphanumeric)
}

/// "AT 1430 H", "ON 0800 LT": military times in upper-case text, not plates.
fn looks_like_time_with_suffix(token: &str) -> bool {
    let parts: Vec<&str> = token.split([' ', '-']).filter(|p| !p.is_empty()).collect();
    let digits: String = token.chars().filter(char::is_ascii_digit).collect();
    let suffix = parts.last().copied().unwrap_or_default();
    let time_suffix = matches!(
        suffix,
        "H" | "HR" | "HRS" | "LT" | "Z" | "L" | "GMT" | "UTC"
    );
    let trailing_digits = suffix.chars().any(|c| c.is_ascii_digit());
    time_suffix && !trailing_digits && digits.len() == 4 && is_hhmm(&digits)
}

/// "UN 2021", "ICRC 1990": an agency and a year, not a plate.
fn is_agency_year(token: &str) -> bool {
    let digits: String = token.chars().filter(char::is_ascii_digit).collect();
    let letters_then_digits = token
        .trim_start_matches(|c: char| c.is_ascii_uppercase())
        .trim_start_matches([' ', '-'])
        .chars()
        .all(|c| c.is_ascii_digit());
    letters_then_digits && digits.len() == 4 && is_year(&digits)
}

fn find_id_tokens(text: &str, findings: &mut Vec<Finding>) {
    for m in matches(&ID_TOKEN, text) {
        let token = m.as_str();
        let prefix: String = token.chars().take_while(|c| c.is_uppercase()).collect();
        if !prefix.is_empty() && CURRENCY_PREFIXES.contains(&prefix.as_str()) {
            continue;
        }
        let context = context_kind(text, m.start());
        // A space between letters and digits ("AB 1234567") is only an ID after an ID word.
        let spaced = token[prefix.len()..].starts_with(' ');
        if spaced && context != Some(PiiKind::IdNumber) {
            continue;
        }
        let kind = match context {
            Some(PiiKind::Plate) => PiiKind::Plate,
            _ => PiiKind::IdNumber,
        };
        push(findings, m.start(), m.end(), kind, RANK_ID_TOKEN);
    }
}

fn find_context_plates(text: &str, findings: &mut Vec<Finding>) {
    for caps in captures(&PLATE_CONTEXT, text) {
        let Some(group) = caps.get(1) else { continue };
        let Some((start, end)) = trim_plate(text, group.start(), group.end()) else {
            continue;
        };
        push(findings, start, end, PiiKind::Plate, RANK_PLATE_CONTEXT);
    }
}

/// Narrows a captured plate to its tokens: trailing words of three or more letters ("AND") and
/// separators go, and what remains must hold a digit and not be a year.
fn trim_plate(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let mut end = end;
    loop {
        let slice = text[start..end].trim_end_matches([' ', '-', '/']);
        end = start + slice.len();
        let last_token_start = slice.rfind([' ', '-', '/']).map_or(0, |i| i + 1);
        let last = &slice[last_token_start..];
        let is_word = last.len() >= 3 && last.chars().all(|c| c.is_ascii_uppercase());
        if is_word && last_token_start > 0 {
            end = start + last_token_start;
            continue;
        }
        break;
    }
    let plate = &text[start..end];
    let alnum: String = plate.chars().filter(char::is_ascii_alphanumeric).collect();
    let has_digit = alnum.chars().any(|c| c.is_ascii_digit());
    let all_digits = alnum.chars().all(|c| c.is_ascii_digit());
    if !has_digit || !(3..=12).contains(&alnum.len()) || (all_digits && is_year(&alnum)) {
        return None;
    }
    if !word_boundary_after(text, end) {
        return None;
    }
    Some((start, end))
}

fn word_boundary_after(text: &str, at: usize) -> bool {
    text[at..]
        .chars()
        .next()
        .is_none_or(|c| !c.is_alphanumeric())
}

/// The shape of a digit-group candidate, computed once for the classification rules.
struct DigitGroups {
    /// Digits per group, in order ("+93 70 123 4567" -> [2, 2, 3, 4]).
    groups: Vec<usize>,
    /// The digits of each group, as ASCII.
    values: Vec<String>,
    digits: usize,
    international: bool,
    leading_zero: bool,
    separators: Vec<char>,
    parenthesised: bool,
}

impl DigitGroups {
    fn parse(candidate: &str) -> Self {
        let mut values: Vec<String> = Vec::new();
        let mut separators = Vec::new();
        let mut current = String::new();
        // The first separator char seen since the last group ended.
        let mut gap: Option<char> = None;
        for c in candidate.chars() {
            if let Some(value) = digit_value(c) {
                if current.is_empty() && !values.is_empty() {
                    separators.push(gap.take().unwrap_or('('));
                }
                current.push(char::from(b'0' + value));
            } else {
                if !current.is_empty() {
                    values.push(std::mem::take(&mut current));
                    gap = None;
                }
                if gap.is_none() && matches!(c, ' ' | '.' | '-' | '\u{00A0}') {
                    gap = Some(c);
                }
            }
        }
        if !current.is_empty() {
            values.push(current);
        }
        let groups: Vec<usize> = values.iter().map(String::len).collect();
        let trimmed = candidate.trim_start_matches(['(', ' ']);
        // "00" dials out only when a country code follows: "0093 70...", "00 252 61...";
        // "002-345-678-9" is a number that happens to start with zeros.
        let first_len = groups.first().copied().unwrap_or(0);
        let international = trimmed.starts_with('+')
            || (trimmed.starts_with("00") && (first_len == 2 || (4..=5).contains(&first_len)));
        let leading_zero = !international && values.first().is_some_and(|v| v.starts_with('0'));
        DigitGroups {
            digits: groups.iter().sum(),
            groups,
            values,
            international,
            leading_zero,
            separators,
            parenthesised: candidate.contains('('),
        }
    }

    /// "12 500 000", "1.200.000": thousands grouping, which phone numbers rarely have.
    fn thousands_like(&self) -> bool {
        self.groups.len() >= 2
            && (1..=3).contains(&self.groups[0])
            && self.groups[1..].iter().all(|&g| g == 3)
            && !self.parenthesised
            && self.separators.windows(2).all(|w| w[0] == w[1])
    }

    /// Dates ("12.03.2021", "2021-03-12"), year ranges ("2019-2021") and time ranges
    /// ("0830-1000"): never personal data.
    fn calendar_like(&self) -> bool {
        let v = &self.values;
        let num = |s: &String| s.parse::<u32>().unwrap_or(u32::MAX);
        match self.groups.as_slice() {
            [4, 1..=2, 1..=2] => {
                is_year(&v[0]) && (1..=12).contains(&num(&v[1])) && (1..=31).contains(&num(&v[2]))
            }
            [1..=2, 1..=2, 4] => {
                (1..=31).contains(&num(&v[0])) && (1..=31).contains(&num(&v[1])) && is_year(&v[2])
            }
            [4, 4] => (is_year(&v[0]) && is_year(&v[1])) || (is_hhmm(&v[0]) && is_hhmm(&v[1])),
            [1..=2, 1..=2, 2] => {
                (1..=31).contains(&num(&v[0]))
                    && (1..=12).contains(&num(&v[1]))
                    && self.separators.iter().all(|&s| s != ' ')
            }
            // "14.30-16.00": a time range.
            [2, 2, 2, 2] => {
                is_hhmm(&format!("{}{}", v[0], v[1]))
                    && is_hhmm(&format!("{}{}", v[2], v[3]))
                    && self.separators.first() == self.separators.get(2)
                    && self.separators.get(1) != self.separators.first()
            }
            // "2019 2020 2021": a list of years.
            _ => self.values.iter().filter(|v| is_year(v)).count() >= 2,
        }
    }

    /// Grouped like a phone number written without its prefix: short groups, the last one up
    /// to seven digits ("77 123 4567", "61 5123456", "76 12 34 56", "3412-3456").
    ///
    /// A run of small numbers ("12 15 19 22 31") is a list, not a phone number: groups of one
    /// or two digits only make a phone number as the francophone four pairs.
    fn phone_grouping(&self) -> bool {
        let n = self.groups.len();
        let all_short = self.groups.iter().all(|&g| g <= 2);
        (2..=5).contains(&n)
            && (8..=12).contains(&self.digits)
            && self.groups[..n - 1].iter().all(|&g| g <= 4)
            && self.groups[n - 1] <= 7
            && (!all_short || (n == 4 && self.digits == 8))
    }
}

fn find_numbers(text: &str, findings: &mut Vec<Finding>) {
    for m in matches(&NUMBER, text) {
        let (start, end) = trim_number(text, m.start(), m.end());
        if start >= end || !number_boundaries_ok(text, start, end) {
            continue;
        }
        let candidate = &text[start..end];
        let groups = DigitGroups::parse(candidate);
        if let Some(kind) = classify_number(text, start, end, &groups) {
            push(findings, start, end, kind, RANK_NUMBER);
        }
    }
}

/// Narrows a candidate: a parenthesised group after the start belongs to the number only in
/// an international or trunk-prefixed number ("+380 (50) 123-45-67"); elsewhere it is a
/// separate remark ("resolution 2730 (2024)").
fn trim_number(text: &str, start: usize, end: usize) -> (usize, usize) {
    let mut slice = &text[start..end];
    let prefixed = slice.starts_with(['+', '(']) || slice.starts_with('0');
    if !prefixed {
        if let Some(paren) = slice.find('(') {
            slice = &slice[..paren];
        }
    }
    let trimmed = slice.trim_end_matches([' ', '.', '-', '\u{00A0}']);
    (start, start + trimmed.len())
}

/// Decides what a digit-group candidate is, if anything worth removing.
fn classify_number(text: &str, start: usize, end: usize, g: &DigitGroups) -> Option<PiiKind> {
    if g.calendar_like() {
        return None;
    }
    if g.international {
        return (8..=15).contains(&g.digits).then_some(PiiKind::Phone);
    }
    // "ID distribution for 4 500 beneficiaries", "registration of 12 500 IDPs": a context word
    // does not make an amount or a count an identifier.
    if is_money(text, start, end) {
        return None;
    }
    let grouped_count = g.thousands_like() && g.digits < 9;
    match context_kind(text, start) {
        Some(PiiKind::IdNumber) if g.digits >= 5 && !grouped_count => {
            return Some(PiiKind::IdNumber);
        }
        Some(PiiKind::Plate)
            if (3..=8).contains(&g.digits) && !grouped_count && !is_lone_year(g) =>
        {
            return Some(PiiKind::Plate);
        }
        Some(PiiKind::Phone) if (7..=15).contains(&g.digits) => return Some(PiiKind::Phone),
        _ => {}
    }
    let first_group = g.groups.first().copied().unwrap_or(0);
    if g.leading_zero && (9..=12).contains(&g.digits) && first_group <= 5 {
        return Some(PiiKind::Phone);
    }
    if g.leading_zero && g.groups.len() == 1 && (9..=12).contains(&g.digits) {
        return Some(PiiKind::Phone);
    }
    if !g.thousands_like() && g.phone_grouping() {
        return Some(PiiKind::Phone);
    }
    // A long number in one to three groups, unannounced, is most likely an identifier.
    if g.digits >= 9 && g.groups.len() <= 3 && !g.thousands_like() {
        return Some(PiiKind::IdNumber);
    }
    None
}

fn is_lone_year(g: &DigitGroups) -> bool {
    g.values.len() == 1 && is_year(&g.values[0])
}

/// True when a currency or a unit stands right before or after the number.
fn is_money(text: &str, start: usize, end: usize) -> bool {
    let before = tail(text, start, 12);
    let after = &text[end..floor_boundary(text, text.len().min(end + 16))];
    is_match(&CURRENCY_BEFORE, before) || is_match(&CURRENCY_AFTER, after)
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Up to `chars` characters of `text` before byte `at`.
fn tail(text: &str, at: usize, chars: usize) -> &str {
    let from = text[..at]
        .char_indices()
        .rev()
        .nth(chars.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    &text[from..at]
}

/// The kind announced by the nearest word before `at` ("tel.", "passport", "plate") in the
/// same sentence, if any.
fn context_kind(text: &str, at: usize) -> Option<PiiKind> {
    let window = sentence_tail(text, at);
    [
        (PiiKind::Phone, &PHONE_WORDS),
        (PiiKind::IdNumber, &ID_WORDS),
        (PiiKind::Plate, &PLATE_WORDS),
    ]
    .into_iter()
    .filter_map(|(kind, words)| matches(words, window).last().map(|m| (m.end(), kind)))
    .max_by_key(|(end, _)| *end)
    .map(|(_, kind)| kind)
}

fn has_context(text: &str, at: usize, words: &Pattern) -> bool {
    is_match(words, sentence_tail(text, at))
}

/// Up to `CONTEXT_CHARS` before `at`, cut at the start of the sentence, so a "plate" in one
/// sentence does not turn a count in the next into a plate. A sentence starts after a line
/// break, or after `.`, `!` or `?` and a space before a capitalised word ("Services"); "no. AB12"
/// or "Tel. 070" do not start one.
fn sentence_tail(text: &str, at: usize) -> &str {
    let window = tail(text, at, CONTEXT_CHARS);
    let start = captures(&SENTENCE_START, window)
        .last()
        .and_then(|caps| {
            caps.get(1)
                .map(|newline| newline.end())
                .or_else(|| caps.get(2).map(|word| word.start()))
        })
        .unwrap_or(0);
    &window[start..]
}

static SENTENCE_START: Pattern = LazyLock::new(|| compile(r"(\n)|[.!?]\s+(\p{Lu}\p{Ll})"));

/// A number must not continue a word or another number: "A12345678" is an ID token, not a
/// number; "34.5553" is not two numbers.
fn number_boundaries_ok(text: &str, start: usize, end: usize) -> bool {
    let mut before = text[..start].chars().rev();
    let ok_before = match before.next() {
        None => true,
        Some(c) if c.is_alphanumeric() || c == '_' => false,
        Some('.' | ',') => before.next().is_none_or(|c| !c.is_numeric()),
        Some(_) => true,
    };
    let mut after = text[end..].chars();
    let ok_after = match after.next() {
        None => true,
        Some(c) if c.is_alphanumeric() || c == '_' => false,
        Some('.' | ',') => after.next().is_none_or(|c| !c.is_numeric()),
        Some(_) => true,
    };
    ok_before && ok_after
}

/// The value of an ASCII, Arabic-Indic or Eastern Arabic-Indic digit.
fn digit_value(c: char) -> Option<u8> {
    let value = match c {
        '0'..='9' => u32::from(c) - u32::from('0'),
        '\u{0660}'..='\u{0669}' => u32::from(c) - 0x0660,
        '\u{06F0}'..='\u{06F9}' => u32::from(c) - 0x06F0,
        _ => return None,
    };
    u8::try_from(value).ok()
}

fn is_year(digits: &str) -> bool {
    digits.len() == 4
        && digits
            .parse::<u32>()
            .is_ok_and(|y| (1900..=2099).contains(&y))
}

fn is_hhmm(digits: &str) -> bool {
    digits.len() == 4
        && digits[..2].parse::<u32>().is_ok_and(|h| h <= 23)
        && digits[2..].parse::<u32>().is_ok_and(|m| m <= 59)
}

pub(super) mod patterns {
    //! Every lazily compiled pattern, so the hub can force them at start (and tests too).
    pub fn all() -> Vec<&'static super::Pattern> {
        use super::*;
        vec![
            &EMAIL,
            &EMAIL_OBFUSCATED,
            &EMAIL_SPELLED,
            &URL,
            &BARE_DOMAIN,
            &IBAN,
            &IBAN_WORDS,
            &COORD_DECIMAL_PAIR,
            &COORD_LABELLED,
            &COORD_HEMISPHERE,
            &COORD_DMS,
            &COORD_MGRS,
            &NUMBER,
            &ID_TOKEN,
            &PLATE_SHAPE,
            &PLATE_CONTEXT,
            &PHONE_WORDS,
            &ID_WORDS,
            &PLATE_WORDS,
            &CURRENCY_BEFORE,
            &CURRENCY_AFTER,
            &SENTENCE_START,
            &TIME_FRACTION,
        ]
    }
}
