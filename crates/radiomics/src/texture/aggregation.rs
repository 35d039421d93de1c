//! IBSI aggregation of texture matrices into one value per feature.
//!
//! Directional families (GLCM, GLRLM) have six methods (IBSI 1, sections 3.6.1/3.7.1):
//! 2D averaged (BTW3), 2D slice-merged (SUJT), 2.5D direction-merged (JJUI), 2.5D merged (ZW7Z),
//! 3D averaged (ITBB), 3D merged (IAZD). Slice-based families (GLSZM, GLDZM, NGTDM, NGLDM) have
//! three: 2D averaged over slices (8QNN), 2.5D merged over slices (62GR), 3D (KOBO).

use serde::{Deserialize, Serialize};

/// Aggregation methods of the directional families (GLCM, GLRLM). The serde names are the
/// suffixes of the IBSI reference tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DirectionalAggregation {
    /// Features of each slice × direction matrix, averaged (IBSI BTW3).
    #[serde(rename = "2D_avg")]
    TwoDAveraged,
    /// Directions merged per slice, features averaged over slices (IBSI SUJT).
    #[serde(rename = "2D_comb")]
    TwoDSliceMerged,
    /// Slices merged per direction, features averaged over directions (IBSI JJUI).
    #[serde(rename = "2_5D_avg")]
    TwoHalfDDirectionMerged,
    /// All slice × direction matrices merged into one (IBSI ZW7Z).
    #[serde(rename = "2_5D_comb")]
    TwoHalfDMerged,
    /// Features of each 3D direction matrix, averaged (IBSI ITBB).
    #[serde(rename = "3D_avg")]
    ThreeDAveraged,
    /// All 3D direction matrices merged into one (IBSI IAZD).
    #[serde(rename = "3D_comb")]
    ThreeDMerged,
}

impl DirectionalAggregation {
    pub const ALL: [DirectionalAggregation; 6] = [
        Self::TwoDAveraged,
        Self::TwoDSliceMerged,
        Self::TwoHalfDDirectionMerged,
        Self::TwoHalfDMerged,
        Self::ThreeDAveraged,
        Self::ThreeDMerged,
    ];

    /// Suffix of the IBSI reference tag, e.g. `2_5D_comb` in `cm_joint_max_2_5D_comb`.
    pub fn tag_suffix(self) -> &'static str {
        match self {
            Self::TwoDAveraged => "2D_avg",
            Self::TwoDSliceMerged => "2D_comb",
            Self::TwoHalfDDirectionMerged => "2_5D_avg",
            Self::TwoHalfDMerged => "2_5D_comb",
            Self::ThreeDAveraged => "3D_avg",
            Self::ThreeDMerged => "3D_comb",
        }
    }

    /// Whether the method needs per-slice (in-plane) matrices rather than 3D ones.
    pub fn is_slice_based(self) -> bool {
        !matches!(self, Self::ThreeDAveraged | Self::ThreeDMerged)
    }
}

/// Aggregation methods of the slice-based families (GLSZM, GLDZM, NGTDM, NGLDM). The serde names
/// are the suffixes of the IBSI reference tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SliceAggregation {
    /// Features of each slice's matrix, averaged over slices (IBSI 8QNN).
    #[serde(rename = "2D")]
    TwoD,
    /// Slice matrices merged into one (IBSI 62GR).
    #[serde(rename = "2_5D")]
    TwoHalfD,
    /// One matrix from the volume (IBSI KOBO).
    #[serde(rename = "3D")]
    ThreeD,
}

impl SliceAggregation {
    pub const ALL: [SliceAggregation; 3] = [Self::TwoD, Self::TwoHalfD, Self::ThreeD];

    pub fn tag_suffix(self) -> &'static str {
        match self {
            Self::TwoD => "2D",
            Self::TwoHalfD => "2_5D",
            Self::ThreeD => "3D",
        }
    }
}

/// A texture matrix that IBSI aggregation can merge (sum element-wise, with voxel counts).
pub(crate) trait TextureMatrix: Clone + Send + Sync {
    /// Adds `other` into `self` element by element (and any normalising counts such as `N_v`).
    fn merge(&mut self, other: &Self);
    /// True when the matrix holds no counts, so that its features are undefined.
    fn is_empty(&self) -> bool;
}

/// Feature values of one aggregation method, one per feature of the family, NaN where undefined.
#[derive(Debug, Clone)]
pub(crate) struct Aggregated {
    pub values: Vec<f64>,
    /// Every underlying matrix was empty (e.g. a single-voxel ROI has no co-occurring pairs).
    pub all_empty: bool,
}

/// Merges `matrices` (None when there are none).
fn merge_all<'a, M: TextureMatrix + 'a>(mut matrices: impl Iterator<Item = &'a M>) -> Option<M> {
    let mut acc = matrices.next()?.clone();
    for m in matrices {
        acc.merge(m);
    }
    Some(acc)
}

/// Running per-feature mean over matrices.
///
/// Empty matrices (a slice with a single voxel has no pairs) carry no information and are
/// skipped, as are per-matrix NaNs (e.g. correlation of a slice with one grey level), so that one
/// degenerate slice does not make the whole aggregate undefined.
#[derive(Debug, Clone)]
struct MeanAcc {
    sums: Vec<f64>,
    counts: Vec<usize>,
    any: bool,
}

impl MeanAcc {
    fn new(n_features: usize) -> Self {
        MeanAcc {
            sums: vec![0.0; n_features],
            counts: vec![0; n_features],
            any: false,
        }
    }

    fn add<M: TextureMatrix, F: Fn(&M) -> Vec<f64>>(&mut self, m: &M, features: &F) {
        if m.is_empty() {
            return;
        }
        self.any = true;
        for ((v, s), c) in features(m)
            .into_iter()
            .zip(self.sums.iter_mut())
            .zip(self.counts.iter_mut())
        {
            if v.is_finite() {
                *s += v;
                *c += 1;
            }
        }
    }

    fn combine(mut self, other: MeanAcc) -> MeanAcc {
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.any |= other.any;
        self
    }

    fn finish(self) -> Aggregated {
        let values = self
            .sums
            .iter()
            .zip(&self.counts)
            .map(|(&s, &c)| if c > 0 { s / c as f64 } else { f64::NAN })
            .collect();
        Aggregated {
            values,
            all_empty: !self.any,
        }
    }
}

/// Averages the features of `matrices` (see [`MeanAcc`]).
fn mean_features<'a, M, F>(
    matrices: impl Iterator<Item = &'a M>,
    n_features: usize,
    features: &F,
) -> Aggregated
where
    M: TextureMatrix + 'a,
    F: Fn(&M) -> Vec<f64>,
{
    let mut acc = MeanAcc::new(n_features);
    for m in matrices {
        acc.add(m, features);
    }
    acc.finish()
}

/// Features of a single (merged) matrix.
fn single<M, F>(matrix: Option<&M>, n_features: usize, features: &F) -> Aggregated
where
    M: TextureMatrix,
    F: Fn(&M) -> Vec<f64>,
{
    match matrix {
        Some(m) if !m.is_empty() => Aggregated {
            values: features(m),
            all_empty: false,
        },
        _ => Aggregated {
            values: vec![f64::NAN; n_features],
            all_empty: true,
        },
    }
}

/// Element-wise merge of two optional matrices.
fn merge_opt<M: TextureMatrix>(a: Option<M>, b: Option<M>) -> Option<M> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.merge(&b);
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

/// Running state of the slice-wise (2D / 2.5D) directional aggregation.
struct SliceAcc<M> {
    per_matrix: MeanAcc,
    per_slice: MeanAcc,
    /// Matrices of each 2D direction summed over the slices seen so far.
    per_direction: Vec<Option<M>>,
}

/// How a directional family builds its matrices.
pub(crate) struct DirectionalBuilder<'a, M> {
    /// Occupied slices (z indices).
    pub slices: &'a [usize],
    pub n_directions_2d: usize,
    pub n_directions_3d: usize,
    /// In-plane matrix of slice `z` and 2D direction `d`.
    pub build_2d: &'a (dyn Fn(usize, usize) -> M + Sync),
    /// Volume matrix of 3D direction `d`.
    pub build_3d: &'a (dyn Fn(usize) -> M + Sync),
}

/// The named features of a directional family (GLCM, GLRLM) for every requested aggregation.
pub(crate) fn directional_features<M, F>(
    spec: &super::naming::FamilySpec,
    builder: &DirectionalBuilder<'_, M>,
    methods: &[DirectionalAggregation],
    features: &F,
) -> Vec<crate::Feature>
where
    M: TextureMatrix,
    F: Fn(&M) -> Vec<f64> + Sync,
{
    directional(builder, methods, spec.defs.len(), features)
        .iter()
        .zip(methods)
        .flat_map(|(agg, method)| super::naming::emit(spec, method.tag_suffix(), agg))
        .collect()
}

/// All requested directional aggregations (GLCM, GLRLM), in the order of `methods`.
///
/// Streams over slices and directions in parallel: each worker holds one slice's matrices plus
/// running per-direction sums, never all slice × direction matrices, so memory stays
/// `O(threads × directions × matrix size)` even for hundreds of grey levels and slices.
pub(crate) fn directional<M, F>(
    builder: &DirectionalBuilder<'_, M>,
    methods: &[DirectionalAggregation],
    n_features: usize,
    features: &F,
) -> Vec<Aggregated>
where
    M: TextureMatrix,
    F: Fn(&M) -> Vec<f64> + Sync,
{
    use DirectionalAggregation as A;
    use rayon::prelude::*;

    let wants = |m: A| methods.contains(&m);
    let n2 = builder.n_directions_2d;
    let slice_acc = if methods.iter().any(|m| m.is_slice_based()) {
        let acc = builder
            .slices
            .par_iter()
            .map(|&z| {
                let mats: Vec<M> = (0..n2).map(|d| (builder.build_2d)(z, d)).collect();
                let mut per_matrix = MeanAcc::new(n_features);
                if wants(A::TwoDAveraged) {
                    for m in &mats {
                        per_matrix.add(m, features);
                    }
                }
                let mut per_slice = MeanAcc::new(n_features);
                if wants(A::TwoDSliceMerged)
                    && let Some(merged) = merge_all(mats.iter())
                {
                    per_slice.add(&merged, features);
                }
                SliceAcc {
                    per_matrix,
                    per_slice,
                    per_direction: mats.into_iter().map(Some).collect(),
                }
            })
            // Collected in slice order and combined sequentially: the same sums, to the last
            // bit, whatever the thread count or scheduling (a parallel reduction's tree is not).
            .collect::<Vec<_>>()
            .into_iter()
            .reduce(|a, b| SliceAcc {
                per_matrix: a.per_matrix.combine(b.per_matrix),
                per_slice: a.per_slice.combine(b.per_slice),
                per_direction: a
                    .per_direction
                    .into_iter()
                    .zip(b.per_direction)
                    .map(|(x, y)| merge_opt(x, y))
                    .collect(),
            });
        Some(acc.unwrap_or_else(|| SliceAcc {
            per_matrix: MeanAcc::new(n_features),
            per_slice: MeanAcc::new(n_features),
            per_direction: Vec::new(),
        }))
    } else {
        None
    };
    let volume_acc = if methods.iter().any(|m| !m.is_slice_based()) {
        let acc = (0..builder.n_directions_3d)
            .into_par_iter()
            .map(|d| {
                let m = (builder.build_3d)(d);
                let mut mean = MeanAcc::new(n_features);
                if wants(A::ThreeDAveraged) {
                    mean.add(&m, features);
                }
                (mean, Some(m))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .reduce(|a, b| (a.0.combine(b.0), merge_opt(a.1, b.1)));
        Some(acc.unwrap_or_else(|| (MeanAcc::new(n_features), None)))
    } else {
        None
    };
    methods
        .iter()
        .map(|&method| match (method, &slice_acc, &volume_acc) {
            (A::TwoDAveraged, Some(s), _) => s.per_matrix.clone().finish(),
            (A::TwoDSliceMerged, Some(s), _) => s.per_slice.clone().finish(),
            (A::TwoHalfDDirectionMerged, Some(s), _) => {
                mean_features(s.per_direction.iter().flatten(), n_features, features)
            }
            (A::TwoHalfDMerged, Some(s), _) => single(
                merge_all(s.per_direction.iter().flatten()).as_ref(),
                n_features,
                features,
            ),
            (A::ThreeDAveraged, _, Some(v)) => v.0.clone().finish(),
            (A::ThreeDMerged, _, Some(v)) => single(v.1.as_ref(), n_features, features),
            _ => single::<M, F>(None, n_features, features),
        })
        .collect()
}

/// Aggregates slice-based matrices: `per_slice` for 2D / 2.5D, `volume` for 3D.
pub(crate) fn slice_based<M, F>(
    per_slice: &[M],
    volume: Option<&M>,
    method: SliceAggregation,
    n_features: usize,
    features: &F,
) -> Aggregated
where
    M: TextureMatrix,
    F: Fn(&M) -> Vec<f64> + Sync,
{
    match method {
        SliceAggregation::TwoD => mean_features(per_slice.iter(), n_features, features),
        SliceAggregation::TwoHalfD => {
            single(merge_all(per_slice.iter()).as_ref(), n_features, features)
        }
        SliceAggregation::ThreeD => single(volume, n_features, features),
    }
}
