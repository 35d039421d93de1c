//! Survival analysis for decision support: Cox proportional-hazards regression and Harrell's
//! concordance index.
//!
//! Why a crate of its own: outcome models (time to death or progression, censored) are the
//! third kind of model the mission asks for next to classifiers and segmenters, and they need
//! their own likelihood (the partial likelihood over risk sets), their own ties handling and
//! their own discrimination measure. The numbers equal lifelines 0.30 (Efron ties, strata,
//! ridge penalty, C-index) and statsmodels' `PHReg` (Breslow ties) on the fixtures in
//! `fixtures/survival/`.
//!
//! ```
//! use oncolens_survival::{CoxOptions, SurvivalData, fit_cox};
//!
//! let time = [5.0, 8.0, 3.0, 9.0, 4.0, 7.0, 2.0, 6.0];
//! let event = [true, false, true, true, true, false, true, true];
//! let age = vec![70.0, 50.0, 72.0, 45.0, 64.0, 48.0, 75.0, 60.0];
//! let data = SurvivalData::new(&time, &event, vec!["age".into()], vec![age])?;
//! let fit = fit_cox(&data, &CoxOptions::default())?;
//! assert!(fit.covariates[0].hazard_ratio > 1.0); // older patients died sooner
//! # Ok::<(), oncolens_survival::SurvivalError>(())
//! ```

mod concordance;
mod cox;
mod data;
mod error;
mod table;

pub use concordance::{
    Concordance, concordance_index, concordance_of_risk, concordance_within_strata,
};
pub use cox::{
    BaselineHazard, CoxCoefficient, CoxFit, CoxMaximum, CoxOptions, CoxTerms, FitContext,
    LikelihoodRatioTest, Standardisation, Ties, concordance_of_fit, cox_terms, fit_cox,
    maximise_partial_likelihood, summarise,
};
pub use data::SurvivalData;
pub use error::SurvivalError;
pub use table::{Dummies, TableError, TableReport, TableSpec, read_table};
