//! Gene expression (log2 scale) with an imaging-genomics link: a few genes track the lesion
//! phenotype the CT shows; the rest are noise with a per-site batch effect.

use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

/// A gene whose expression follows the lesion phenotype: `loading * standardised factor`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GeneLink {
    pub gene: &'static str,
    /// `size`, `irregularity`, `heterogeneity` or `enhancement`.
    pub factor: &'static str,
    pub loading: f64,
}

/// The imaging-genomics ground truth. Hypoxia/VHL-pathway genes follow enhancement (clear-cell
/// RCC is hypervascular), proliferation genes follow size, stromal genes follow margin
/// irregularity.
pub const LINKS: &[GeneLink] = &[
    GeneLink {
        gene: "CA9",
        factor: "enhancement",
        loading: 0.8,
    },
    GeneLink {
        gene: "NDUFA4L2",
        factor: "enhancement",
        loading: 0.7,
    },
    GeneLink {
        gene: "VEGFA",
        factor: "enhancement",
        loading: 0.6,
    },
    GeneLink {
        gene: "EGLN3",
        factor: "enhancement",
        loading: 0.5,
    },
    GeneLink {
        gene: "MKI67",
        factor: "size",
        loading: 0.7,
    },
    GeneLink {
        gene: "TOP2A",
        factor: "size",
        loading: 0.6,
    },
    GeneLink {
        gene: "CCNB1",
        factor: "heterogeneity",
        loading: 0.5,
    },
    GeneLink {
        gene: "COL1A1",
        factor: "irregularity",
        loading: 0.7,
    },
    GeneLink {
        gene: "SPARC",
        factor: "irregularity",
        loading: 0.6,
    },
];

/// Genes with no link to the phenotype.
pub const NOISE_GENES: &[&str] = &[
    "ACTB", "GAPDH", "B2M", "RPLP0", "TBP", "HPRT1", "PGK1", "PPIA", "UBC", "YWHAZ", "GUSB",
    "HMBS", "SDHA", "TFRC", "ALB", "APOA1", "KRT8", "KRT18", "EPCAM", "VIM", "CDH1", "CDH2",
    "PAX8", "PAX2", "CUBN", "LRP2", "UMOD", "SLC34A1", "AQP2", "CD3E", "CD8A", "CD68", "PTPRC",
    "ESR1", "ERBB2", "EGFR", "MET", "MYC", "TP53", "PTEN", "BAP1", "SETD2", "KDM5C", "MTOR",
];

/// All genes in table order.
pub fn genes() -> Vec<&'static str> {
    LINKS
        .iter()
        .map(|l| l.gene)
        .chain(NOISE_GENES.iter().copied())
        .collect()
}

/// Per-gene baseline (mean, sd) drawn once per cohort.
pub fn gene_baselines(rng: &mut impl Rng) -> Vec<(f64, f64)> {
    genes()
        .iter()
        .map(|_| (rng.random_range(4.0..12.0), rng.random_range(0.5..1.0)))
        .collect()
}

/// Per-site batch shift of every gene.
pub fn site_batch(rng: &mut impl Rng) -> Vec<f64> {
    let n = Normal::new(0.0, 0.3).expect("valid normal");
    genes().iter().map(|_| n.sample(rng)).collect()
}

/// One patient's profile, given the standardised phenotype factors.
pub fn profile(
    factors: &[(&str, f64)],
    baselines: &[(f64, f64)],
    batch: &[f64],
    rng: &mut impl Rng,
) -> Vec<f64> {
    let n = Normal::new(0.0, 1.0).expect("unit normal");
    genes()
        .iter()
        .enumerate()
        .map(|(g, name)| {
            let (mean, sd) = baselines[g];
            let link = LINKS.iter().find(|l| l.gene == *name);
            let signal = link
                .and_then(|l| {
                    factors
                        .iter()
                        .find(|(f, _)| *f == l.factor)
                        .map(|(_, z)| (l.loading, *z))
                })
                .map(|(loading, z)| loading * z + (1.0 - loading * loading).sqrt() * n.sample(rng))
                .unwrap_or_else(|| n.sample(rng));
            mean + sd * signal + batch[g]
        })
        .collect()
}
