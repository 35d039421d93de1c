//! Intensity windows: CT numbers to the unit range a network sees.

use serde::{Deserialize, Serialize};

/// A Hounsfield window; values below `low_hu` map to 0 and above `high_hu` to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HuWindow {
    pub low_hu: f32,
    pub high_hu: f32,
}

impl HuWindow {
    /// Soft-tissue abdominal window (level 50, width 500): renal masses, enhancement, necrosis.
    pub const ABDOMEN: Self = Self {
        low_hu: -200.0,
        high_hu: 300.0,
    };
}

/// Maps values into [0, 1] through the window, in place.
pub fn window_to_unit(values: &mut [f32], window: HuWindow) {
    let width = (window.high_hu - window.low_hu).max(f32::EPSILON);
    for v in values {
        *v = ((*v - window.low_hu) / width).clamp(0.0, 1.0);
    }
}
