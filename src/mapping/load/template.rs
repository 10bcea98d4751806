//! Transforms written once for several instances: `for = { kind = ["extractor", "classifier"] }`
//! in a transform table makes one transform per position of the lists, each named by its own name
//! with `{kind}` replaced (`[transforms."{kind}_summary"]` gives `extractor_summary` and
//! `classifier_summary`), its ops with every `{kind}` in their strings replaced. Several parameters
//! give lists of one length, read side by side; the name holds at least one of them (two instances
//! of one name are a transform defined twice). Each instance is then compiled like a transform
//! written out, so its errors name the template's file, line and key.

use toml_edit::{Item, Value};

/// One transform as compiled: its name and table (a template's instance, or the table as written).
pub(super) struct Instance {
    pub(super) name: String,
    pub(super) item: Item,
}

/// The transforms a `[transforms.NAME]` entry makes: itself, or the instances of a template.
pub(super) fn instances(name: &str, item: &Item) -> Result<Vec<Instance>, String> {
    let Some(params) = item.get("for") else {
        return Ok(vec![Instance {
            name: name.to_owned(),
            item: item.clone(),
        }]);
    };
    let params = parameters(params)?;
    if !params
        .iter()
        .any(|(p, _)| name.contains(&format!("{{{p}}}")))
    {
        return Err(format!(
            "a transform written for several instances names each one: put a parameter in its name (e.g. \"{{{}}}_{name}\")",
            params[0].0
        ));
    }
    let count = params[0].1.len();
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let bind: Vec<(String, &str)> = params
            .iter()
            .map(|(p, values)| (format!("{{{p}}}"), values[i].as_str()))
            .collect();
        let mut body = item.clone();
        if let Some(table) = body.as_table_like_mut() {
            table.remove("for");
            if let Some(ops) = table.get_mut("ops").and_then(Item::as_value_mut) {
                substitute(ops, &bind);
            }
        }
        out.push(Instance {
            name: replace(name, &bind),
            item: body,
        });
    }
    Ok(out)
}

/// The parameters of `for`: each a name and a list of strings, every list as long as the first.
fn parameters(item: &Item) -> Result<Vec<(String, Vec<String>)>, String> {
    const FORM: &str =
        "`for` is a table of parameter = [values], e.g. { kind = [\"extractor\", \"classifier\"] }";
    let table = item.as_table_like().ok_or(FORM)?;
    let mut params = Vec::new();
    for (param, values) in table.iter() {
        let values: Option<Vec<String>> = values
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect());
        match values {
            Some(values) if !values.is_empty() => params.push((param.to_owned(), values)),
            _ => return Err(format!("`for.{param}` must be a non-empty list of strings")),
        }
    }
    let Some(count) = params.first().map(|(_, v)| v.len()) else {
        return Err(FORM.to_owned());
    };
    if let Some((param, values)) = params.iter().find(|(_, v)| v.len() != count) {
        return Err(format!(
            "`for.{param}` has {} values and `for.{}` {count}: the lists are read side by side",
            values.len(),
            params[0].0
        ));
    }
    Ok(params)
}

fn replace(text: &str, bind: &[(String, &str)]) -> String {
    bind.iter().fold(text.to_owned(), |text, (from, to)| {
        text.replace(from.as_str(), to)
    })
}

/// Replaces the parameters in every string of `value` (keys are left as written).
fn substitute(value: &mut Value, bind: &[(String, &str)]) {
    match value {
        Value::String(s) => {
            let replaced = replace(s.value(), bind);
            if replaced != *s.value() {
                let decor = s.decor().clone();
                let mut new = toml_edit::Formatted::new(replaced);
                *new.decor_mut() = decor;
                *s = new;
            }
        }
        Value::Array(array) => array.iter_mut().for_each(|v| substitute(v, bind)),
        Value::InlineTable(table) => table.iter_mut().for_each(|(_, v)| substitute(v, bind)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transform(text: &str) -> Item {
        let doc: toml_edit::ImDocument<String> = text.parse().unwrap();
        let table = doc.as_table()["transforms"].as_table().unwrap();
        let (_, item) = table.iter().next().unwrap();
        item.clone()
    }

    #[test]
    fn a_template_makes_one_transform_per_position_with_its_values_in_names_and_ops() {
        let item = transform(
            r#"
[transforms."{run}_summary"]
for = { run = ["extract", "classify"], kind = ["extractor", "classifier"] }
ops = [{ rename = "processorId", to = "{kind}.id", note = "a {run} run's {kind}" }, { apply = "config", transform = "{run}_config" }]
"#,
        );
        let made = instances("{run}_summary", &item).unwrap();
        let names: Vec<&str> = made.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["extract_summary", "classify_summary"]);
        let ops = made[1].item["ops"].as_array().unwrap();
        let first = ops.get(0).unwrap().as_inline_table().unwrap();
        assert_eq!(first["to"].as_str(), Some("classifier.id"));
        assert_eq!(first["note"].as_str(), Some("a classify run's classifier"));
        let second = ops.get(1).unwrap().as_inline_table().unwrap();
        assert_eq!(second["transform"].as_str(), Some("classify_config"));
        assert!(made[0].item.get("for").is_none());
    }

    #[test]
    fn a_transform_without_for_is_itself() {
        let item = transform("[transforms.t]\nops = [{ rename = \"{a}\", to = \"b\" }]\n");
        let made = instances("t", &item).unwrap();
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].name, "t");
        let ops = made[0].item["ops"].as_array().unwrap();
        let op = ops.get(0).unwrap().as_inline_table().unwrap();
        assert_eq!(
            op["rename"].as_str(),
            Some("{a}"),
            "no parameters, nothing replaced"
        );
    }

    #[test]
    fn malformed_parameters_are_errors_that_say_the_form() {
        let cases = [
            (
                "\"{k}_t\"",
                "for = { k = [] }",
                "`for.k` must be a non-empty list of strings",
            ),
            (
                "\"{k}_t\"",
                "for = { k = [\"a\"], j = [\"b\", \"c\"] }",
                "read side by side",
            ),
            (
                "t",
                "for = { k = [\"a\", \"b\"] }",
                "put a parameter in its name",
            ),
            ("\"{k}_t\"", "for = \"k\"", "`for` is a table"),
        ];
        for (name, params, expected) in cases {
            let item = transform(&format!("[transforms.{name}]\n{params}\nops = []\n"));
            let key = name.trim_matches('"');
            let err = instances(key, &item).err().unwrap_or_default();
            assert!(err.contains(expected), "{params}: {err}");
        }
    }
}
