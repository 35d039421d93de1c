//! Scrubbing identifiers from free text.

/// Replaces every whole-word occurrence (case-insensitive) of each known identifier (names, MRNs,
/// accession numbers) with `[REDACTED]`, and every ISO or DICOM-style date with `[DATE]`.
/// Whole words only, so a patient called "Eva" does not turn "Evaluate" into noise; identifiers
/// shorter than 3 characters are ignored (they would destroy ordinary words).
///
/// The identifiers the report states about itself in labelled header fields ("Patient: Anna
/// Jansen   MRN: 0012345", see [`header_identifiers`]) are added to `identity`: a report can
/// arrive without the DICOM or FHIR record that would have named its patient, and it must not
/// leave with the name it carries.
pub fn scrub_report(text: &str, identity: &[&str]) -> String {
    let mut out = text.to_owned();
    let own = header_identifiers(text);
    let mut ids: Vec<&str> = identity
        .iter()
        .copied()
        .chain(own.iter().map(String::as_str))
        .map(str::trim)
        .filter(|s| s.chars().count() >= 3)
        .collect();
    // Longest first, so "Anna Jansen" goes before "Anna".
    ids.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for id in ids {
        out = replace_word(&out, id);
    }
    redact_dates(&out)
}

/// What a labelled header field holds.
#[derive(Clone, Copy)]
enum FieldKind {
    /// A person's name: capitalised words.
    Name,
    /// A record number: one token with at least one digit.
    Number,
    /// A date of birth in any writing: the text up to the field's end, when it has a digit.
    Date,
}

/// Labels of identity fields (lower case, without the colon), longest first so that "patient
/// name" is tried before "patient".
const FIELD_LABELS: [(&str, FieldKind); 17] = [
    ("medical record number", FieldKind::Number),
    ("hospital number", FieldKind::Number),
    ("accession number", FieldKind::Number),
    ("date of birth", FieldKind::Date),
    ("patient name", FieldKind::Name),
    ("patient id", FieldKind::Number),
    ("accession no", FieldKind::Number),
    ("nhs number", FieldKind::Number),
    ("accession", FieldKind::Number),
    ("patient", FieldKind::Name),
    ("name", FieldKind::Name),
    ("mrn", FieldKind::Number),
    ("dob", FieldKind::Date),
    ("bsn", FieldKind::Number),
    ("ssn", FieldKind::Number),
    ("acc", FieldKind::Number),
    ("id", FieldKind::Number),
];

/// The identifiers a report states in labelled fields (`Patient:`, `Name:`, `MRN:`, `Patient
/// ID:`, `Accession number:`, `DOB:`, ...; a label starts a line or follows whitespace and ends
/// with a colon). A field's value ends at two spaces, a tab or the line's end. Values are kept
/// only when they look like what the label promises, so "Patient: 67-year-old man with
/// haematuria" yields nothing: a name is up to six capitalised words or family-name particles
/// (`Jansen^Anna`, `van der Berg, Piet` too), and its capitalised words are returned as well,
/// so that the name is found wherever the text repeats part of it; a number is one token with
/// a digit; a date of birth is any value with a digit.
pub fn header_identifiers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let lower = line.to_ascii_lowercase();
        let mut at = 0;
        while let Some(colon) = lower[at..].find(':').map(|c| c + at) {
            let head = lower[..colon].trim_end();
            let field = FIELD_LABELS.iter().find(|(label, _)| {
                head.ends_with(label)
                    && head[..head.len() - label.len()]
                        .chars()
                        .next_back()
                        .is_none_or(char::is_whitespace)
            });
            at = colon + 1;
            let Some(&(_, kind)) = field else { continue };
            let rest = line[at..].trim_start_matches([' ', '\t']);
            let value = rest
                .split("  ")
                .next()
                .unwrap_or("")
                .split('\t')
                .next()
                .unwrap_or("")
                .trim();
            match kind {
                FieldKind::Name => out.extend(name_value(value)),
                FieldKind::Number => {
                    let token = value.split_whitespace().next().unwrap_or("");
                    let token = token.trim_end_matches([',', ';', '.']);
                    if token.chars().any(|c| c.is_ascii_digit())
                        && token
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-/.".contains(c))
                    {
                        out.push(token.to_owned());
                    }
                }
                FieldKind::Date => {
                    if value.chars().any(|c| c.is_ascii_digit()) {
                        out.push(value.to_owned());
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Lower-case particles of family names ("van der Berg", "de la Cruz", "ter Horst").
const NAME_PARTICLES: [&str; 14] = [
    "van", "der", "den", "de", "ter", "ten", "von", "zu", "du", "da", "di", "la", "le", "bin",
];

/// A name field's value and its capitalised words, when it is up to six words, each
/// capitalised or a family-name particle.
fn name_value(value: &str) -> Vec<String> {
    let words: Vec<&str> = value
        .split([' ', '^', ','])
        .filter(|w| !w.is_empty())
        .collect();
    let is_name_word = |w: &&str| {
        let mut chars = w.chars();
        chars.next().is_some_and(char::is_uppercase)
            && chars.all(|c| c.is_alphabetic() || "'’.-".contains(c))
    };
    let is_particle = |w: &&str| NAME_PARTICLES.contains(w);
    if words.len() > 6
        || !words.iter().any(is_name_word)
        || !words.iter().all(|w| is_name_word(w) || is_particle(w))
    {
        return Vec::new();
    }
    // Particles ("van", "de") stay in the whole name but are not redacted on their own.
    let mut out: Vec<String> = words
        .iter()
        .filter(|w| is_name_word(w))
        .map(|w| (*w).to_owned())
        .collect();
    out.push(value.to_owned());
    out
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
        // Nothing known about the patient: the header still gives the name and number away,
        // and the name is removed where the text repeats it.
        let s = scrub_report(t, &[]);
        assert!(
            !s.to_lowercase().contains("anna") && !s.to_lowercase().contains("jansen"),
            "{s}"
        );
        assert!(
            !s.contains("SYN0012345") && s.contains("3.2 cm mass"),
            "{s}"
        );
        assert_eq!(
            scrub_report("Evaluate Eva.", &["Eva"]),
            "Evaluate [REDACTED]."
        );
    }

    #[test]
    fn header_fields_give_their_values_only_when_they_look_like_identifiers() {
        let ids = header_identifiers(
            "Patient name: Jansen^Anna\tDOB: 04/03/1961\nMRN: SYN0012345   Accession no: A-778\n\
             Patient ID:P-12\nName: van der Berg, Piet  Exam date: [DATE]",
        );
        for want in [
            "Jansen^Anna",
            "Jansen",
            "Anna",
            "04/03/1961",
            "SYN0012345",
            "A-778",
            "P-12",
            "Piet",
            "Berg",
        ] {
            assert!(ids.iter().any(|i| i == want), "{want} missing from {ids:?}");
        }
        // Family-name particles belong to the whole name but are not redacted on their own.
        assert!(ids.iter().any(|i| i == "van der Berg, Piet"), "{ids:?}");
        assert!(!ids.iter().any(|i| i == "van" || i == "der"), "{ids:?}");
        // Clinical text after a label is not an identifier.
        assert!(header_identifiers("Patient: 67-year-old man with haematuria.").is_empty());
        assert!(header_identifiers("Indication: mass. Impression: benign.").is_empty());
        // A label must be a word of its own: "Valid:" is not "id:", "Surname:" not "name:".
        assert!(header_identifiers("Valid: 123\nSurname list: Smith").is_empty());
        assert!(header_identifiers("MRN: none").is_empty());
    }
}
