//! ComBat harmonisation across sites.
