//! Feature families computed from a [`crate::prepare::PreparedRoi`] (texture lives in
//! [`crate::texture`]).

pub mod histogram;
pub mod ivh;
pub mod local_intensity;
pub mod morphology;
pub mod statistics;
