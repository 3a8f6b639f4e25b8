//! The pseudonymous victim key: lets the reporting organisation see that two incidents hit the
//! same person without the hub or any partner learning who, or being able to test a guess.
//!
//! The key is HMAC-SHA256 under a secret only the origin organisation's records use, so the same
//! name gives unrelated keys in two organisations, and nobody without the secret can confirm a
//! name by hashing it (a plain hash of a name could be brute-forced from a list of names).

use ring::hmac;

use super::normalise::fold;

/// Versions the derivation, so a later change of normalisation cannot silently collide with
/// keys derived the old way.
const DOMAIN: &[u8] = b"slt-hub victim-key v1\0";

/// The pseudonymous key of a victim's `name` under an organisation's secret, as 64 lower-case
/// hex digits; `None` when the name is blank (two unnamed victims must not link).
///
/// The name is normalised first: trimmed, case-folded, diacritics and Arabic vowel marks and
/// letter variants folded, hyphens read as spaces, other punctuation dropped and whitespace
/// collapsed, so "Ahmad  KARIMI" and "ahmad karimi" give the same key. `org_secret` should be at
/// least 32 random bytes kept by the hub per organisation.
pub fn victim_key(org_secret: &[u8], name: &str) -> Option<String> {
    let normalised = normalise_name(name);
    if normalised.is_empty() {
        return None;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, org_secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(DOMAIN);
    context.update(normalised.as_bytes());
    let tag = context.sign();
    Some(to_hex(tag.as_ref()))
}

/// The spelling a name is keyed under (see [`victim_key`]).
pub(crate) fn normalise_name(name: &str) -> String {
    let folded = fold(name);
    let mut out = String::with_capacity(folded.len());
    let mut pending_space = false;
    for c in folded.chars() {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else if c.is_whitespace() || matches!(c, '-' | '_' | '/') {
            pending_space = true;
        }
    }
    out
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{normalise_name, victim_key};

    const SECRET: &[u8] = b"org-a secret: 32 bytes or more..";
    const OTHER_SECRET: &[u8] = b"org-b secret: 32 bytes or more..";

    fn key(secret: &[u8], name: &str) -> String {
        victim_key(secret, name).expect("a non-blank name has a key")
    }

    #[test]
    fn is_64_lower_case_hex_digits() {
        let k = key(SECRET, "Ahmad Karimi");
        assert_eq!(k.len(), 64);
        assert!(
            k.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn same_name_in_another_case_or_spacing_gives_the_same_key() {
        let k = key(SECRET, "Ahmad Karimi");
        for variant in [
            "ahmad karimi",
            "AHMAD KARIMI",
            "  Ahmad   Karimi ",
            "Ahmad\tKarimi\n",
            "Ahmad-Karimi",
            "Ahmad Karimi.",
        ] {
            assert_eq!(key(SECRET, variant), k, "{variant:?}");
        }
    }

    #[test]
    fn diacritics_and_arabic_variants_do_not_change_the_key() {
        assert_eq!(key(SECRET, "Aïssata Traoré"), key(SECRET, "AISSATA TRAORE"));
        assert_eq!(key(SECRET, "أحمد كريمي"), key(SECRET, "احمد کریمی"));
        assert_eq!(key(SECRET, "مُحَمَّد"), key(SECRET, "محمد"));
    }

    #[test]
    fn different_secret_gives_a_different_key() {
        assert_ne!(
            key(SECRET, "Ahmad Karimi"),
            key(OTHER_SECRET, "Ahmad Karimi")
        );
    }

    #[test]
    fn different_names_give_different_keys() {
        assert_ne!(key(SECRET, "Ahmad Karimi"), key(SECRET, "Ahmad Karim"));
        assert_ne!(key(SECRET, "Deng Bol"), key(SECRET, "Bol Deng"));
    }

    #[test]
    fn is_deterministic_and_not_a_plain_hash() {
        assert_eq!(key(SECRET, "Amina Yusuf"), key(SECRET, "Amina Yusuf"));
        let plain = ring::digest::digest(&ring::digest::SHA256, b"amina yusuf");
        assert_ne!(key(SECRET, "Amina Yusuf"), super::to_hex(plain.as_ref()));
    }

    #[test]
    fn matches_an_independent_hmac_computation() {
        let hmac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
        let tag = ring::hmac::sign(&hmac_key, b"slt-hub victim-key v1\0ahmad karimi");
        assert_eq!(key(SECRET, " AHMAD karimi"), super::to_hex(tag.as_ref()));
    }

    #[test]
    fn blank_names_have_no_key() {
        assert_eq!(victim_key(SECRET, ""), None);
        assert_eq!(victim_key(SECRET, "   \t"), None);
        assert_eq!(victim_key(SECRET, " - . "), None);
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            normalise_name("  Jean-Pierre   MBUYI  "),
            "jean pierre mbuyi"
        );
        assert_eq!(normalise_name("N’Golo Kanté"), "ngolo kante");
        assert_eq!(normalise_name("አበበ  ቢቂላ"), "አበበ ቢቂላ");
    }
}
