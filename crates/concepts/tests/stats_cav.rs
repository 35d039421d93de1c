//! Model-free checks: the t distribution and t-tests against scipy, the logistic regression
//! against scikit-learn, CAVs on separable activations, and TCAV's decision rule on synthetic
//! activation/gradient vectors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use approx::assert_relative_eq;
use oncolens_concepts::cav::{LogisticRegression, fit_cav};
use oncolens_concepts::stats::{ln_gamma, regularized_incomplete_beta, student_t_cdf};
use oncolens_concepts::tcav::{TcavOptions, tcav_from_vectors};
use oncolens_concepts::{top_quantile_flags, ttest_ind, ttest_welch};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

const A: [f64; 7] = [0.9, 0.85, 1.0, 0.95, 0.8, 0.9, 1.0];
const B: [f64; 6] = [0.5, 0.6, 0.45, 0.7, 0.4, 0.55];

#[test]
fn student_t_test_equals_scipy() {
    // import scipy.stats as s  (scipy 1.17.1)
    // s.ttest_ind([0.9,0.85,1.0,0.95,0.8,0.9,1.0], [0.5,0.6,0.45,0.7,0.4,0.55])
    //   -> statistic 7.491193181927684, pvalue 1.2132483931849083e-05, df 11.0
    let t = ttest_ind(&A, &B);
    assert_relative_eq!(t.statistic, 7.491193181927684, max_relative = 1e-12);
    assert_eq!(t.df, 11.0);
    assert_relative_eq!(t.p_value, 1.2132483931849083e-05, max_relative = 1e-9);
    // s.ttest_ind([0.52,0.48,0.55,0.5], [0.47,0.53,0.5,0.49,0.51])
    //   -> statistic 0.7210443340527911, pvalue 0.4942533450750857
    let t = ttest_ind(&[0.52, 0.48, 0.55, 0.5], &[0.47, 0.53, 0.5, 0.49, 0.51]);
    assert_relative_eq!(t.statistic, 0.7210443340527911, max_relative = 1e-12);
    assert_relative_eq!(t.p_value, 0.4942533450750857, max_relative = 1e-10);
}

#[test]
fn welch_test_equals_scipy() {
    // s.ttest_ind(A, B, equal_var=False)
    //   -> statistic 7.272727272727276, pvalue 5.5189083872012806e-05, df 8.726795885751752
    let t = ttest_welch(&A, &B);
    assert_relative_eq!(t.statistic, 7.272727272727276, max_relative = 1e-12);
    assert_relative_eq!(t.df, 8.726795885751752, max_relative = 1e-12);
    assert_relative_eq!(t.p_value, 5.5189083872012806e-05, max_relative = 1e-9);
}

#[test]
fn t_distribution_and_special_functions_equal_scipy() {
    // s.t.cdf(-1.3, 3.5) -> 0.1362977079021851; s.t.cdf(2.2, 10) -> 0.9737794657753234
    // s.t.sf(40, 4) * 2 -> 2.3340163226012678e-06
    assert_relative_eq!(
        student_t_cdf(-1.3, 3.5),
        0.1362977079021851,
        max_relative = 1e-11
    );
    assert_relative_eq!(
        student_t_cdf(2.2, 10.0),
        0.9737794657753234,
        max_relative = 1e-12
    );
    let tail = 2.0 * (1.0 - student_t_cdf(40.0, 4.0));
    assert_relative_eq!(tail, 2.3340163226012678e-06, max_relative = 1e-6);
    assert_relative_eq!(
        oncolens_concepts::stats::student_t_two_sided(40.0, 4.0),
        2.3340163226012678e-06,
        max_relative = 1e-10
    );
    // scipy.special.betainc(2.5, 0.5, 0.3) -> 0.018927124071945658
    // scipy.special.betainc(10, 3, 0.9) -> 0.889130022255
    // scipy.special.gammaln(0.3) -> 1.0957979948180756; gammaln(17.5) -> 32.08111489594736
    assert_relative_eq!(
        regularized_incomplete_beta(2.5, 0.5, 0.3),
        0.018927124071945658,
        max_relative = 1e-11
    );
    assert_relative_eq!(
        regularized_incomplete_beta(10.0, 3.0, 0.9),
        0.889130022255,
        max_relative = 1e-11
    );
    assert_relative_eq!(ln_gamma(0.3), 1.0957979948180756, max_relative = 1e-13);
    assert_relative_eq!(ln_gamma(17.5), 32.08111489594736, max_relative = 1e-13);
}

#[test]
fn degenerate_t_tests_follow_scipy() {
    // Equal constant samples: scipy gives nan; different constants: ±inf and p = 0.
    let t = ttest_ind(&[1.0, 1.0, 1.0], &[1.0, 1.0]);
    assert!(t.p_value.is_nan());
    let t = ttest_ind(&[1.0, 1.0, 1.0], &[0.0, 0.0]);
    assert!(t.statistic.is_infinite() && t.p_value == 0.0);
}

#[test]
fn logistic_regression_equals_scikit_learn() {
    // from sklearn.linear_model import LogisticRegression  (scikit-learn 1.7)
    // LogisticRegression(C=1/(n*l2), tol=1e-14, max_iter=100000).fit(X, y), l2 = 0.1, n = 10
    //   -> coef [1.283855922659306, 0.5618323177344602, 0.5524622472584644],
    //      intercept -0.9575533004123211
    let x: [[f64; 3]; 10] = [
        [0.5, 1.2, -0.3],
        [1.5, 0.2, 0.8],
        [-0.7, 0.4, 1.1],
        [2.0, -1.0, 0.3],
        [0.1, 0.9, -1.2],
        [1.1, 1.4, 0.6],
        [-1.3, -0.5, 0.2],
        [0.8, -0.2, -0.9],
        [1.7, 0.6, 1.5],
        [-0.4, -1.1, 0.7],
    ];
    let y = [
        true, true, false, true, false, true, false, false, true, false,
    ];
    let refs: Vec<&[f64]> = x.iter().map(|r| r.as_slice()).collect();
    let m = LogisticRegression::fit(&refs, &y, 0.1).unwrap();
    assert!(m.converged);
    let expected = [1.283855922659306, 0.5618323177344602, 0.5524622472584644];
    for (w, e) in m.weights.iter().zip(expected) {
        assert_relative_eq!(*w, e, max_relative = 1e-7);
    }
    let intercept = m.bias
        - m.weights
            .iter()
            .zip(&m.mean)
            .map(|(w, m)| w * m)
            .sum::<f64>();
    assert_relative_eq!(intercept, -0.9575533004123211, max_relative = 1e-7);
}

fn gaussian(rng: &mut ChaCha8Rng, d: usize, shift: &[f64]) -> Vec<f64> {
    (0..d)
        .map(|i| {
            let z: f64 = rng.sample(StandardNormal);
            z + shift[i]
        })
        .collect()
}

#[test]
fn cav_separates_linearly_separable_activations_in_high_dimension() {
    // 2000-dimensional activations, 20 + 20 examples: the classes sit at ±8 (± 0.3) along one
    // unit direction u and are standard normal noise in the 1999 others. (With ±3 the noise of
    // 26 training vectors in 1999 dimensions, norm ≈ 45 each, swamps the direction: held-out
    // accuracy drops to 0.6-0.8, the small-sample problem TCAV's significance test exists for.)
    let d = 2000;
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let u: Vec<f64> = {
        let v = gaussian(&mut rng, d, &vec![0.0; d]);
        let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        v.iter().map(|a| a / n).collect()
    };
    // Concept: noise with its u-component replaced by +3 ± 0.3; random: -3 ± 0.3 along u.
    let make = |rng: &mut ChaCha8Rng, sign: f64| -> Vec<f64> {
        let mut v = gaussian(rng, d, &vec![0.0; d]);
        let along: f64 = v.iter().zip(&u).map(|(a, b)| a * b).sum();
        let target = sign * 8.0 + 0.3 * rng.sample::<f64, _>(StandardNormal);
        for (a, b) in v.iter_mut().zip(&u) {
            *a += (target - along) * b;
        }
        v
    };
    let concept: Vec<Vec<f64>> = (0..20).map(|_| make(&mut rng, 1.0)).collect();
    let random: Vec<Vec<f64>> = (0..20).map(|_| make(&mut rng, -1.0)).collect();
    let c: Vec<&[f64]> = concept.iter().map(Vec::as_slice).collect();
    let r: Vec<&[f64]> = random.iter().map(Vec::as_slice).collect();
    let cav = fit_cav(&c, &r, 0.01, 0.33, &mut rng).unwrap();
    assert!(
        cav.accuracy >= 13.0 / 14.0,
        "held-out accuracy {}",
        cav.accuracy
    );
    assert_eq!(cav.train_accuracy, 1.0);
    assert_eq!(cav.n_test, 14);
    let norm: f64 = cav.direction.iter().map(|a| a * a).sum::<f64>().sqrt();
    assert_relative_eq!(norm, 1.0, max_relative = 1e-12);
    // Points towards the concept, mostly along u (the other 1999 directions are pure noise).
    let cos: f64 = cav.direction.iter().zip(&u).map(|(a, b)| a * b).sum();
    assert!(cos > 0.5, "cosine with the true direction {cos}");
}

#[test]
fn cav_of_indistinguishable_sets_is_near_chance() {
    let d = 50;
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let zero = vec![0.0; d];
    let mut acc = Vec::new();
    for _ in 0..10 {
        let a: Vec<Vec<f64>> = (0..30).map(|_| gaussian(&mut rng, d, &zero)).collect();
        let b: Vec<Vec<f64>> = (0..30).map(|_| gaussian(&mut rng, d, &zero)).collect();
        let ar: Vec<&[f64]> = a.iter().map(Vec::as_slice).collect();
        let br: Vec<&[f64]> = b.iter().map(Vec::as_slice).collect();
        acc.push(fit_cav(&ar, &br, 0.01, 0.33, &mut rng).unwrap().accuracy);
    }
    let mean = acc.iter().sum::<f64>() / acc.len() as f64;
    assert!((0.3..0.7).contains(&mean), "mean held-out accuracy {mean}");
}

/// Synthetic TCAV: activations in R^8; the concept differs from random along axis 0.
type Sets = (Vec<(String, Vec<Vec<f64>>)>, Vec<Vec<Vec<f64>>>);

fn sets(rng: &mut ChaCha8Rng, concept_shift: f64) -> Sets {
    let d = 8;
    let zero = vec![0.0; d];
    let mut shift = zero.clone();
    shift[0] = concept_shift;
    let concept = (0..30).map(|_| gaussian(rng, d, &shift)).collect();
    let randoms = (0..10)
        .map(|_| (0..30).map(|_| gaussian(rng, d, &zero)).collect())
        .collect();
    (vec![("c".to_string(), concept)], randoms)
}

#[test]
fn tcav_scores_a_concept_the_logit_follows_near_one_and_significant() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let (concepts, randoms) = sets(&mut rng, 3.0);
    // The logit rises along axis 0 for every input (plus input-specific noise elsewhere).
    let gradients: Vec<Vec<f64>> = (0..40)
        .map(|_| {
            let mut g = gaussian(&mut rng, 8, &[0.0; 8]);
            g[0] = 2.0 + 0.2 * g[0];
            g
        })
        .collect();
    let r =
        &tcav_from_vectors(&concepts, &randoms, &gradients, &TcavOptions::default()).unwrap()[0];
    assert!(r.score > 0.95, "{r:?}");
    assert!(r.cav_accuracy > 0.9, "{r:?}");
    assert!(r.p_value < 1e-3 && r.significant, "{r:?}");
    assert_eq!(r.scores.len(), 10);
    assert_eq!(r.random_scores.len(), 10);
}

#[test]
fn tcav_of_an_encoded_concept_the_logit_ignores_is_not_significant() {
    // The concept is perfectly encoded along axis 0, but the logit's gradient has no component
    // there: only the noise of each CAV in the other axes decides the sign.
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    let (concepts, randoms) = sets(&mut rng, 3.0);
    let gradients: Vec<Vec<f64>> = (0..40)
        .map(|_| {
            let mut g = gaussian(&mut rng, 8, &[0.0; 8]);
            g[0] = 0.0;
            g
        })
        .collect();
    let r =
        &tcav_from_vectors(&concepts, &randoms, &gradients, &TcavOptions::default()).unwrap()[0];
    assert!(r.cav_accuracy > 0.9, "the concept is encoded: {r:?}");
    assert!(r.p_value > 0.05 && !r.significant, "{r:?}");
}

#[test]
fn tcav_rejects_fewer_than_two_random_sets() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (concepts, mut randoms) = sets(&mut rng, 1.0);
    randoms.truncate(1);
    let g = vec![vec![1.0; 8]];
    assert!(tcav_from_vectors(&concepts, &randoms, &g, &TcavOptions::default()).is_err());
}

#[test]
fn top_quantile_flags_take_the_top_fraction() {
    let v: Vec<f64> = (0..20).map(f64::from).collect();
    let f = top_quantile_flags(&v, 0.25);
    // numpy.quantile(range(20), 0.75) = 14.25: values 15..19 flagged.
    assert_eq!(f.iter().filter(|b| **b).count(), 5);
    assert!(f[15] && !f[14]);
    let with_nan = [1.0, f64::NAN, 3.0, 2.0];
    assert_eq!(
        top_quantile_flags(&with_nan, 0.34),
        [false, false, true, false]
    );
}
