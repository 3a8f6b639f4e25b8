//! Corpus test for the ingest-time anonymiser: recall over planted personal data and the rate at
//! which ordinary words are altered, over a few hundred generated incident narratives.
//!
//! Run with `--nocapture` to see the numbers and a few scrubbed samples.

#[path = "data/anonymiser_corpus.rs"]
mod corpus;

use std::collections::BTreeMap;

use corpus::{Narrative, Segment};
use slt_hub::anonymise::{PiiKind, scrub};

const NARRATIVES: usize = 240;
const MIN_RECALL: f64 = 0.99;
const MAX_FALSE_POSITIVE_RATE: f64 = 0.01;

/// A token of a narrative: a word, one punctuation character, or a placeholder. `item` is the
/// index of the planted item a placeholder stands for (ideal text only).
#[derive(Debug, Clone)]
struct Token {
    text: String,
    origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Ordinary text: altering it is a false positive.
    Text,
    /// The placeholder that should replace planted item `n`.
    Item(usize),
    /// A token of the scrubber's output.
    Output,
}

const PLACEHOLDERS: [&str; 8] = [
    "[EMAIL]",
    "[PHONE]",
    "[URL]",
    "[IBAN]",
    "[ID_NUMBER]",
    "[PLATE]",
    "[COORDINATES]",
    "[NAME]",
];

fn is_word_char(c: char) -> bool {
    !c.is_whitespace()
        && !c.is_ascii_punctuation()
        && !matches!(c, '\u{2000}'..='\u{206F}' | '°' | '،' | '؛' | '«' | '»')
}

/// Splits text into words, single punctuation characters and whole placeholders.
fn tokenize(text: &str, origin: Origin, out: &mut Vec<Token>) {
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '[' {
            if let Some(p) = PLACEHOLDERS.iter().find(|p| rest.starts_with(**p)) {
                out.push(Token {
                    text: (*p).to_owned(),
                    origin,
                });
                rest = &rest[p.len()..];
                continue;
            }
        }
        let len = if is_word_char(c) {
            rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len())
        } else {
            c.len_utf8()
        };
        out.push(Token {
            text: rest[..len].to_owned(),
            origin,
        });
        rest = &rest[len..];
    }
}

/// Pairs of indices (ideal, output) of a longest common subsequence of the two token lists.
fn align(ideal: &[Token], output: &[Token]) -> Vec<(usize, usize)> {
    let (n, m) = (ideal.len(), output.len());
    let mut table = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[i][j] = if ideal[i].text == output[j].text {
                table[i + 1][j + 1] + 1
            } else {
                table[i + 1][j].max(table[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut pairs = Vec::new();
    while i < n && j < m {
        if ideal[i].text == output[j].text {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if table[i + 1][j] >= table[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

#[derive(Default)]
struct Tally {
    planted: BTreeMap<PiiKind, u32>,
    caught: BTreeMap<PiiKind, u32>,
    text_tokens: u32,
    altered_tokens: u32,
    misses: Vec<String>,
    alterations: Vec<String>,
}

fn evaluate(narrative: &Narrative, tally: &mut Tally) -> String {
    let text = narrative.text();
    let names: Vec<&str> = narrative.names.iter().map(String::as_str).collect();
    let (output, _report) = scrub(&text, &names);

    let mut ideal = Vec::new();
    let mut items = Vec::new();
    for segment in &narrative.segments {
        match segment {
            Segment::Text(t) => tokenize(t, Origin::Text, &mut ideal),
            Segment::Pii { kind, text } => {
                let index = items.len();
                items.push((*kind, text.as_str()));
                ideal.push(Token {
                    text: kind.placeholder().to_owned(),
                    origin: Origin::Item(index),
                });
            }
        }
    }
    let mut actual = Vec::new();
    tokenize(&output, Origin::Output, &mut actual);
    let pairs = align(&ideal, &actual);
    let mut matched = vec![false; ideal.len()];
    for (i, _) in &pairs {
        matched[*i] = true;
    }

    for (index, token) in ideal.iter().enumerate() {
        match token.origin {
            Origin::Text => {
                tally.text_tokens += 1;
                if !matched[index] {
                    tally.altered_tokens += 1;
                    tally
                        .alterations
                        .push(format!("{:?} in: {output}", token.text));
                }
            }
            Origin::Item(item) => {
                let (kind, planted) = items[item];
                *tally.planted.entry(kind).or_insert(0) += 1;
                if matched[index] && !output.contains(planted) {
                    *tally.caught.entry(kind).or_insert(0) += 1;
                } else {
                    tally
                        .misses
                        .push(format!("{kind} {planted:?} in: {output}"));
                }
            }
            Origin::Output => {}
        }
    }
    output
}

#[test]
fn anonymiser_corpus_recall_and_false_positive_rate() {
    let handwritten = corpus::handwritten();
    let mut narratives = corpus::generate(NARRATIVES);
    narratives.extend(handwritten.iter().cloned());
    assert!(narratives.len() >= 200);

    let mut tally = Tally::default();
    let mut samples = Vec::new();
    for (index, narrative) in narratives.iter().enumerate() {
        let output = evaluate(narrative, &mut tally);
        if index % 60 == 0 || index == NARRATIVES {
            samples.push((narrative.country, narrative.text(), output));
        }
    }
    // The hand-written part alone, as it was not written from the generator's templates.
    let mut hand = Tally::default();
    for narrative in &handwritten {
        evaluate(narrative, &mut hand);
    }
    let hand_planted: u32 = hand.planted.values().sum();
    let hand_caught: u32 = hand.caught.values().sum();

    let planted: u32 = tally.planted.values().sum();
    let caught: u32 = tally.caught.values().sum();
    let recall = f64::from(caught) / f64::from(planted);
    let fp_rate = f64::from(tally.altered_tokens) / f64::from(tally.text_tokens);

    println!(
        "anonymiser corpus: {} narratives ({} generated, {} hand-written), {planted} planted items",
        narratives.len(),
        NARRATIVES,
        handwritten.len()
    );
    for (kind, n) in &tally.planted {
        let c = tally.caught.get(kind).copied().unwrap_or(0);
        println!(
            "  {kind:<12} {c:>4}/{n:<4} caught ({:.2}%)",
            100.0 * f64::from(c) / f64::from(*n)
        );
    }
    println!("recall: {recall:.4} ({caught}/{planted})");
    println!(
        "false-positive rate: {fp_rate:.4} ({} of {} non-PII tokens altered)",
        tally.altered_tokens, tally.text_tokens
    );
    println!(
        "hand-written only: recall {:.4} ({hand_caught}/{hand_planted}), false-positive rate {:.4} ({}/{})",
        f64::from(hand_caught) / f64::from(hand_planted),
        f64::from(hand.altered_tokens) / f64::from(hand.text_tokens),
        hand.altered_tokens,
        hand.text_tokens
    );
    for miss in tally.misses.iter().take(25) {
        println!("MISS {miss}");
    }
    for alteration in tally.alterations.iter().take(25) {
        println!("ALTERED {alteration}");
    }
    for (country, before, after) in &samples {
        println!("--- sample ({country})\n  before: {before}\n  after:  {after}");
    }

    for kind in PiiKind::ALL {
        assert!(
            tally.planted.get(&kind).copied().unwrap_or(0) >= 50,
            "too few {kind} items planted"
        );
    }
    assert!(
        recall >= MIN_RECALL,
        "recall {recall:.4} below {MIN_RECALL}"
    );
    assert!(
        fp_rate < MAX_FALSE_POSITIVE_RATE,
        "false-positive rate {fp_rate:.4} not below {MAX_FALSE_POSITIVE_RATE}"
    );
}

#[test]
fn anonymiser_corpus_covers_every_country_dialling_code() {
    let narratives = corpus::generate(NARRATIVES);
    let all: String = narratives
        .iter()
        .map(Narrative::text)
        .collect::<Vec<_>>()
        .join("\n");
    for code in [
        "93", "252", "211", "249", "963", "243", "967", "234", "223", "236", "92", "964", "254",
        "251", "509", "380", "95",
    ] {
        assert!(
            all.contains(&format!("+{code}")) || all.contains(&format!("00{code}")),
            "no international number for +{code}"
        );
    }
    // Listed names in non-Latin scripts appear in the narratives.
    for script_name in ["احمد کریمی", "አበበ በቀለ ተሰማ", "Дмитро Коваленко"]
    {
        assert!(
            narratives
                .iter()
                .any(|n| n.names.iter().any(|name| name == script_name)),
            "{script_name} never listed"
        );
    }
}

#[test]
fn anonymiser_corpus_is_deterministic() {
    let a: Vec<String> = corpus::generate(20).iter().map(Narrative::text).collect();
    let b: Vec<String> = corpus::generate(20).iter().map(Narrative::text).collect();
    assert_eq!(a, b);
}
