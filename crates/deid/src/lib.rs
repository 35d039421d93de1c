//! De-identification (DICOM PS3.15 Basic Profile) and keyed pseudonyms
