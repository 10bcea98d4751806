//! The shipped mapping files, read once for the harnesses that mutate them: the fuzz harness
//! (`examples/fuzz.rs`) and the property tests (`tests/integration/properties.rs`).

use std::path::{Path, PathBuf};

/// Every `*.toml` file of every step folder under `root`, as (path relative to `root`, text), sorted.
pub fn read(root: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for step in std::fs::read_dir(root).unwrap().filter_map(Result::ok) {
        if !step.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(step.path())
            .unwrap()
            .filter_map(Result::ok)
        {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "toml") {
                let relative = path.strip_prefix(root).unwrap().to_path_buf();
                files.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}
