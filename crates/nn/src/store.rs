//! Saving and loading weights as SafeTensors, the format PyTorch, Captum and Flower tooling read
//! directly; the configuration goes beside it as JSON.

use std::path::Path;

use burn::store::{ModuleSnapshot, SafetensorsStore};

use crate::{MultimodalModel, NnError};

/// Writes the model's weights to `path` (SafeTensors).
pub fn save_weights(model: &MultimodalModel, path: &Path) -> Result<(), NnError> {
    // Replaced atomically by burn's store, so a crash never leaves half a file.
    let mut store = SafetensorsStore::from_file(path.to_path_buf()).overwrite(true);
    model.save_into(&mut store).map_err(|e| NnError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Loads weights saved by [`save_weights`] into a model built from the same configuration; every
/// tensor must be present and of the same shape.
pub fn load_weights(mut model: MultimodalModel, path: &Path) -> Result<MultimodalModel, NnError> {
    if !path.is_file() {
        return Err(NnError::Store {
            path: path.to_path_buf(),
            message: "file not found".into(),
        });
    }
    let mut store = SafetensorsStore::from_file(path.to_path_buf());
    let result = model.load_from(&mut store).map_err(|e| NnError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(NnError::Store {
            path: path.to_path_buf(),
            message: format!(
                "weights do not match the model: missing {:?}, errors {:?}",
                result.missing, result.errors
            ),
        });
    }
    Ok(model)
}

/// Weights as SafeTensors bytes (federated updates, checkpoints kept in memory).
pub fn weights_to_bytes(model: &MultimodalModel) -> Result<Vec<u8>, NnError> {
    let mut store = SafetensorsStore::from_bytes(None);
    let err = |e: burn::store::SafetensorsStoreError| NnError::Store {
        path: "<memory>".into(),
        message: e.to_string(),
    };
    model.save_into(&mut store).map_err(err)?;
    store.get_bytes().map_err(err)
}
