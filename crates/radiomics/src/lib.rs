//! IBSI-compliant radiomic features.
//!
//! The pipeline follows the IBSI 1 reference manual (chapter 2 for image processing, chapter 3
//! for the feature families):
//! image + mask → (resampling) → re-segmentation (range, outliers) → intensity ROI
//! → discretisation → texture matrices → features named by their IBSI tag and code.
//!
//! Module map:
//! - [`feature`]: the [`Feature`] record every family returns (IBSI tag, IBSI code, PyRadiomics
//!   name, value, the reason when a value is NaN).
//! - [`roi`]: [`DiscretisedRoi`], the grey-level grid that all texture families read.
//! - [`texture`]: GLCM, GLRLM, GLSZM, GLDZM, NGTDM, NGLDM with the IBSI aggregation methods.

pub mod feature;
pub mod roi;
pub mod texture;

pub use feature::{Family, Feature};
pub use roi::DiscretisedRoi;
