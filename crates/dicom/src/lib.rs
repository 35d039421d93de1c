//! DICOM CT series reading (geometry, HU) and writing, built on dicom-rs
