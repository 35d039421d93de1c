//! IBSI-compliant radiomic features.
//!
//! The pipeline follows the IBSI 1 reference manual (chapter 2 for image processing, chapter 3
//! for the feature families):
//! image + mask → (resampling) → re-segmentation (range, outliers) → intensity ROI
//! → discretisation → texture matrices → features named by their IBSI tag and code.
//!
//! Module map:
//! - [`extract()`]: the entry point, returning a [`FeatureSet`].
//! - [`settings`]: [`Settings`] (TOML file format) and its presets (PyRadiomics, IBSI).
//! - [`prepare`]: interpolation, re-segmentation, discretisation, IBSI diagnostics.
//! - [`families`]: morphology, local intensity, statistics, intensity histogram, IVH.
//! - [`feature`]: the [`Feature`] record every family returns (IBSI tag, IBSI code, PyRadiomics
//!   name, value, the reason when a value is NaN).
//! - [`roi`]: [`DiscretisedRoi`], the grey-level grid that all texture families read.
//! - [`texture`]: GLCM, GLRLM, GLSZM, GLDZM, NGTDM, NGLDM with the IBSI aggregation methods.

pub mod error;
pub mod extract;
pub mod families;
pub mod feature;
pub mod prepare;
mod presets;
pub mod roi;
pub mod settings;
pub mod texture;
mod util;

pub use error::RadiomicsError;
pub use extract::{FeatureSet, extract, extract_region, extract_shape};
pub use feature::{Family, Feature};
pub use prepare::{WholeImage, WholeImageStream, region_for, region_for_box};
pub use roi::DiscretisedRoi;
pub use settings::{
    Discretisation, Interpolation, MeshTriangulation, Resampling, Resegmentation, Settings,
};
