//! A model folder: `model.json` (architecture, preprocessing, calibration, training summary)
//! and `weights.safetensors`. Everything `oncolens predict` needs, nothing about patients.

use std::path::{Path, PathBuf};

use oncolens_nn::store::{load_weights, save_weights};
use oncolens_nn::{Device, ModelConfig, MultimodalModel};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::prep::Preprocessor;
use crate::trainer::{EpochLog, TrainedModel};

pub const MODEL_JSON: &str = "model.json";
pub const WEIGHTS: &str = "weights.safetensors";

/// The JSON half of a model folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedModel {
    /// Format version of this file.
    pub format: u32,
    pub config: ModelConfig,
    pub preprocessor: Preprocessor,
    pub temperature: f64,
    pub threshold: f64,
    pub best_epoch: usize,
    pub best_val_auc: Option<f64>,
    pub history: Vec<EpochLog>,
    /// Free-form provenance: cohort path, split, oncolens version.
    pub provenance: serde_json::Value,
}

fn file_err(path: &Path) -> impl FnOnce(String) -> TrainError + '_ {
    move |message| TrainError::File {
        path: path.to_path_buf(),
        message,
    }
}

/// Writes `dir/model.json` and `dir/weights.safetensors`.
pub fn save_model(
    dir: &Path,
    model: &TrainedModel,
    provenance: serde_json::Value,
) -> Result<PathBuf, TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| file_err(dir)(e.to_string()))?;
    let saved = SavedModel {
        format: 1,
        config: model.config.clone(),
        preprocessor: model.preprocessor.clone(),
        temperature: model.temperature,
        threshold: model.threshold,
        best_epoch: model.best_epoch,
        best_val_auc: model.best_val_auc,
        history: model.history.clone(),
        provenance,
    };
    let json_path = dir.join(MODEL_JSON);
    let json =
        serde_json::to_vec_pretty(&saved).map_err(|e| file_err(&json_path)(e.to_string()))?;
    oncolens_core::fs::write_atomic(&json_path, &json)
        .map_err(|e| file_err(&json_path)(e.to_string()))?;
    save_weights(&model.model, &dir.join(WEIGHTS))?;
    Ok(dir.to_path_buf())
}

/// Reads a model folder written by [`save_model`].
pub fn load_model(dir: &Path, device: &Device) -> Result<TrainedModel, TrainError> {
    let json_path = dir.join(MODEL_JSON);
    let text = std::fs::read(&json_path).map_err(|e| file_err(&json_path)(e.to_string()))?;
    let saved: SavedModel =
        serde_json::from_slice(&text).map_err(|e| file_err(&json_path)(e.to_string()))?;
    if saved.format != 1 {
        return Err(file_err(&json_path)(format!(
            "model format {} is not supported (expected 1)",
            saved.format
        )));
    }
    let mut preprocessor = saved.preprocessor;
    if let Some(t) = preprocessor.tokenizer.take() {
        preprocessor.tokenizer = Some(oncolens_nn::Tokenizer::from_vocab(t.vocab, t.max_len));
    }
    let model = MultimodalModel::new(&saved.config, device)?;
    let model = load_weights(model, &dir.join(WEIGHTS))?;
    Ok(TrainedModel {
        model,
        config: saved.config,
        preprocessor,
        temperature: saved.temperature,
        threshold: saved.threshold,
        history: saved.history,
        best_epoch: saved.best_epoch,
        best_val_auc: saved.best_val_auc,
    })
}
