//! Scrubbing identifiers from free text.

/// Replaces every whole-word occurrence (case-insensitive) of each known identifier (names, MRNs,
/// accession numbers) with `[REDACTED]`, and every ISO or DICOM-style date with `[DATE]`.
/// Whole words only, so a patient called "Eva" does not turn "Evaluate" into noise; identifiers
/// shorter than 3 characters are ignored (they would destroy ordinary words).
pub fn scrub_report(text: &str, identity: &[&str]) -> String {
    let mut out = text.to_owned();
    let mut ids: Vec<&str> = identity
        .iter()
        .map(|s| s.trim())
        .filter(|s| s.chars().count() >= 3)
        .collect();
    // Longest first, so "Anna Jansen" goes before "Anna".
    ids.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for id in ids {
        out = replace_word(&out, id);
    }
    redact_dates(&out)
}

/// True when `bytes[at..at + len]` is not glued to letters or digits on either side.
pub fn is_whole_word_at(bytes: &[u8], at: usize, len: usize) -> bool {
    let before = at.checked_sub(1).and_then(|i| bytes.get(i));
    let after = bytes.get(at + len);
    !before.is_some_and(u8::is_ascii_alphanumeric) && !after.is_some_and(u8::is_ascii_alphanumeric)
}

fn replace_word(text: &str, id: &str) -> String {
    // ASCII case folding keeps byte offsets identical between `text` and `lower`.
    let lower = text.to_ascii_lowercase();
    let needle = id.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut result = String::with_capacity(text.len());
    let mut last = 0;
    for (pos, _) in lower.match_indices(&needle) {
        if pos < last || !is_whole_word_at(bytes, pos, needle.len()) {
            continue;
        }
        result.push_str(&text[last..pos]);
        result.push_str("[REDACTED]");
        last = pos + needle.len();
    }
    result.push_str(&text[last..]);
    result
}

fn redact_dates(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let digit = |c: Option<&char>| c.is_some_and(|c| c.is_ascii_digit());
    while i < chars.len() {
        // YYYY-MM-DD or YYYYMMDD (8 digits not part of a longer number).
        let iso = i + 10 <= chars.len()
            && (0..4).all(|k| digit(chars.get(i + k)))
            && chars[i + 4] == '-'
            && (5..7).all(|k| digit(chars.get(i + k)))
            && chars[i + 7] == '-'
            && (8..10).all(|k| digit(chars.get(i + k)));
        let compact = i + 8 <= chars.len()
            && (0..8).all(|k| digit(chars.get(i + k)))
            && !digit(chars.get(i + 8))
            && (i == 0 || !digit(chars.get(i - 1)))
            && matches!(chars[i], '1' | '2');
        if iso {
            out.push_str("[DATE]");
            i += 10;
        } else if compact {
            out.push_str("[DATE]");
            i += 8;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_mrns_and_dates_are_removed() {
        let t = "Patient: Anna Jansen   MRN: SYN0012345   Exam date: 2025-03-04\nANNA JANSEN has a 3.2 cm mass; 20250304.";
        let s = scrub_report(t, &["Anna", "Jansen", "SYN0012345", "Anna Jansen"]);
        assert!(
            !s.to_lowercase().contains("anna") && !s.to_lowercase().contains("jansen"),
            "{s}"
        );
        assert!(!s.contains("SYN0012345") && !s.contains("2025"), "{s}");
        assert!(s.contains("3.2 cm mass"), "{s}");
        assert_eq!(scrub_report("a 12 mm lesion", &["12"]), "a 12 mm lesion");
        assert_eq!(
            scrub_report("Evaluate Eva.", &["Eva"]),
            "Evaluate [REDACTED]."
        );
    }
}
