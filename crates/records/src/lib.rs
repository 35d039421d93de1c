//! Clinical and text records: FHIR R4 bundles, report text, gene-expression tables
