//! Radiology report text: a radiologist's noisy reading of the same lesion the image shows.
//!
//! The radiologist sees size, margin, heterogeneity and enhancement with reading error and never
//! sees LDH or the label; phrasing varies so a text model must learn meaning, not one template.

use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::truth::Latent;

/// What the radiologist wrote, before rendering to text (kept for tests and ground truth).
#[derive(Debug, Clone)]
pub struct Reading {
    pub size_cm: f64,
    pub margin: &'static str,
    pub texture: &'static str,
    pub enhancement: &'static str,
    pub impression: &'static str,
    pub suspicion: f64,
}

/// Margin words, from smooth to infiltrative.
pub const MARGINS: [&str; 3] = [
    "well-circumscribed",
    "lobulated",
    "ill-defined, infiltrative",
];
/// Texture words, from homogeneous to necrotic.
pub const TEXTURES: [&str; 3] = [
    "homogeneous",
    "mildly heterogeneous",
    "heterogeneous, with central low attenuation suggesting necrosis,",
];
/// Enhancement words, from weak to avid.
pub const ENHANCEMENTS: [&str; 3] = ["hypoenhancing", "enhancing", "avidly enhancing"];
/// Impression sentences, from most to least suspicious.
pub const IMPRESSIONS: [&str; 3] = [
    "Findings are suspicious for renal cell carcinoma.",
    "Indeterminate solid renal mass; renal cell carcinoma cannot be excluded.",
    "Favour a benign lesion such as oncocytoma or lipid-poor angiomyolipoma; follow-up suggested.",
];

/// 0 below `low`, 1 below `high`, else 2.
fn level(v: f64, low: f64, high: f64) -> usize {
    if v < low {
        0
    } else if v < high {
        1
    } else {
        2
    }
}

/// Whether the radiologist can call central necrosis (the same rule the phantom's texture uses).
pub fn shows_necrosis(l: &Latent) -> bool {
    l.heterogeneity > 0.6
}

impl Reading {
    /// Position of each written category in [`MARGINS`], [`TEXTURES`], [`ENHANCEMENTS`] and
    /// [`IMPRESSIONS`]: what a reader of the text can know beyond the size.
    pub fn levels(&self) -> [usize; 4] {
        let pos = |words: &[&str; 3], w: &str| words.iter().position(|x| *x == w).unwrap_or(0);
        [
            pos(&MARGINS, self.margin),
            pos(&TEXTURES, self.texture),
            pos(&ENHANCEMENTS, self.enhancement),
            pos(&IMPRESSIONS, self.impression),
        ]
    }
}

pub fn read_lesion(l: &Latent, necrosis: bool, rng: &mut impl Rng) -> Reading {
    let n = Normal::new(0.0, 1.0).expect("unit normal");
    let size_cm = ((l.diameter_mm * (1.0 + 0.07 * n.sample(rng))) / 10.0 * 10.0).round() / 10.0;
    let irr = l.irregularity + 0.12 * n.sample(rng);
    let het = l.heterogeneity + 0.12 * n.sample(rng);
    let enh = l.enhancement_hu + 12.0 * n.sample(rng);
    let margin = MARGINS[level(irr, 0.35, 0.68)];
    let texture = TEXTURES[if het < 0.4 {
        0
    } else if het < 0.7 || !necrosis {
        1
    } else {
        2
    }];
    let enhancement = ENHANCEMENTS[level(enh, 45.0, 95.0)];
    let suspicion = 1.1 * ((size_cm * 10.0).ln() - 35f64.ln()) / 0.4
        + 1.0 * (irr - 0.5) / 0.25
        + 0.8 * (het - 0.5) / 0.25
        + 0.9 * (enh - 70.0) / 30.0;
    let impression = IMPRESSIONS[2 - level(suspicion, -1.0, 1.0)];
    Reading {
        size_cm,
        margin,
        texture,
        enhancement,
        impression,
        suspicion,
    }
}

const INCIDENTALS: &[&str] = &[
    "Small simple hepatic cyst.",
    "Mild colonic diverticulosis without diverticulitis.",
    "Cholelithiasis without signs of cholecystitis.",
    "Atherosclerotic calcification of the abdominal aorta.",
    "Degenerative changes of the lumbar spine.",
    "Small hiatal hernia.",
];

const NEGATIVES: &[&str] = &[
    "No renal vein or IVC thrombus.",
    "No retroperitoneal lymphadenopathy.",
    "No free fluid.",
    "No hydronephrosis.",
    "The adrenal glands are unremarkable.",
];

/// Renders the report. The header carries the patient's name and MRN, as hospital reports do;
/// de-identification must remove them before text leaves the site.
#[allow(clippy::too_many_arguments)]
pub fn render(
    reading: &Reading,
    l: &Latent,
    pole: &str,
    patient_name: &str,
    mrn: &str,
    exam_date: &str,
    slice_mm: f64,
    rng: &mut impl Rng,
) -> String {
    let side = if l.right_kidney { "right" } else { "left" };
    let other = if l.right_kidney { "left" } else { "right" };
    let indication = [
        "Incidental renal mass on ultrasound.",
        "Haematuria. Evaluate kidneys.",
        "Flank pain.",
        "Characterisation of renal lesion.",
    ][rng.random_range(0..4)];
    let finding = match rng.random_range(0..3) {
        0 => format!(
            "There is a {} cm {} {} mass arising from the {pole} pole of the {side} kidney, {} after contrast.",
            reading.size_cm, reading.margin, reading.texture, reading.enhancement
        ),
        1 => format!(
            "A {} {} lesion measuring {} cm is seen in the {pole} pole of the {side} kidney. It is {}.",
            reading.margin, reading.texture, reading.size_cm, reading.enhancement
        ),
        _ => format!(
            "{side_cap} kidney, {pole} pole: {} cm solid mass, {}, {}, {}.",
            reading.size_cm,
            reading.margin,
            reading.texture.trim_end_matches(','),
            reading.enhancement,
            side_cap = capitalise(side)
        ),
    };
    let mut extras: Vec<&str> = Vec::new();
    for neg in NEGATIVES {
        if rng.random::<f64>() < 0.5 {
            extras.push(neg);
        }
    }
    let incidental = if rng.random::<f64>() < 0.6 {
        INCIDENTALS[rng.random_range(0..INCIDENTALS.len())]
    } else {
        "No other significant abnormality."
    };
    format!(
        "CT ABDOMEN WITH INTRAVENOUS CONTRAST\n\
         Patient: {patient_name}   MRN: {mrn}   Exam date: {exam_date}\n\n\
         CLINICAL INDICATION: {indication}\n\n\
         TECHNIQUE: Axial images of the abdomen in the portal venous phase, {slice_mm} mm slices.\n\n\
         FINDINGS:\n{finding} {extras} The {other} kidney is unremarkable. {incidental}\n\n\
         IMPRESSION:\n{}\n",
        reading.impression,
        extras = extras.join(" "),
    )
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truth::draw_latent;
    use rand::SeedableRng;

    #[test]
    fn large_irregular_enhancing_lesions_read_as_suspicious() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut l = draw_latent(&mut rng);
        l.diameter_mm = 75.0;
        l.irregularity = 0.95;
        l.heterogeneity = 0.9;
        l.enhancement_hu = 140.0;
        let r = read_lesion(&l, true, &mut rng);
        assert!(r.impression.contains("suspicious"));
        let text = render(
            &r,
            &l,
            "upper",
            "DOE^JANE",
            "MRN1",
            "2025-01-02",
            2.5,
            &mut rng,
        );
        assert!(text.contains("cm"));
        assert!(text.contains("IMPRESSION"));
        l.diameter_mm = 14.0;
        l.irregularity = 0.05;
        l.heterogeneity = 0.05;
        l.enhancement_hu = 20.0;
        let r = read_lesion(&l, false, &mut rng);
        assert!(r.impression.contains("benign"), "{}", r.impression);
    }
}
