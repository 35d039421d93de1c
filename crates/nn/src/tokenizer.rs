//! A word and word-pair tokenizer learned from the training reports only (no downloaded
//! vocabulary). Numbers become magnitude tokens (`<num:4>` for 4.2) so "4.2 cm" and "4.5 cm" share
//! a token while 2 cm and 7 cm do not; pairs of adjacent words capture negation and modifiers
//! ("no necrosis", "ill defined").

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Id of the padding token.
pub const PAD: u32 = 0;
/// Id of the unknown-token bucket.
pub const UNK: u32 = 1;

/// Vocabulary and encoding rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tokenizer {
    /// Token strings by id; ids 0 and 1 are `<pad>` and `<unk>`.
    pub vocab: Vec<String>,
    /// Longest encoded sequence; longer reports are truncated.
    pub max_len: usize,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

/// Splits a report into lower-case word and number tokens.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, out: &mut Vec<String>| {
        if current.is_empty() {
            return;
        }
        let token = if current.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            match current.trim_end_matches('.').parse::<f64>() {
                Ok(v) => format!("<num:{}>", v.floor() as i64),
                Err(_) => "<num>".to_owned(),
            }
        } else {
            current.trim_end_matches('.').to_owned()
        };
        if !token.is_empty() {
            out.push(token);
        }
        current.clear();
    };
    for c in text.chars() {
        let digit_point = c == '.' && current.chars().next().is_some_and(|c| c.is_ascii_digit());
        if c.is_alphanumeric() || digit_point {
            current.extend(c.to_lowercase());
        } else {
            flush(&mut current, &mut out);
        }
    }
    flush(&mut current, &mut out);
    out
}

fn tokens_of(text: &str) -> Vec<String> {
    let w = words(text);
    let mut out = w.clone();
    out.extend(w.windows(2).map(|p| format!("{} {}", p[0], p[1])));
    out
}

impl Tokenizer {
    /// Learns a vocabulary from training texts: tokens seen in at least `min_count` documents,
    /// the most frequent first, at most `max_vocab` entries including padding and unknown.
    pub fn fit<'a>(
        texts: impl IntoIterator<Item = &'a str>,
        min_count: usize,
        max_vocab: usize,
        max_len: usize,
    ) -> Self {
        Self::from_document_frequencies(
            Self::document_frequencies(texts),
            min_count,
            max_vocab,
            max_len,
        )
    }

    /// Number of texts each token appears in: what [`Tokenizer::fit`] learns from, and what a
    /// federated station shares instead of its reports.
    pub fn document_frequencies<'a>(
        texts: impl IntoIterator<Item = &'a str>,
    ) -> HashMap<String, usize> {
        let mut df: HashMap<String, usize> = HashMap::new();
        for text in texts {
            let mut seen: Vec<String> = tokens_of(text);
            seen.sort();
            seen.dedup();
            for t in seen {
                *df.entry(t).or_default() += 1;
            }
        }
        df
    }

    /// The vocabulary from (pooled) document frequencies: tokens with at least `min_count`,
    /// the most frequent first (ties alphabetical), at most `max_vocab` entries including
    /// padding and unknown.
    pub fn from_document_frequencies(
        df: impl IntoIterator<Item = (String, usize)>,
        min_count: usize,
        max_vocab: usize,
        max_len: usize,
    ) -> Self {
        let mut ranked: Vec<(String, usize)> =
            df.into_iter().filter(|(_, n)| *n >= min_count).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut vocab = vec!["<pad>".to_owned(), "<unk>".to_owned()];
        vocab.extend(
            ranked
                .into_iter()
                .take(max_vocab.saturating_sub(2))
                .map(|(t, _)| t),
        );
        Self::from_vocab(vocab, max_len)
    }

    /// Rebuilds the lookup index after deserialising.
    pub fn from_vocab(vocab: Vec<String>, max_len: usize) -> Self {
        let index = vocab
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        Self {
            vocab,
            max_len,
            index,
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// Token ids of one report (no padding), truncated to `max_len`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        if self.index.is_empty() && !self.vocab.is_empty() {
            // Deserialised without the index: rebuild on the fly (cheap for report sizes).
            let t = Self::from_vocab(self.vocab.clone(), self.max_len);
            return t.encode(text);
        }
        tokens_of(text)
            .iter()
            .map(|t| self.index.get(t).copied().unwrap_or(UNK))
            .take(self.max_len)
            .collect()
    }

    /// The string of a token id, for explanations.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.vocab.get(id as usize).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_magnitudes_and_pairs_are_kept() {
        assert_eq!(
            words("Mass of 4.2 cm, ill-defined."),
            vec!["mass", "of", "<num:4>", "cm", "ill", "defined"]
        );
        let t = Tokenizer::fit(["no necrosis", "no necrosis seen", "necrosis"], 2, 100, 16);
        assert!(t.vocab.contains(&"no necrosis".to_owned()));
        assert!(!t.vocab.contains(&"seen".to_owned()), "below min_count");
        let ids = t.encode("No necrosis here");
        assert_eq!(ids.len(), 5);
        assert_eq!(ids[2], UNK);
        let back: Tokenizer = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back.encode("no necrosis"), t.encode("no necrosis"));
    }
}
