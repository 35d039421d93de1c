//! ComBat harmonisation of feature tables across sites.
//!
//! Radiomic features depend on the scanner, protocol and reconstruction of the
//! site that acquired the image.  ComBat (Johnson et al. 2007; Fortin et al.
//! 2017/2018) models each feature as
//! `y = α + Xβ + γ_site + δ_site · ε` and removes the additive (γ) and
//! multiplicative (δ) site effects while keeping the covariate effects `Xβ`,
//! borrowing strength across features with empirical Bayes.
//!
//! This crate reproduces neuroCombat 0.2.12 (the Python port of R
//! `sva::ComBat`) number for number; see the crate README for the contract
//! and the fixtures in `fixtures/harmonize/`.
//!
//! * [`combat`] / [`combat_named`]: fit and harmonise a features × samples matrix.
//! * [`CombatFit::apply`]: harmonise new samples from known sites later.
//! * [`harmonize_table`]: CSV front end used by the CLI.
//!
//! ```
//! use ndarray::array;
//! use oncolens_harmonize::{combat, CombatOptions, Covariate};
//!
//! // 3 features × 6 samples from two sites; keep the effect of age
//! let data = array![
//!     [1.0, 2.0, 3.5, 5.0, 6.5, 9.0],
//!     [10.0, 12.0, 11.0, 20.0, 26.0, 21.0],
//!     [0.1, 0.3, 0.2, 0.9, 0.5, 0.7],
//! ];
//! let site = ["a", "a", "a", "b", "b", "b"];
//! let age = Covariate::Continuous { name: "age".into(), values: vec![50.0, 61.0, 72.0, 55.0, 60.0, 68.0] };
//! let result = combat(data.view(), &site, &[age], &CombatOptions::default())?;
//! assert_eq!(result.data.dim(), (3, 6));
//!
//! // later: two new samples from known sites, same covariates
//! let new = array![[2.5, 7.0], [11.0, 22.0], [0.2, 0.6]];
//! let age_new = Covariate::Continuous { name: "age".into(), values: vec![58.0, 64.0] };
//! let harmonised = result.fit.apply(new.view(), &["a", "b"], &[age_new])?;
//! assert_eq!(harmonised.dim(), (3, 2));
//! # Ok::<(), oncolens_harmonize::HarmonizeError>(())
//! ```

mod combat;
mod design;
mod eb;
mod error;
mod linalg;
mod site_effects;
mod table;

pub use combat::{CombatFit, CombatOptions, CombatResult, combat, combat_named};
pub use design::{Covariate, CovariateSpec};
pub use error::{HarmonizeError, Result};
pub use table::{HarmonizeReport, HarmonizedTable, SiteSummary, TableOptions, harmonize_table};
