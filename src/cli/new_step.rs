//! `hookshift new-step FROM TO`: starts the next version step of a mapping set. It writes what can
//! be known before the step is written, and nothing that would pass for a mapping: the step folder
//! with one change skeleton (commented out) per event family of FROM, the version order entry, the
//! golden inputs (the previous step's outputs), the identity entries of TO (FROM's, to review) and a
//! README of what is left. `hookshift check` then lists exactly what is missing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use super::CliError;
use crate::mapping::{Mappings, VERSION_ORDER_FILE};

/// Options of `new-step`.
#[derive(Debug, Args)]
pub struct NewStepArgs {
    /// The newest (or oldest) version the mappings know: the step starts there.
    pub from: String,
    /// The new version.
    pub to: String,
    /// Mappings directory.
    #[arg(long, default_value = "mappings")]
    pub mappings: PathBuf,
}

fn refuse(message: impl Into<String>) -> CliError {
    CliError::NewStep(message.into())
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|source| CliError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Writes the new step; returns what it wrote, for the terminal.
pub fn new_step_command(args: &NewStepArgs) -> Result<String, CliError> {
    let dir = &args.mappings;
    let mappings = Mappings::load(dir)?;
    let (from, to) = (args.from.as_str(), args.to.as_str());
    if to.is_empty() || to.contains("_to_") || to.contains('/') || to == from {
        return Err(refuse(format!(
            "{to:?} is not a new version name (non-empty, no `_to_` or `/`, not {from:?})"
        )));
    }
    let order_text = new_order(dir, from, to)?;
    let folder = dir.join(format!("{from}_to_{to}"));
    for existing in [&folder, &dir.join(format!("{to}_to_{from}"))] {
        if existing.exists() {
            return Err(refuse(format!("{} exists already", existing.display())));
        }
    }
    let families = families(&mappings, from);
    if families.is_empty() {
        return Err(refuse(format!(
            "no event type of {from} is known (no step or identity names one)"
        )));
    }
    let golden = folder.join("golden");
    std::fs::create_dir_all(&golden).map_err(|source| CliError::Write {
        path: golden.display().to_string(),
        source,
    })?;
    for (family, types) in &families {
        write(
            &folder.join(format!("{family}.toml")),
            &skeleton(from, to, family, types),
        )?;
    }
    let mut copied = Vec::new();
    for case in mappings.golden_cases().into_iter().filter(|c| c.to == from) {
        let target = golden.join(format!("{}.input.json", case.name));
        if std::fs::copy(&case.output, &target).is_ok() {
            copied.push(case.name);
        }
    }
    write(&dir.join(VERSION_ORDER_FILE), &order_text)?;
    catalogue_entry(&mappings, dir, from, to)?;
    let identities = identity_entries(&mappings, dir, from, to)?;
    let schemas_hint = "the schemas of the new version (the `schemas` folder of the configuration)";
    write(
        &folder.join("README.md"),
        &readme(from, to, &families, &copied, identities, schemas_hint),
    )?;
    Ok(format!(
        "wrote {}: {} change skeleton(s), {} golden input(s), {VERSION_ORDER_FILE}{}; \
         `hookshift check` lists what is left (and {}/README.md)",
        folder.display(),
        families.len(),
        copied.len(),
        if identities > 0 {
            format!(", {identities} identity entr(ies)")
        } else {
            String::new()
        },
        folder.display(),
    ))
}

/// `versions.toml` with `to` added beside `from`, which must be the newest or the oldest version.
fn new_order(dir: &Path, from: &str, to: &str) -> Result<String, CliError> {
    let path = dir.join(VERSION_ORDER_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| CliError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| refuse(format!("{}: not valid TOML: {e}", path.display())))?;
    let order = doc
        .get_mut("order")
        .and_then(|o| o.as_array_mut())
        .ok_or_else(|| refuse(format!("{}: no `order` list", path.display())))?;
    let names: Vec<&str> = order.iter().filter_map(|v| v.as_str()).collect();
    if names.contains(&to) {
        return Err(refuse(format!("{to} is already in {VERSION_ORDER_FILE}")));
    }
    match names.iter().position(|v| *v == from) {
        Some(i) if i + 1 == names.len() => order.push(to),
        Some(0) => order.insert(0, to),
        Some(_) => {
            return Err(refuse(format!(
                "{from} is between two versions of {VERSION_ORDER_FILE}: a new version goes after the newest or before the oldest"
            )))
        }
        None => return Err(refuse(format!("{from} is not in {VERSION_ORDER_FILE}"))),
    }
    Ok(doc.to_string())
}

/// The event types of `from`, by family (the part before the first dot: `extract_run`, `workflow`).
fn families(mappings: &Mappings, from: &str) -> BTreeMap<String, Vec<String>> {
    let mut families: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event_type in mappings.event_types_of(from) {
        let family = event_type.split('.').next().unwrap_or(&event_type).replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-',
            "_",
        );
        families.entry(family).or_default().push(event_type);
    }
    families
}

/// One family's file: the change to write, commented out so the step loads and `check` lists the
/// family's event types as taken by no change until it is written.
fn skeleton(from: &str, to: &str, family: &str, types: &[String]) -> String {
    let mut out = format!(
        "# {family} events of {from} -> {to}, written once for both directions (docs/writing-a-step.md).\n\
         # Describe what changed and why, list the event types (`old = new` for a rename), write the ops;\n\
         # an op that cannot be inverted says which way it runs (`only = \"up\"` / `only = \"down\"`).\n\
         # An event type without counterpart in {to}: a change with `direction = \"up\"`,\n\
         # `counterpart = false` and its `reason`.\n#\n"
    );
    out.push_str("# [[change]]\n# description = \"\"\n# events = [");
    let listed: Vec<String> = types.iter().map(|t| format!("{t:?}")).collect();
    out.push_str(&listed.join(", "));
    out.push_str("]\n# ops = [\n# ]\n");
    out
}

/// Lists TO's event types in `catalogue.toml` as FROM's (created when missing): a step starts from
/// the event types its source version has; the entry is edited as changes rename, add and remove them.
fn catalogue_entry(mappings: &Mappings, dir: &Path, from: &str, to: &str) -> Result<(), CliError> {
    use crate::mapping::catalogue::CATALOGUE_FILE;
    let path = dir.join(CATALOGUE_FILE);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let listed: Vec<String> = mappings
        .event_types_of(from)
        .iter()
        .map(|t| format!("{t:?}"))
        .collect();
    let entry = format!(
        "# {to}: copied from {from} by `hookshift new-step`; rename, add and remove as the step does.\n{to:?} = [{}]\n",
        listed.join(", ")
    );
    // The entry goes right below the table's header, so it stays in the table whatever follows it.
    let text = match text.find("[event_types]\n") {
        Some(at) => {
            let below = at + "[event_types]\n".len();
            format!("{}{entry}{}", &text[..below], &text[below..])
        }
        None => format!("{text}\n[event_types]\n{entry}"),
    };
    write(&path, &text)
}

/// Appends `[identity."TO"]` to `identity.toml`, FROM's entries copied (to review: a renamed event
/// type keeps its old name until the entry is edited); returns how many entries it wrote.
fn identity_entries(
    mappings: &Mappings,
    dir: &Path,
    from: &str,
    to: &str,
) -> Result<usize, CliError> {
    let path = dir.join(crate::mapping::identity::IDENTITY_FILE);
    let Ok(mut text) = std::fs::read_to_string(&path) else {
        return Ok(0);
    };
    let identities = mappings.identities();
    let types = identities.event_types(from);
    if types.is_empty() {
        return Ok(0);
    }
    let _ = write!(
        text,
        "\n# {to}: copied from {from} by `hookshift new-step`; rename the event types the step renames.\n[identity.{to:?}]\n"
    );
    for event_type in &types {
        let fields: Vec<String> = identities
            .fields(from, event_type)
            .unwrap_or_default()
            .iter()
            .map(|f| format!("{:?}", f.as_str()))
            .collect();
        let _ = writeln!(text, "{event_type:?} = [{}]", fields.join(", "));
    }
    write(&path, &text)?;
    Ok(types.len())
}

fn readme(
    from: &str,
    to: &str,
    families: &BTreeMap<String, Vec<String>>,
    copied: &[String],
    identities: usize,
    schemas: &str,
) -> String {
    let mut out = format!(
        "# {from} → {to}\n\nStarted with `hookshift new-step {from} {to}`. Left to write, each listed by `hookshift check`\nuntil it is done:\n\n"
    );
    out.push_str(
        "- the changes, one file per event family (each file holds a commented skeleton):\n",
    );
    for (family, types) in families {
        let _ = writeln!(out, "  - `{family}.toml`: {}", types.join(", "));
    }
    let _ = writeln!(
        out,
        "- the expected outputs of the {} golden case(s) in `golden/` (their inputs are the previous step's outputs): `NAME.output.json` beside each `NAME.input.json`;",
        copied.len()
    );
    let _ = writeln!(
        out,
        "- golden cases of the way back, in `../{to}_to_{from}/golden/` (a {to} event and the {from} event it becomes);"
    );
    let _ = writeln!(
        out,
        "- the event types of {to} in `catalogue.toml` (copied from {from}): rename, add and remove as the changes do;"
    );
    if identities > 0 {
        let _ = writeln!(
            out,
            "- the {identities} identity entries of {to} in `identity.toml` (copied from {from}): rename the event types the step renames;"
        );
    }
    let _ = writeln!(out, "- {schemas}, so every golden event is validated;");
    out.push_str("- this README: what the step changes and why, for its users.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_file(dir: &Path, path: &str, text: &str) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A set with one step `a -> b` (two-way), a golden case, identities of both versions.
    fn a_to_b() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_file(d, "versions.toml", "order = [\"a\", \"b\"]\n");
        write_file(
            d,
            "a_to_b/jobs.toml",
            "[[change]]\ndescription = \"jobs are tasks\"\nevents = { \"job.done\" = \"task.done\" }\nops = [{ rename = \"n\", to = \"count\" }]\n",
        );
        write_file(
            d,
            "a_to_b/golden/done.input.json",
            r#"{"eventId":"e1","eventType":"job.done","payload":{"id":"j1","n":1}}"#,
        );
        write_file(
            d,
            "a_to_b/golden/done.output.json",
            r#"{"eventId":"e1","eventType":"task.done","payload":{"id":"j1","count":1}}"#,
        );
        write_file(
            d,
            "b_to_a/golden/done.input.json",
            r#"{"eventId":"e1","eventType":"task.done","payload":{"id":"j1","count":1}}"#,
        );
        write_file(
            d,
            "b_to_a/golden/done.output.json",
            r#"{"eventId":"e1","eventType":"job.done","payload":{"id":"j1","n":1}}"#,
        );
        write_file(
            d,
            "identity.toml",
            "[identity.a]\n\"job.done\" = [\"payload.id\"]\n[identity.b]\n\"task.done\" = [\"payload.id\"]\n",
        );
        dir
    }

    #[test]
    fn a_new_step_loads_and_check_lists_exactly_what_is_left() {
        let dir = a_to_b();
        Mappings::load(dir.path()).unwrap();
        let args = NewStepArgs {
            from: "b".into(),
            to: "c".into(),
            mappings: dir.path().to_owned(),
        };
        let said = new_step_command(&args).unwrap();
        assert!(
            said.contains("1 change skeleton(s), 1 golden input(s)"),
            "{said}"
        );
        let order = std::fs::read_to_string(dir.path().join("versions.toml")).unwrap();
        assert!(order.contains(r#"order = ["a", "b", "c"]"#), "{order}");
        let folder = dir.path().join("b_to_c");
        let skeleton = std::fs::read_to_string(folder.join("task.toml")).unwrap();
        assert!(
            skeleton.contains("# events = [\"task.done\"]"),
            "{skeleton}"
        );
        assert_eq!(
            std::fs::read_to_string(folder.join("golden/done.input.json")).unwrap(),
            std::fs::read_to_string(dir.path().join("a_to_b/golden/done.output.json")).unwrap()
        );
        let readme = std::fs::read_to_string(folder.join("README.md")).unwrap();
        assert!(readme.contains("`task.toml`: task.done"), "{readme}");
        let catalogue = std::fs::read_to_string(dir.path().join("catalogue.toml")).unwrap();
        assert!(catalogue.contains("\"c\" = [\"task.done\"]"), "{catalogue}");

        // The result loads; what is missing is listed, and nothing else.
        let m = Mappings::load(dir.path()).unwrap();
        assert_eq!(
            m.check_coverage(),
            vec!["b_to_c: event type \"task.done\" of b is taken by no change: write one, or a one-way change with `counterpart = false` and the reason it has none".to_owned()]
        );
        let golden = m.check_golden();
        assert_eq!(golden.len(), 1, "{golden:?}");
        assert!(golden[0].starts_with("golden b_to_c/done: no expected output yet"));
        assert!(m.identities().fields("c", "task.done").is_some());

        // Starting it twice, or from a version in the middle, is refused.
        assert!(new_step_command(&args).is_err());
        let middle = NewStepArgs {
            from: "b".into(),
            to: "d".into(),
            mappings: dir.path().to_owned(),
        };
        let refused = new_step_command(&middle).unwrap_err().to_string();
        assert!(refused.contains("between two versions"), "{refused}");
    }
}
