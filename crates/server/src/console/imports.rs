//! IT Glue imports started from the console run in the background; the page shows their progress
//! (collection by collection, through `ImportProgress`) and polls until they end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::itglue::ImportProgress;

/// Where the latest import of one instance stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportState {
    /// Still reading.
    pub running: bool,
    /// Whether it ended well (meaningless while running).
    pub ok: bool,
    /// What it is doing or what it did.
    pub text: String,
}

/// The imports of this process, by instance.
#[derive(Debug, Default)]
pub struct Imports {
    states: Mutex<HashMap<String, ImportState>>,
}

impl Imports {
    /// Marks an import of `instance` started; false when one is already running.
    pub fn start(&self, instance: &str) -> bool {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if states.get(instance).is_some_and(|state| state.running) {
            return false;
        }
        states.insert(
            instance.to_string(),
            ImportState {
                running: true,
                ok: true,
                text: "Import started…".into(),
            },
        );
        true
    }

    /// Records how the import of `instance` ended.
    pub fn finish(&self, instance: &str, ok: bool, text: String) {
        self.set(
            instance,
            ImportState {
                running: false,
                ok,
                text,
            },
        );
    }

    fn set(&self, instance: &str, state: ImportState) {
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(instance.to_string(), state);
    }

    /// The latest import of `instance`, if any.
    pub fn get(&self, instance: &str) -> Option<ImportState> {
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(instance)
            .cloned()
    }
}

/// Writes an import's progress into [`Imports`].
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Where to write.
    pub imports: Arc<Imports>,
    /// The instance being imported.
    pub instance: String,
    done: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    /// A recorder for `instance`.
    pub fn new(imports: Arc<Imports>, instance: &str) -> Recorder {
        Recorder {
            imports,
            instance: instance.to_string(),
            done: Arc::default(),
        }
    }

    fn show(&self, current: Option<&str>) {
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        let mut text = String::from("Importing: ");
        if !done.is_empty() {
            text.push_str(&done.join(", "));
        }
        if let Some(current) = current {
            if !done.is_empty() {
                text.push_str("; ");
            }
            text.push_str(&format!("reading {current}…"));
        }
        self.imports.set(
            &self.instance,
            ImportState {
                running: true,
                ok: true,
                text,
            },
        );
    }
}

impl ImportProgress for Recorder {
    fn started(&self, _instance: &str, collection: &str) {
        self.show(Some(collection));
    }

    fn finished(&self, _instance: &str, collection: &str, count: usize) {
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{count} {collection}"));
        self.show(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_import_per_instance_at_a_time_with_its_progress() {
        let imports = Arc::new(Imports::default());
        assert!(imports.start("main"));
        assert!(
            !imports.start("main"),
            "a second import waits for the first"
        );
        assert!(imports.start("eu"));
        let recorder = Recorder::new(imports.clone(), "main");
        recorder.started("main", "organizations");
        assert_eq!(
            imports.get("main").unwrap().text,
            "Importing: reading organizations…"
        );
        recorder.finished("main", "organizations", 7);
        recorder.started("main", "configurations");
        assert_eq!(
            imports.get("main").unwrap().text,
            "Importing: 7 organizations; reading configurations…"
        );
        imports.finish("main", true, "Imported.".into());
        assert!(!imports.get("main").unwrap().running);
        assert!(imports.start("main"));
    }
}
