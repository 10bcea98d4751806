//! `hookshift check`: every problem of a configuration, its mappings and golden cases, with lines.

use std::path::{Path, PathBuf};

use clap::Args;

use super::CliError;
use crate::config::Config;
use crate::mapping::Mappings;
use crate::state;

/// Options of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration file.
    #[arg(long, default_value = "config.toml")]
    pub config: PathBuf,
}

/// `hookshift check`: prints every problem to standard error and a summary to standard output.
pub fn check(args: &CheckArgs) -> Result<(), CliError> {
    let report = state::check(&args.config);
    for old in &report.warnings {
        eprintln!("warning: {old}");
    }
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    if !report.problems.is_empty() {
        return Err(CliError::CheckFailed(report.problems.len()));
    }
    println!("{}", check_summary(&args.config, &report));
    Ok(())
}

/// What a passing `check` checked: routes and their policies, mapping steps and rules, golden cases.
fn check_summary(path: &Path, report: &state::CheckReport) -> String {
    let mut lines = vec![format!("ok: {}", path.display())];
    if let Ok(config) = Config::parse(path, std::env::vars()) {
        lines.push(format!("  {} route(s):", config.routes.len()));
        for route in &config.routes {
            let policies: Vec<String> = route
                .policy
                .iter()
                .map(|(version, policy)| format!("{version} {}", policy.as_str()))
                .collect();
            lines.push(format!(
                "    {} {} ({}): {}; handler speaks {}",
                route.name,
                route.path,
                route.provider.as_str(),
                policies.join(", "),
                route.downstream.version
            ));
        }
        // The global mapping set, then each route's own (a route of another provider names one).
        for dir in config.mappings_dirs() {
            let Ok(mappings) = Mappings::load(&dir) else {
                continue;
            };
            let steps = mappings.step_rule_counts();
            let rules: usize = steps.iter().map(|(_, _, rules)| rules).sum();
            lines.push(format!(
                "  {} mapping step(s), {rules} rule(s) in {}:",
                steps.len(),
                dir.display()
            ));
            for (from, to, rules) in steps {
                lines.push(format!("    {from}_to_{to}: {rules} rule(s)"));
            }
            let golden = mappings.golden_cases().len();
            lines.push(format!(
                "  {golden} golden case(s) translated as expected, and back where both steps exist"
            ));
        }
    }
    lines.push(match &report.schemas_dir {
        Some(dir) => format!("  golden events valid against the schemas in {dir}"),
        None => "  no schemas folder: golden events not validated against schemas".to_owned(),
    });
    lines.join("\n")
}
