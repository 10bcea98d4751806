//! The mappings folder on disk: its step folders (`FROM_to_TO`), their `*.toml` files parsed with
//! spans, and which files each step compiles (a two-way file serves both directions).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml_edit::ImDocument;

use super::{change, Direction, SourceFile};
use crate::mapping::{LoadError, LoadErrors};

/// The parsed files of every step folder, by `(FROM, TO)`.
pub(super) type StepFolders = BTreeMap<(String, String), Vec<SourceFile>>;

/// The folders directly under the mappings folder, sorted; an unreadable mappings folder is the
/// one error.
pub(super) fn list_folders(dir: &Path) -> Result<Vec<PathBuf>, LoadErrors> {
    let mut folders: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(e) => {
            return Err(LoadErrors(vec![LoadError {
                file: dir.display().to_string(),
                line: 0,
                key: "mappings.dir".into(),
                message: format!("cannot read the mappings folder: {e}"),
            }]))
        }
    };
    folders.sort();
    Ok(folders)
}

/// The parsed files of every step folder (`FROM_to_TO`), by `(FROM, TO)`; a badly named folder is an
/// error, a second folder for one pair is ignored.
pub(super) fn read_step_folders(folders: &[PathBuf], errors: &mut Vec<LoadError>) -> StepFolders {
    let mut out = StepFolders::new();
    for folder in folders {
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let Some((from, to)) = name
            .split_once("_to_")
            .filter(|(f, t)| !f.is_empty() && !t.is_empty() && f != t)
        else {
            errors.push(LoadError {
                file: folder.display().to_string(),
                line: 0,
                key: "folder name".into(),
                message: "a step folder is named FROM_to_TO, e.g. 2025-04-21_to_2026-02-09".into(),
            });
            continue;
        };
        let pair = (from.to_owned(), to.to_owned());
        if out.contains_key(&pair) {
            continue;
        }
        if let Some(files) = read_folder(folder, errors) {
            out.insert(pair, files);
        }
    }
    out
}

/// The steps the folders make: each folder's own, and the way back of a folder with two-way files.
pub(super) fn step_pairs(folder_files: &StepFolders) -> BTreeSet<(String, String)> {
    let mut pairs: BTreeSet<(String, String)> = folder_files.keys().cloned().collect();
    for ((from, to), files) in folder_files {
        if files.iter().any(|f| f.two_way) {
            pairs.insert((to.clone(), from.clone()));
        }
    }
    pairs
}

/// Reads and parses every `*.toml` file of one step folder; each unreadable or invalid file is an
/// error naming it. A file that holds `[[change]]` units (or says `two_way = true`) is two-way.
fn read_folder(dir: &Path, errors: &mut Vec<LoadError>) -> Option<Vec<SourceFile>> {
    let mut files = Vec::new();
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) => {
            errors.push(LoadError {
                file: dir.display().to_string(),
                line: 0,
                key: "-".into(),
                message: format!("cannot read folder: {e}"),
            });
            return None;
        }
    };
    entries.sort();
    for path in entries
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let name: Arc<str> = path.display().to_string().into();
        let relative: Arc<str> = format!(
            "{}/{}",
            dir.file_name().unwrap_or_default().to_string_lossy(),
            path.file_name().unwrap_or_default().to_string_lossy()
        )
        .into();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(LoadError {
                    file: name.to_string(),
                    line: 0,
                    key: "-".into(),
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        match ImDocument::parse(text.clone()) {
            Ok(doc) => {
                let two_way = change::is_two_way(&doc);
                files.push(SourceFile {
                    name,
                    relative,
                    text,
                    doc,
                    two_way,
                })
            }
            Err(e) => {
                let line = e.span().map_or(0, |s| {
                    text[..s.start.min(text.len())].matches('\n').count() + 1
                });
                errors.push(LoadError {
                    file: name.to_string(),
                    line,
                    key: "-".into(),
                    message: format!("not valid TOML: {}", e.message()),
                });
            }
        }
    }
    Some(files)
}

/// The files step `from` → `to` compiles, each with the way it runs: the files of its own folder,
/// then the two-way files of the opposite folder, inverted.
pub(super) fn step_sources<'f>(
    folder_files: &'f StepFolders,
    from: &str,
    to: &str,
) -> Vec<(&'f SourceFile, Direction)> {
    let mut sources: Vec<(&SourceFile, Direction)> = Vec::new();
    if let Some(files) = folder_files.get(&(from.to_owned(), to.to_owned())) {
        sources.extend(files.iter().map(|f| {
            let direction = if f.two_way {
                Direction::Up
            } else {
                Direction::OneWay
            };
            (f, direction)
        }));
    }
    if let Some(files) = folder_files.get(&(to.to_owned(), from.to_owned())) {
        sources.extend(
            files
                .iter()
                .filter(|f| f.two_way)
                .map(|f| (f, Direction::Down)),
        );
    }
    sources
}
