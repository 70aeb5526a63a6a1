//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets' bodies on
//! the stable toolchain, so every input a fuzzer once found interesting keeps passing, and checks
//! the inputs that once crashed a target (`fuzz/regressions/<target>/`).

use std::path::{Path, PathBuf};

use mspbridge_server::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_corpus_input_passes_its_target() {
    let targets_dir = fuzz_dir().join("fuzz_targets");
    for (name, body) in TARGETS {
        assert!(
            targets_dir.join(format!("{name}.rs")).is_file(),
            "no fuzz target file for {name}"
        );
        let corpus = inputs(&fuzz_dir().join("corpus").join(name));
        assert!(!corpus.is_empty(), "{name} has no corpus");
        for (kind, dir) in [("corpus", "corpus"), ("regression", "regressions")] {
            for path in inputs(&fuzz_dir().join(dir).join(name)) {
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| body(&data));
                assert!(
                    outcome.is_ok(),
                    "{name}: {kind} input {} fails",
                    path.display()
                );
            }
        }
    }
}
