//! One entry point to read any supported file or cohort folder into oncolens types.
//!
//! The format crates (`oncolens-dicom`, `oncolens-nifti`, `oncolens-records`) each read one kind
//! of file; this crate decides which reader a path needs ([`detect`]), summarises what was read
//! ([`inspect()`]) and reads a whole cohort laid out as `oncolens synth` writes it ([`cohort`]).

pub mod cohort;
pub mod deid;
pub mod detect;
pub mod inspect;

pub use cohort::{CohortError, case_entry, load_case, omics_table_for_case, scan_cohort};
pub use detect::{FileKind, detect};
pub use inspect::{InspectError, Inspection, inspect};
