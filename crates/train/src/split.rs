//! Patient-level splits: the cohort's own split column when it has one, stratified k-fold,
//! validation carved from training, leave-one-site-out.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::cases::PreparedCase;

/// Indices into the case list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

fn shuffled(mut v: Vec<usize>, rng: &mut ChaCha8Rng) -> Vec<usize> {
    v.shuffle(rng);
    v
}

/// Splits `indices` into `k` folds with the same share of each label in every fold.
pub fn stratified_folds(
    cases: &[PreparedCase],
    indices: &[usize],
    k: usize,
    seed: u64,
) -> Vec<Vec<usize>> {
    let k = k.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut folds = vec![Vec::new(); k];
    let mut labels: Vec<Option<u8>> = indices.iter().map(|&i| cases[i].label).collect();
    labels.sort();
    labels.dedup();
    let mut next = 0usize;
    for label in labels {
        let members: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| cases[i].label == label)
            .collect();
        for i in shuffled(members, &mut rng) {
            folds[next % k].push(i);
            next += 1;
        }
    }
    for f in &mut folds {
        f.sort_unstable();
    }
    folds
}

/// Moves a stratified `fraction` of `train` to validation (at least one patient of each class
/// when the class has two or more).
pub fn carve_validation(
    cases: &[PreparedCase],
    train: &[usize],
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let k = (1.0 / fraction.clamp(0.05, 0.5)).round() as usize;
    let folds = stratified_folds(cases, train, k, seed ^ 0x5eed);
    let val = folds[0].clone();
    let rest = train.iter().copied().filter(|i| !val.contains(i)).collect();
    (rest, val)
}

/// The cohort's split column (`train`/`val`/`test`) when every labelled case has one;
/// otherwise a stratified random `test_fraction` for test and the rest for training. Validation
/// is carved from training when the cohort has none.
pub fn holdout(cases: &[PreparedCase], test_fraction: f64, val_fraction: f64, seed: u64) -> Split {
    let labelled: Vec<usize> = (0..cases.len())
        .filter(|&i| cases[i].label.is_some())
        .collect();
    let named = |s: &str| -> Vec<usize> {
        labelled
            .iter()
            .copied()
            .filter(|&i| cases[i].split.as_deref() == Some(s))
            .collect()
    };
    let has_column = labelled.iter().all(|&i| cases[i].split.is_some());
    let (train, mut val, test) = if has_column && !named("test").is_empty() {
        let mut train = named("train");
        let val = named("val");
        train.extend(named("validation"));
        (train, val, named("test"))
    } else {
        let k = (1.0 / test_fraction.clamp(0.05, 0.5)).round() as usize;
        let folds = stratified_folds(cases, &labelled, k, seed);
        let test = folds[0].clone();
        let train = labelled
            .iter()
            .copied()
            .filter(|i| !test.contains(i))
            .collect();
        (train, Vec::new(), test)
    };
    let train = if val.is_empty() {
        let (t, v) = carve_validation(cases, &train, val_fraction, seed);
        val = v;
        t
    } else {
        train
    };
    Split { train, val, test }
}

/// Stratified k-fold cross-validation over labelled cases: fold `f` is the test set, the rest
/// is split into training and validation.
pub fn kfold(cases: &[PreparedCase], k: usize, val_fraction: f64, seed: u64) -> Vec<Split> {
    let labelled: Vec<usize> = (0..cases.len())
        .filter(|&i| cases[i].label.is_some())
        .collect();
    let folds = stratified_folds(cases, &labelled, k, seed);
    folds
        .iter()
        .enumerate()
        .map(|(f, test)| {
            let rest: Vec<usize> = labelled
                .iter()
                .copied()
                .filter(|i| !test.contains(i))
                .collect();
            let (train, val) = carve_validation(cases, &rest, val_fraction, seed + f as u64);
            Split {
                train,
                val,
                test: test.clone(),
            }
        })
        .collect()
}

/// One split per site: that site's patients are the test set; the other sites train and
/// validate. Shows how a model travels to a hospital it never saw.
pub fn leave_one_site_out(
    cases: &[PreparedCase],
    val_fraction: f64,
    seed: u64,
) -> Vec<(String, Split)> {
    let mut sites: Vec<String> = cases.iter().map(|c| c.site.clone()).collect();
    sites.sort();
    sites.dedup();
    sites
        .into_iter()
        .map(|site| {
            let labelled = (0..cases.len()).filter(|&i| cases[i].label.is_some());
            let (test, rest): (Vec<usize>, Vec<usize>) =
                labelled.partition(|&i| cases[i].site == site);
            let (train, val) = carve_validation(cases, &rest, val_fraction, seed);
            (site, Split { train, val, test })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cases(n: usize) -> Vec<PreparedCase> {
        (0..n)
            .map(|i| PreparedCase {
                id: format!("c{i}"),
                site: format!("s{}", i % 3),
                label: Some(u8::from(i % 4 == 0)),
                split: None,
                dir: Default::default(),
                image: None,
                lesion: None,
                crop: None,
                lesion_radiomics: None,
                clinical: None,
                report: None,
                omics: None,
            })
            .collect()
    }

    #[test]
    fn splits_are_disjoint_cover_all_and_keep_class_shares() {
        let c = cases(40);
        let s = holdout(&c, 0.25, 0.2, 1);
        let mut all: Vec<usize> = s
            .train
            .iter()
            .chain(&s.val)
            .chain(&s.test)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
        let pos = |v: &[usize]| v.iter().filter(|&&i| c[i].label == Some(1)).count();
        assert!((2..=3).contains(&pos(&s.test)), "{}", pos(&s.test));
        for split in kfold(&c, 5, 0.2, 3) {
            assert_eq!(split.test.len(), 8);
            assert_eq!(pos(&split.test), 2);
            assert!(
                split
                    .train
                    .iter()
                    .all(|i| !split.test.contains(i) && !split.val.contains(i))
            );
        }
        let loso = leave_one_site_out(&c, 0.2, 3);
        assert_eq!(loso.len(), 3);
        for (site, split) in loso {
            assert!(split.test.iter().all(|&i| c[i].site == site));
            assert!(split.train.iter().all(|&i| c[i].site != site));
        }
    }

    #[test]
    fn the_cohort_split_column_is_kept() {
        let mut c = cases(8);
        for (i, case) in c.iter_mut().enumerate() {
            case.split = Some(["train", "train", "val", "test"][i % 4].to_owned());
        }
        let s = holdout(&c, 0.25, 0.2, 1);
        assert_eq!(s.test, vec![3, 7]);
        assert_eq!(s.val, vec![2, 6]);
    }
}
