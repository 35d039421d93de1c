#![allow(clippy::unwrap_used, clippy::expect_used)]
use oncolens_core::{Direction, Geometry, LabelMap};
use oncolens_synth::phantom::Phantom;
use oncolens_synth::truth::{draw_latent, probit};
use rand::SeedableRng;

#[test]
#[ignore]
fn experiment() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let (mut xs, mut ys) = (vec![], vec![]);
    let (mut hs, mut hy) = (vec![], vec![]);
    use rand_distr::Distribution;
    let mut air = 0usize;
    let nn = rand_distr::Normal::new(0.0, 1.0).unwrap();
    for i in 0..200 {
        let l = draw_latent(&mut rng);
        let ph = Phantom::new(&l, 60.0, &mut rng);
        let (px, thk) = if i % 3 == 0 {
            (2.73, 2.5)
        } else if i % 3 == 1 {
            (2.9, 3.0)
        } else {
            (3.05, 5.0)
        };
        let c = ph.lesion.center_mm;
        let half = 40;
        let nz = (120.0 / thk) as usize;
        let n = 2 * half;
        let origin = [
            c[0] - half as f64 * px,
            c[1] - half as f64 * px,
            c[2] - (nz / 2) as f64 * thk,
        ];
        let g = Geometry::new([n, n, nz], [px, px, thk], origin, Direction::identity()).unwrap();
        let mut data = ndarray::Array3::<u16>::zeros((nz, n, n));
        for ((k, j, ii), v) in data.indexed_iter_mut() {
            let p = g.index_to_physical([ii as f64, j as f64, k as f64]);
            if ph.lesion.contains(p) {
                *v = 1;
            }
        }
        let noise = [10.0, 18.0, 28.0][i % 3];
        let (mut n1, mut s1, mut s2) = (0.0, 0.0, 0.0);
        for ((k, j, ii), v) in data.indexed_iter() {
            if *v == 1 {
                let p = g.index_to_physical([ii as f64, j as f64, k as f64]);
                let h0 = ph.hu(p);
                if h0 < -500.0 {
                    air += 1;
                }
                let h = h0 + noise * nn.sample(&mut rng);
                n1 += 1.0;
                s1 += h;
                s2 += h * h;
            }
        }
        let sd = (s2 / n1 - (s1 / n1).powi(2)).sqrt();
        hs.push(sd);
        hy.push(probit(l.heterogeneity));
        let m = LabelMap::new(data, g).unwrap();
        let s =
            oncolens_radiomics::extract_shape(&m, 1, &oncolens_radiomics::Settings::pyradiomics())
                .unwrap();
        let sph = s.get("morph_sphericity").unwrap().value;
        let vol = s.get("morph_volume").unwrap().value.ln();
        xs.push([
            if std::env::var("OL_LOG").is_ok() {
                (1.0 - sph).max(1e-4).ln()
            } else {
                sph
            },
            vol,
        ]);
        ys.push(probit(l.irregularity));
    }
    // R² of y on [1, sph, vol] by normal equations.
    let n = ys.len() as f64;
    let my = ys.iter().sum::<f64>() / n;
    let m0 = xs.iter().map(|x| x[0]).sum::<f64>() / n;
    let m1 = xs.iter().map(|x| x[1]).sum::<f64>() / n;
    let (mut a, mut b, mut c, mut d, mut e) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut syy = 0.0;
    for (x, y) in xs.iter().zip(&ys) {
        let (u, v, w) = (x[0] - m0, x[1] - m1, y - my);
        a += u * u;
        b += u * v;
        c += v * v;
        d += u * w;
        e += v * w;
        syy += w * w;
    }
    let det = a * c - b * b;
    let b0 = (c * d - b * e) / det;
    let b1 = (a * e - b * d) / det;
    let r2 = (b0 * d + b1 * e) / syy;
    let r2s = d * d / (a * syy);
    let hm = hs.iter().sum::<f64>() / n;
    let hym = hy.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy2) = (0.0, 0.0, 0.0);
    for (x, y) in hs.iter().zip(&hy) {
        sxy += (x - hm) * (y - hym);
        sxx += (x - hm).powi(2);
        syy2 += (y - hym).powi(2);
    }
    println!("air {air}");
    println!("het R2 from sd {:.3}", sxy * sxy / (sxx * syy2));
    println!("R2 sph+vol {r2:.3}  sph alone {r2s:.3}");
}
