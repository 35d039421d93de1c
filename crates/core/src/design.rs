//! Covariate coding shared by the regression front ends (Cox, logistic): text cells of a
//! table's covariate columns to numeric design columns, categories to indicator columns.

use serde::Serialize;

/// A categorical covariate's coding: one indicator column `name=level` per level but the
/// reference (the first level in sorted order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dummies {
    pub column: String,
    pub reference: String,
    pub levels: Vec<String>,
}

/// Design columns from `cells[row][k]` (covariate `k` of `names`, no empty cell): a column
/// whose cells all parse as numbers is numeric unless it is named in `categorical`; any other
/// becomes indicators of its levels against the first. Returns the column names, the columns
/// and the categorical codings.
pub fn code_covariates(
    names: &[String],
    cells: &[Vec<&str>],
    categorical: &[String],
) -> (Vec<String>, Vec<Vec<f64>>, Vec<Dummies>) {
    let mut out_names = Vec::new();
    let mut columns = Vec::new();
    let mut dummies = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let values: Vec<&str> = cells.iter().map(|row| row[k]).collect();
        let numbers: Option<Vec<f64>> = values.iter().map(|v| v.parse::<f64>().ok()).collect();
        match numbers {
            Some(x) if !categorical.contains(name) => {
                out_names.push(name.clone());
                columns.push(x);
            }
            _ => {
                let mut levels: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
                levels.sort();
                levels.dedup();
                let Some((reference, rest)) = levels.split_first() else {
                    continue;
                };
                for level in rest {
                    out_names.push(format!("{name}={level}"));
                    columns.push(
                        values
                            .iter()
                            .map(|v| f64::from(u8::from(v == level)))
                            .collect(),
                    );
                }
                dummies.push(Dummies {
                    column: name.clone(),
                    reference: reference.clone(),
                    levels: rest.to_vec(),
                });
            }
        }
    }
    (out_names, columns, dummies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_numbers_and_words_become_indicators() {
        let names = vec!["age".to_owned(), "stage".to_owned(), "grade".to_owned()];
        let cells = vec![
            vec!["60", "pM0", "2"],
            vec!["70", "pM1", "1"],
            vec!["65", "pMX", "2"],
        ];
        let (n, c, d) = code_covariates(&names, &cells, &["grade".to_owned()]);
        assert_eq!(n, ["age", "stage=pM1", "stage=pMX", "grade=2"]);
        assert_eq!(c[0], [60.0, 70.0, 65.0]);
        assert_eq!(c[1], [0.0, 1.0, 0.0]);
        assert_eq!(c[3], [1.0, 0.0, 1.0]);
        assert_eq!(d[0].reference, "pM0");
        assert_eq!(d[1].reference, "1");
    }
}
