//! The settings file (`--config FILE`): TOML keyed by the flag names. Its
//! values become the flags' defaults, so flags and environment variables win
//! over it, and a setting needs no second declaration to be read from it.

use std::path::Path;

use clap::{ArgAction, Command};

use super::ConfigError;

/// `command` with the file's values as its defaults. An unknown key, a value
/// of the wrong shape, or one its flag would refuse names the file and key.
pub(super) fn layered(mut command: Command, path: &Path) -> Result<Command, ConfigError> {
    let refused = |why: String| ConfigError::new("config", format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("config", format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| refused(e.message().into()))?;
    for (key, value) in table {
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && a.get_id() != "config")
            .ok_or_else(|| refused(format!("unknown setting `{key}`")))?;
        let many = matches!(arg.get_action(), ArgAction::Append);
        let values = texts(&value, many)
            .ok_or_else(|| refused(format!("`{key}` must be {}", shape(many))))?;
        let secret = arg.is_hide_env_values_set();
        let id = arg.get_id().clone();
        // A secret's value must not show up as a default in `--help`.
        command = command.mut_arg(id, |a| a.default_values(values).hide_default_value(secret));
    }
    check_alone(&command).map_err(refused)?;
    Ok(command)
}

/// A value as the text its flag would be given: scalars, or an array of them
/// for a flag that takes several.
fn texts(value: &toml::Value, many: bool) -> Option<Vec<String>> {
    match value {
        toml::Value::String(s) => Some(vec![s.clone()]),
        toml::Value::Integer(n) => Some(vec![n.to_string()]),
        toml::Value::Float(f) => Some(vec![f.to_string()]),
        toml::Value::Boolean(b) => Some(vec![b.to_string()]),
        toml::Value::Array(items) if many => items
            .iter()
            .map(|item| texts(item, false).and_then(|v| v.into_iter().next()))
            .collect(),
        _ => None,
    }
}

fn shape(many: bool) -> &'static str {
    if many {
        "a string, number, boolean or an array of them"
    } else {
        "a string, number or boolean"
    }
}

/// The file's values parsed alone (no flags, no environment), so a value the
/// flag refuses is blamed on the file rather than on the command line.
fn check_alone(command: &Command) -> Result<(), String> {
    let alone = command.clone().mut_args(|a| a.env(None));
    alone
        .try_get_matches_from([command.get_name()])
        .map(drop)
        .map_err(|e| first_line(&e.to_string()))
}

/// clap's message without its `error: ` prefix and usage hints.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}
