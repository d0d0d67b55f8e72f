//! The local model registry: register, list, choose the default, forget.
//!
//! Reading a model file's header is the caller's job (`hearth-llama` does it; Core names no
//! model runtime). Core validates the name and keeps the registry.

use hearth_types::{LocalModel, NewModel, model_name};

use crate::{Core, Result};

impl Core {
    /// Registers a model. The first model registered becomes the default.
    pub fn register_model(&self, new: &NewModel) -> Result<LocalModel> {
        let new = NewModel { name: model_name(&new.name)?, ..new.clone() };
        Ok(self.store.write(|w| {
            let model = w.register_model(&new)?;
            if w.read().default_model_name()?.is_none() {
                return w.set_default_model(&model.name);
            }
            Ok(model)
        })?)
    }

    pub fn models(&self) -> Result<Vec<LocalModel>> {
        Ok(self.store.read(|r| r.models())?)
    }

    pub fn model(&self, name: &str) -> Result<LocalModel> {
        Ok(self.store.read(|r| r.model(name))?)
    }

    /// The default model, if one is registered.
    pub fn default_model(&self) -> Result<Option<LocalModel>> {
        Ok(self.store.read(|r| match r.default_model_name()? {
            Some(name) => r.model(&name).map(Some),
            None => Ok(None),
        })?)
    }

    pub fn set_default_model(&self, name: &str) -> Result<LocalModel> {
        Ok(self.store.write(|w| w.set_default_model(name))?)
    }

    /// Forgets a model; its file stays on disk.
    pub fn remove_model(&self, name: &str) -> Result<()> {
        Ok(self.store.write(|w| w.remove_model(name))?)
    }
}
