//! An analytic abdominal CT phantom with two kidneys and one renal lesion.
//!
//! Anatomy is described in LPS millimetres (x to the patient's left, y posterior, z superior) with
//! the kidneys around z = 0. Tissues carry typical portal-venous-phase attenuations. The lesion's
//! size, margin irregularity, internal heterogeneity and enhancement come from the latent variables
//! of [`crate::truth`], so what the image shows is exactly what drives the label.

use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::truth::Latent;

type Vec3 = [f64; 3];

fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}
fn unit(a: Vec3) -> Vec3 {
    let n = norm(a).max(1e-12);
    [a[0] / n, a[1] / n, a[2] / n]
}

/// An ellipsoid rotated about the antero-posterior (y) axis by `tilt` radians.
#[derive(Debug, Clone)]
struct Ellipsoid {
    center: Vec3,
    semi_axes: Vec3,
    cos_t: f64,
    sin_t: f64,
}

impl Ellipsoid {
    fn new(center: Vec3, semi_axes: Vec3, tilt: f64) -> Self {
        Ellipsoid {
            center,
            semi_axes,
            cos_t: tilt.cos(),
            sin_t: tilt.sin(),
        }
    }
    fn local(&self, p: Vec3) -> Vec3 {
        let d = sub(p, self.center);
        [
            self.cos_t * d[0] - self.sin_t * d[2],
            d[1],
            self.sin_t * d[0] + self.cos_t * d[2],
        ]
    }
    /// Normalised radius: < 1 inside, 1 on the surface.
    fn rho(&self, p: Vec3) -> f64 {
        let l = self.local(p);
        ((l[0] / self.semi_axes[0]).powi(2)
            + (l[1] / self.semi_axes[1]).powi(2)
            + (l[2] / self.semi_axes[2]).powi(2))
        .sqrt()
    }
    /// Distance from the centre to the surface along world direction `u`.
    fn extent_along(&self, u: Vec3) -> f64 {
        let l = [
            self.cos_t * u[0] - self.sin_t * u[2],
            u[1],
            self.sin_t * u[0] + self.cos_t * u[2],
        ];
        1.0 / ((l[0] / self.semi_axes[0]).powi(2)
            + (l[1] / self.semi_axes[1]).powi(2)
            + (l[2] / self.semi_axes[2]).powi(2))
        .sqrt()
    }
}

/// A smooth random field with zero mean and unit variance (sum of random plane waves).
#[derive(Debug, Clone)]
struct Texture {
    waves: Vec<(Vec3, f64)>,
}

impl Texture {
    fn new(rng: &mut impl Rng, count: usize, wavelength_mm: (f64, f64)) -> Self {
        let n = Normal::new(0.0, 1.0).expect("unit normal");
        let waves = (0..count)
            .map(|_| {
                let dir = unit([n.sample(rng), n.sample(rng), n.sample(rng)]);
                let lambda = rng.random_range(wavelength_mm.0..wavelength_mm.1);
                let k = 2.0 * std::f64::consts::PI / lambda;
                (
                    [dir[0] * k, dir[1] * k, dir[2] * k],
                    rng.random_range(0.0..std::f64::consts::TAU),
                )
            })
            .collect();
        Texture { waves }
    }
    fn at(&self, p: Vec3) -> f64 {
        let s: f64 = self
            .waves
            .iter()
            .map(|(k, ph)| (dot(*k, p) + ph).cos())
            .sum();
        s * (2.0 / self.waves.len() as f64).sqrt()
    }
}

/// Relative radial amplitude of the lobes of the most irregular margin. Large enough that the
/// image shows the margin at least as legibly as the radiologist's word for it does at the
/// demo's 2.7-3 mm voxels (`tests/legibility.rs`); at 0.32 a fully lobulated margin stayed
/// within a voxel of a sphere and sphericity explained under a third of the factor.
pub const MARGIN_AMPLITUDE: f64 = 0.9;

/// Standard deviation (HU) of the enhancing tissue's texture of the most heterogeneous lesion,
/// chosen by the same legibility rule as [`MARGIN_AMPLITUDE`], with each site's image noise.
pub const HETEROGENEITY_HU: f64 = 50.0;

/// Scales the lobes' weights so the margin's radial deviation has the same root mean square
/// over the sphere for every lesion: then the margin's amplitude, not the draw of the lobes,
/// decides how irregular the lesion looks.
fn normalise_lobes(lobes: &mut [(Vec3, f64, f64, f64)]) {
    const DIRECTIONS: usize = 400;
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    let mut sum_sq = 0.0;
    for i in 0..DIRECTIONS {
        let z = 1.0 - 2.0 * (i as f64 + 0.5) / DIRECTIONS as f64;
        let r = (1.0 - z * z).sqrt();
        let t = golden * i as f64;
        let u = [r * t.cos(), r * t.sin(), z];
        let f: f64 = lobes
            .iter()
            .map(|(v, freq, phase, w)| w * (freq * dot(u, *v) + phase).cos())
            .sum();
        sum_sq += f * f;
    }
    let rms = (sum_sq / DIRECTIONS as f64).sqrt().max(1e-6);
    // Cosines of weight 0.2 with random phases have an expected RMS of 0.2 * sqrt(count / 2).
    let target = 0.2 * (lobes.len() as f64 / 2.0).sqrt();
    for lobe in lobes.iter_mut() {
        lobe.3 *= target / rms;
    }
}

/// The lesion: a lobulated sphere with textured, optionally necrotic interior.
#[derive(Debug, Clone)]
pub struct Lesion {
    pub center_mm: Vec3,
    pub radius_mm: f64,
    amplitude: f64,
    /// Bound on the boundary radius as a multiple of `radius_mm`.
    reach: f64,
    lobes: Vec<(Vec3, f64, f64, f64)>,
    texture: Texture,
    enhancement_hu: f64,
    heterogeneity: f64,
    necrosis_radius_mm: f64,
}

impl Lesion {
    fn boundary_radius(&self, u: Vec3) -> f64 {
        let f: f64 = self
            .lobes
            .iter()
            .map(|(v, freq, phase, w)| w * (freq * dot(u, *v) + phase).cos())
            .sum();
        self.radius_mm * (1.0 + self.amplitude * f)
    }

    /// Radius of a sphere around `center_mm` that holds the whole lesion.
    pub fn bounding_radius_mm(&self) -> f64 {
        self.radius_mm * self.reach
    }

    pub fn contains(&self, p: Vec3) -> bool {
        let d = sub(p, self.center_mm);
        let r = norm(d);
        if r > self.radius_mm * self.reach {
            return false;
        }
        r <= self.boundary_radius(unit(d))
    }

    fn hu(&self, p: Vec3) -> f64 {
        let g = self.texture.at(p);
        if norm(sub(p, self.center_mm)) < self.necrosis_radius_mm {
            18.0 + 6.0 * g
        } else {
            self.enhancement_hu + self.heterogeneity * HETEROGENEITY_HU * g
        }
    }
}

#[derive(Debug, Clone)]
struct Loop {
    shape: Ellipsoid,
    content_hu: f64,
}

/// One patient's anatomy.
#[derive(Debug, Clone)]
pub struct Phantom {
    body_a: f64,
    body_b: f64,
    kidneys: [Ellipsoid; 2],
    pub lesion: Lesion,
    /// Index into `kidneys` of the kidney carrying the lesion (0 = right, 1 = left).
    pub lesion_kidney: usize,
    liver: Ellipsoid,
    spleen: Ellipsoid,
    loops: Vec<Loop>,
    fat_texture: Texture,
    habitus: f64,
}

impl Phantom {
    /// Builds the anatomy for one patient; `z_half_mm` is half the scanned extent, used to keep
    /// the lesion inside the series.
    pub fn new(latent: &Latent, z_half_mm: f64, rng: &mut impl Rng) -> Self {
        let n = Normal::new(0.0, 1.0).expect("unit normal");
        let s = rng.random_range(0.88..1.08);
        let right = Ellipsoid::new(
            [-68.0 * s, 38.0 * s, -8.0 + 4.0 * n.sample(rng)],
            [26.0, 21.0, 52.0],
            -0.22,
        );
        let left = Ellipsoid::new(
            [68.0 * s, 38.0 * s, 6.0 + 4.0 * n.sample(rng)],
            [26.0, 21.0, 52.0],
            0.22,
        );
        let kidneys = [right, left];
        let lesion_kidney = if latent.right_kidney { 0 } else { 1 };
        let kidney = &kidneys[lesion_kidney];
        let lateral = if lesion_kidney == 0 { -1.0 } else { 1.0 };
        // Lesions grow laterally, anteriorly or toward a pole, rarely toward the spine.
        let u0 = unit([
            lateral * (0.4 + n.sample(rng).abs()),
            -0.3 + 0.6 * n.sample(rng),
            0.9 * n.sample(rng),
        ]);
        let depth = rng.random_range(0.55..0.9) * kidney.extent_along(u0);
        let radius = latent.diameter_mm / 2.0;
        let amplitude = 0.03 + MARGIN_AMPLITUDE * latent.irregularity;
        let mut center = [
            kidney.center[0] + u0[0] * depth,
            kidney.center[1] + u0[1] * depth,
            kidney.center[2] + u0[2] * depth,
        ];
        let mut lobes: Vec<(Vec3, f64, f64, f64)> = (0..5)
            .map(|_| {
                let v = unit([n.sample(rng), n.sample(rng), n.sample(rng)]);
                (
                    v,
                    rng.random_range(2.0..5.0),
                    rng.random_range(0.0..std::f64::consts::TAU),
                    0.2,
                )
            })
            .collect();
        normalise_lobes(&mut lobes);
        // The margin never reaches beyond this multiple of the radius.
        let reach = 1.0 + amplitude * lobes.iter().map(|l| l.3.abs()).sum::<f64>();
        let z_room = (z_half_mm - radius * reach).max(0.0);
        center[2] = center[2].clamp(-z_room, z_room);
        // A large lobulated lesion near the flank would otherwise reach through the abdominal
        // wall into air: pull it toward its kidney's centre until it stays inside the body.
        let (body_a, body_b) = (155.0 * s, 115.0 * s);
        let outer = radius * reach;
        // The lesion's bounding circle, probed in the eight compass directions of the axial plane.
        const COMPASS: [[f64; 3]; 8] = [
            [1.0, 0.0, 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 1.0, 0.0],
            [-1.0, 1.0, 0.0],
            [-1.0, 0.0, 0.0],
            [-1.0, -1.0, 0.0],
            [0.0, -1.0, 0.0],
            [1.0, -1.0, 0.0],
        ];
        for _ in 0..20 {
            let inside = COMPASS.iter().all(|&direction| {
                let d = unit(direction);
                let (x, y) = (center[0] + outer * d[0], center[1] + outer * d[1]);
                ((x / body_a).powi(2) + (y / body_b).powi(2)).sqrt() < 0.86
            });
            if inside {
                break;
            }
            for (c, k) in center.iter_mut().zip(kidney.center).take(2) {
                *c += 0.1 * (k - *c);
            }
        }
        let necrosis = if crate::report::shows_necrosis(latent) {
            radius * (latent.heterogeneity - 0.5) * 1.1
        } else {
            0.0
        };
        let lesion = Lesion {
            center_mm: center,
            radius_mm: radius,
            amplitude,
            reach,
            lobes,
            texture: Texture::new(rng, 10, (5.0, 14.0)),
            enhancement_hu: latent.enhancement_hu,
            heterogeneity: latent.heterogeneity,
            necrosis_radius_mm: necrosis,
        };
        let loops = (0..rng.random_range(6..11))
            .map(|_| {
                let c = [
                    rng.random_range(-85.0..85.0) * s,
                    rng.random_range(-85.0..-5.0) * s,
                    rng.random_range(-z_half_mm..z_half_mm),
                ];
                let r = rng.random_range(11.0..22.0);
                let content_hu = match rng.random_range(0..10) {
                    0..=3 => -950.0,
                    4..=6 => 15.0,
                    _ => -150.0,
                };
                Loop {
                    shape: Ellipsoid::new(c, [r, r * 0.8, r * 1.6], rng.random_range(-1.0..1.0)),
                    content_hu,
                }
            })
            .collect();
        Phantom {
            body_a,
            body_b,
            kidneys,
            lesion,
            lesion_kidney,
            liver: Ellipsoid::new([-65.0 * s, -5.0, 70.0], [80.0, 85.0, 60.0], 0.0),
            spleen: Ellipsoid::new([88.0 * s, 35.0, 62.0], [32.0, 48.0, 42.0], 0.0),
            loops,
            fat_texture: Texture::new(rng, 8, (10.0, 30.0)),
            habitus: s,
        }
    }

    /// Centre (LPS mm) of the kidney carrying the lesion.
    pub fn lesion_kidney_center(&self) -> Vec3 {
        self.kidneys[self.lesion_kidney].center
    }

    /// True inside either kidney (parenchyma and sinus), lesion excluded.
    pub fn in_kidney(&self, p: Vec3) -> bool {
        !self.lesion.contains(p) && self.kidneys.iter().any(|k| k.rho(p) < 1.0)
    }

    /// Attenuation (HU) of the noiseless anatomy at `p`.
    pub fn hu(&self, p: Vec3) -> f64 {
        let [x, y, _] = p;
        let e = ((x / self.body_a).powi(2) + (y / self.body_b).powi(2)).sqrt();
        if e > 1.0 {
            return -1000.0;
        }
        if self.lesion.contains(p) {
            return self.lesion.hu(p);
        }
        if e > 0.92 {
            return -105.0 + 8.0 * self.fat_texture.at(p);
        }
        if e > 0.88 {
            return 52.0;
        }
        for k in &self.kidneys {
            let rho = k.rho(p);
            if rho < 1.0 {
                let l = k.local(p);
                let toward_spine = l[0] * k.center[0].signum() < -0.3 * k.semi_axes[0];
                return if rho < 0.5 && toward_spine {
                    -40.0
                } else if rho < 0.72 {
                    110.0
                } else {
                    175.0
                };
            }
        }
        let s = self.habitus;
        let spine = [0.0, 58.0 * s, 0.0];
        let dv = ((x - spine[0]).powi(2) + (y - spine[1]).powi(2)).sqrt();
        if dv < 18.0 {
            return if dv > 15.5 { 700.0 } else { 240.0 };
        }
        let dc = ((x).powi(2) + (y - (spine[1] + 26.0)).powi(2)).sqrt();
        if dc < 8.0 {
            return 12.0;
        }
        if dc < 15.0 && y > spine[1] + 18.0 {
            return 650.0;
        }
        if ((x - 15.0).powi(2) + (y - 28.0 * s).powi(2)).sqrt() < 11.0 {
            return 185.0;
        }
        if ((x + 20.0).powi(2) + (y - 30.0 * s).powi(2)).sqrt() < 12.0 {
            return 130.0;
        }
        for side in [-1.0, 1.0] {
            let px = (x - side * 36.0 * s) / 15.0;
            let py = (y - 58.0 * s) / 19.0;
            if px * px + py * py < 1.0 {
                return 50.0;
            }
        }
        if self.liver.rho(p) < 1.0 {
            return 105.0;
        }
        if self.spleen.rho(p) < 1.0 {
            return 115.0;
        }
        for l in &self.loops {
            let rho = l.shape.rho(p);
            if rho < 1.0 {
                return if rho > 0.85 { 45.0 } else { l.content_hu };
            }
        }
        -90.0 + 10.0 * self.fat_texture.at(p)
    }
}

/// In-place separable Gaussian blur of one slice (`ny` rows of `nx`), sigma in pixels.
pub fn gaussian_blur_2d(slice: &mut [f32], nx: usize, ny: usize, sigma_px: f64) {
    if sigma_px < 0.05 || nx == 0 || ny == 0 {
        return;
    }
    let radius = (3.0 * sigma_px).ceil() as isize;
    let kernel: Vec<f64> = (-radius..=radius)
        .map(|d| (-(d as f64).powi(2) / (2.0 * sigma_px * sigma_px)).exp())
        .collect();
    let total: f64 = kernel.iter().sum();
    let kernel: Vec<f64> = kernel.iter().map(|k| k / total).collect();
    let mut tmp = vec![0f32; slice.len()];
    let clampi = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    for y in 0..ny {
        for x in 0..nx {
            let mut acc = 0.0;
            for (ki, w) in kernel.iter().enumerate() {
                let xx = clampi(x as isize + ki as isize - radius, nx);
                acc += w * f64::from(slice[y * nx + xx]);
            }
            tmp[y * nx + x] = acc as f32;
        }
    }
    for y in 0..ny {
        for x in 0..nx {
            let mut acc = 0.0;
            for (ki, w) in kernel.iter().enumerate() {
                let yy = clampi(y as isize + ki as isize - radius, ny);
                acc += w * f64::from(tmp[yy * nx + x]);
            }
            slice[y * nx + x] = acc as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truth::draw_latent;
    use rand::SeedableRng;

    #[test]
    fn lesion_sits_in_a_kidney_region_and_has_its_enhancement() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut latent = draw_latent(&mut rng);
        latent.heterogeneity = 0.1;
        latent.enhancement_hu = 120.0;
        let ph = Phantom::new(&latent, 60.0, &mut rng);
        let c = ph.lesion.center_mm;
        assert!(ph.lesion.contains(c));
        assert!((ph.hu(c) - 120.0).abs() < 0.1 * 35.0 * 3.0);
        // outside the body is air
        assert_eq!(ph.hu([0.0, -200.0, 0.0]), -1000.0);
        assert!(!ph.in_kidney(c));
    }

    #[test]
    fn blur_preserves_mean_of_constant_image() {
        let mut s = vec![5.0f32; 16 * 16];
        gaussian_blur_2d(&mut s, 16, 16, 1.5);
        assert!(s.iter().all(|v| (v - 5.0).abs() < 1e-4));
    }
}
