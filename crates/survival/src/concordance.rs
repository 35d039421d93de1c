//! Harrell's concordance index (C-index) with lifelines' conventions.
//!
//! A pair of patients is comparable when the one who left observation first had the event:
//! times differ and the earlier time is an event, or times are equal and exactly one of the
//! two is an event (the censored one is known to have outlived the other's event). Two events
//! at the same time are not comparable. A comparable pair is concordant when the score puts
//! the shorter survivor lower; a tie in the score counts one half.

use serde::Serialize;

use crate::SurvivalError;

/// The C-index and the pair counts behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Concordance {
    /// `(concordant + tied / 2) / comparable`.
    pub index: f64,
    pub concordant: u64,
    /// Comparable pairs whose scores are equal.
    pub tied: u64,
    pub comparable: u64,
}

impl Concordance {
    /// The index of pair counts; no comparable pair is an error.
    pub fn from_counts(concordant: u64, tied: u64, comparable: u64) -> Result<Self, SurvivalError> {
        if comparable == 0 {
            return Err(SurvivalError::NoComparablePairs);
        }
        Ok(Concordance {
            index: (concordant as f64 + tied as f64 / 2.0) / comparable as f64,
            concordant,
            tied,
            comparable,
        })
    }
}

/// Concordance of `predicted_survival` (higher = expected to live longer, e.g. a predicted
/// survival time) with the observed `time` and `event` (true = the event was observed).
///
/// For a risk score (higher = earlier event, e.g. a Cox model's linear predictor), use
/// [`concordance_of_risk`]. Errors on unequal lengths, a value that is not finite, or no
/// comparable pair (no events, or every event at one time with nobody outliving it).
pub fn concordance_index(
    time: &[f64],
    predicted_survival: &[f64],
    event: &[bool],
) -> Result<Concordance, SurvivalError> {
    let n = time.len();
    if predicted_survival.len() != n || event.len() != n {
        return Err(SurvivalError::Length {
            what: "time, score and event".into(),
            lengths: vec![n, predicted_survival.len(), event.len()],
        });
    }
    for (what, values) in [("time", time), ("score", predicted_survival)] {
        if let Some(row) = values.iter().position(|v| !v.is_finite()) {
            return Err(SurvivalError::NotFinite {
                column: what.into(),
                row,
            });
        }
    }
    // Sorted by time, events before censored at equal times: a pair (i, j) with i before j is
    // comparable exactly when i is an event and (t_i < t_j, or t_i == t_j and j is censored).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| time[a].total_cmp(&time[b]).then(event[b].cmp(&event[a])));
    let (mut concordant, mut tied, mut comparable) = (0u64, 0u64, 0u64);
    for (k, &i) in order.iter().enumerate() {
        if !event[i] {
            continue;
        }
        for &j in &order[k + 1..] {
            if time[j] == time[i] && event[j] {
                continue;
            }
            comparable += 1;
            let (si, sj) = (predicted_survival[i], predicted_survival[j]);
            if si < sj {
                concordant += 1;
            } else if si == sj {
                tied += 1;
            }
        }
    }
    Concordance::from_counts(concordant, tied, comparable)
}

/// [`concordance_index`] counted within strata only (pairs from two strata are not compared)
/// and pooled: the C-index of a stratified Cox model, whose linear predictor orders patients
/// only against the same baseline hazard (lifelines' and R `survival`'s convention).
/// `stratum[i]` labels row `i`; a stratum without comparable pairs adds none.
pub fn concordance_within_strata(
    time: &[f64],
    predicted_survival: &[f64],
    event: &[bool],
    stratum: &[usize],
) -> Result<Concordance, SurvivalError> {
    if stratum.len() != time.len() {
        return Err(SurvivalError::Length {
            what: "strata and time".into(),
            lengths: vec![stratum.len(), time.len()],
        });
    }
    let (mut concordant, mut tied, mut comparable) = (0u64, 0u64, 0u64);
    let mut labels: Vec<usize> = stratum.to_vec();
    labels.sort_unstable();
    labels.dedup();
    for s in labels {
        let rows: Vec<usize> = (0..time.len()).filter(|&i| stratum[i] == s).collect();
        let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let e: Vec<bool> = rows.iter().map(|&i| event[i]).collect();
        match concordance_index(&pick(time), &pick(predicted_survival), &e) {
            Ok(c) => {
                concordant += c.concordant;
                tied += c.tied;
                comparable += c.comparable;
            }
            Err(SurvivalError::NoComparablePairs) => {}
            Err(other) => return Err(other),
        }
    }
    Concordance::from_counts(concordant, tied, comparable)
}

/// [`concordance_index`] of a risk score (higher = earlier event): the score negated.
pub fn concordance_of_risk(
    time: &[f64],
    risk: &[f64],
    event: &[bool],
) -> Result<Concordance, SurvivalError> {
    let negated: Vec<f64> = risk.iter().map(|r| -r).collect();
    concordance_index(time, &negated, event)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every pair by the definition, for comparison with the sorted pass.
    fn by_pairs(time: &[f64], score: &[f64], event: &[bool]) -> (u64, u64, u64) {
        let (mut c, mut t, mut p) = (0, 0, 0);
        for a in 0..time.len() {
            for b in 0..time.len() {
                // `a` left first with an event; `b` outlived it (or was censored then).
                let first = event[a] && (time[a] < time[b] || (time[a] == time[b] && !event[b]));
                if !first {
                    continue;
                }
                p += 1;
                if score[a] < score[b] {
                    c += 1;
                } else if score[a] == score[b] {
                    t += 1;
                }
            }
        }
        (c, t, p)
    }

    #[test]
    fn sorted_pass_counts_the_pairs_of_the_definition() {
        let time = [5.0, 3.0, 3.0, 3.0, 8.0, 1.0, 8.0, 2.0, 5.0];
        let event = [true, true, false, true, false, true, true, false, true];
        let score = [4.0, 2.0, 2.0, 5.0, 9.0, 1.0, 3.0, 2.0, 4.0];
        let c = concordance_index(&time, &score, &event).unwrap();
        assert_eq!(
            (c.concordant, c.tied, c.comparable),
            by_pairs(&time, &score, &event)
        );
    }

    #[test]
    fn perfect_reversed_and_constant_scores() {
        let time = [1.0, 2.0, 3.0, 4.0];
        let event = [true; 4];
        assert_eq!(concordance_index(&time, &time, &event).unwrap().index, 1.0);
        assert_eq!(
            concordance_of_risk(&time, &time, &event).unwrap().index,
            0.0
        );
        let flat = concordance_index(&time, &[7.0; 4], &event).unwrap();
        assert_eq!((flat.index, flat.tied, flat.comparable), (0.5, 6, 6));
    }

    #[test]
    fn no_events_is_an_error_not_a_number() {
        let e = concordance_index(&[1.0, 2.0], &[1.0, 2.0], &[false, false]).unwrap_err();
        assert!(matches!(e, SurvivalError::NoComparablePairs));
        let e = concordance_index(&[1.0, f64::NAN], &[1.0, 2.0], &[true, true]).unwrap_err();
        assert!(e.to_string().contains("time"), "{e}");
    }
}
