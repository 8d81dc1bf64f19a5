//! Replays the fuzz corpora through the fuzzing entry points: the seeds in fuzz/corpus/NAME/
//! and the minimized inputs that once broke a decoder, kept in fuzz/crashes/NAME/. A decoder
//! that panics on any of them fails the test, so a fixed crash stays fixed without AFL++.

use balerc_codec::fuzzing::TARGETS;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    paths
}

/// Runs every file in `dir`'s target folders through their target; returns how many ran, and
/// the files that made one panic.
fn replay(dir: &Path) -> (usize, Vec<PathBuf>) {
    let (mut replayed, mut panicked) = (0, vec![]);
    for folder in sorted_entries(dir) {
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        let Some((_, target)) = TARGETS.iter().find(|(target, _)| *target == name) else {
            panic!("{} has no fuzzing function named '{name}'", folder.display());
        };
        for input in sorted_entries(&folder) {
            let bytes = std::fs::read(&input).unwrap();
            if std::panic::catch_unwind(|| target(&bytes)).is_err() {
                panicked.push(input);
            }
            replayed += 1;
        }
    }
    (replayed, panicked)
}

#[test]
fn every_corpus_input_is_decoded_or_refused_without_a_panic() {
    let (corpus, mut panicked) = replay(&fuzz_dir().join("corpus"));
    let crashes = fuzz_dir().join("crashes");
    let (crashes, more) = if crashes.is_dir() { replay(&crashes) } else { (0, vec![]) };
    panicked.extend(more);
    println!("replayed {corpus} corpus inputs and {crashes} minimized crashes");
    assert!(corpus > 0, "the corpora are empty");
    assert!(panicked.is_empty(), "a decoder panicked on {panicked:#?}");
}

#[test]
fn every_target_has_a_corpus() {
    for (name, _) in TARGETS {
        let folder = fuzz_dir().join("corpus").join(name);
        assert!(folder.is_dir() && !sorted_entries(&folder).is_empty(), "{} has no seeds", folder.display());
    }
}
