//! One entry point to read any supported file or cohort folder into oncolens types
