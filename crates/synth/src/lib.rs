//! Seeded generator of a multi-site multimodal renal-tumour cohort, written as real files
