//! Validated time-to-event data: the only way into a fit, so a fit never meets a NaN or a
//! negative time. (A constant covariate is refused by the fit, not here: at one data station of
//! a federated fit a covariate may well be constant.)

use crate::SurvivalError;

/// Follow-up times, event indicators, covariates (one column each) and optional strata.
#[derive(Debug, Clone)]
pub struct SurvivalData {
    pub(crate) time: Vec<f64>,
    pub(crate) event: Vec<bool>,
    pub(crate) names: Vec<String>,
    pub(crate) columns: Vec<Vec<f64>>,
    /// Stratum of each row (index into `strata_names`); all 0 without strata.
    pub(crate) stratum: Vec<usize>,
    pub(crate) strata_names: Vec<String>,
}

impl SurvivalData {
    /// `time` (any unit, not negative), `event` (true = the event was observed, false =
    /// censored at `time`), and one column of values per covariate name.
    pub fn new(
        time: &[f64],
        event: &[bool],
        names: Vec<String>,
        columns: Vec<Vec<f64>>,
    ) -> Result<Self, SurvivalError> {
        let n = time.len();
        if event.len() != n || names.len() != columns.len() || columns.iter().any(|c| c.len() != n)
        {
            let mut lengths = vec![n, event.len()];
            lengths.extend(columns.iter().map(Vec::len));
            return Err(SurvivalError::Length {
                what: "time, event and covariate columns".into(),
                lengths,
            });
        }
        if names.is_empty() {
            return Err(SurvivalError::NoCovariates);
        }
        for (k, name) in names.iter().enumerate() {
            if names[..k].contains(name) {
                return Err(SurvivalError::DuplicateName { name: name.clone() });
            }
        }
        for (row, &t) in time.iter().enumerate() {
            if !t.is_finite() {
                return Err(SurvivalError::NotFinite {
                    column: "time".into(),
                    row,
                });
            }
            if t < 0.0 {
                return Err(SurvivalError::NegativeTime { row, value: t });
            }
        }
        for (name, column) in names.iter().zip(&columns) {
            if let Some(row) = column.iter().position(|v| !v.is_finite()) {
                return Err(SurvivalError::NotFinite {
                    column: name.clone(),
                    row,
                });
            }
        }
        if !event.iter().any(|&e| e) {
            return Err(SurvivalError::NoEvents);
        }
        Ok(Self {
            time: time.to_vec(),
            event: event.to_vec(),
            names,
            columns,
            stratum: vec![0; n],
            strata_names: Vec::new(),
        })
    }

    /// Stratified model: each stratum (e.g. a site) keeps its own baseline hazard and the
    /// coefficients are shared. Strata are named by their labels, in sorted order.
    pub fn with_strata<S: AsRef<str>>(mut self, labels: &[S]) -> Result<Self, SurvivalError> {
        if labels.len() != self.time.len() {
            return Err(SurvivalError::Length {
                what: "strata and time".into(),
                lengths: vec![labels.len(), self.time.len()],
            });
        }
        let mut names: Vec<String> = labels.iter().map(|s| s.as_ref().to_owned()).collect();
        names.sort();
        names.dedup();
        self.stratum = labels
            .iter()
            .map(|s| names.iter().position(|n| n == s.as_ref()).unwrap_or(0))
            .collect();
        self.strata_names = names;
        Ok(self)
    }

    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    pub fn covariate_names(&self) -> &[String] {
        &self.names
    }

    pub fn events(&self) -> usize {
        self.event.iter().filter(|&&e| e).count()
    }

    pub fn time(&self) -> &[f64] {
        &self.time
    }

    pub fn event(&self) -> &[bool] {
        &self.event
    }

    /// Covariate values of one row, in name order.
    pub fn row(&self, i: usize) -> Vec<f64> {
        self.columns.iter().map(|c| c[i]).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn data(time: &[f64], event: &[bool], x: Vec<f64>) -> Result<SurvivalData, SurvivalError> {
        SurvivalData::new(time, event, vec!["x".into()], vec![x])
    }

    #[test]
    fn bad_input_is_named() {
        let e = data(&[1.0, -2.0], &[true, false], vec![1.0, 2.0]).unwrap_err();
        assert_eq!(e.to_string(), "time: row 1 is negative (-2)");
        let e = data(&[1.0, 2.0], &[true, false], vec![1.0, f64::NAN]).unwrap_err();
        assert_eq!(e.to_string(), "x: row 1 is not a finite number");
        let constant = data(&[1.0, 2.0], &[true, false], vec![3.0, 3.0]).unwrap();
        let e = crate::fit_cox(&constant, &crate::CoxOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("covariate x is constant"), "{e}");
        let e = data(&[1.0, 2.0], &[false, false], vec![1.0, 2.0]).unwrap_err();
        assert!(matches!(e, SurvivalError::NoEvents));
        let e = data(&[1.0, 2.0], &[true], vec![1.0, 2.0]).unwrap_err();
        assert!(matches!(e, SurvivalError::Length { .. }));
    }

    #[test]
    fn strata_are_indexed_in_sorted_order() {
        let d = data(&[1.0, 2.0, 3.0], &[true, true, false], vec![1.0, 2.0, 0.5])
            .unwrap()
            .with_strata(&["site_b", "site_a", "site_b"])
            .unwrap();
        assert_eq!(d.strata_names, ["site_a", "site_b"]);
        assert_eq!(d.stratum, [1, 0, 1]);
    }
}
