//! Reading a credential from where the configuration says it is: an environment variable
//! or a file, never the configuration itself. The value is returned to the caller only;
//! error messages name the setting, never the value.

use std::path::Path;

/// Reads `<section>.<name>_env` (a variable name) or else `<section>.<name>_file` (a path);
/// `what` describes the credential in messages.
pub(crate) fn read(section: &str, name: &str, what: &str, env: Option<&str>, file: Option<&Path>) -> Result<String, String> {
    match (env, file) {
        (Some(var), _) => std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{section}.{name}_env names {var}, which is not set: export the {what} in it")),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("cannot read {section}.{name}_file {}: {e}", path.display())),
        (None, None) => Err(format!("{section} needs {name}_env or {name}_file (never the {what} itself)")),
    }
}
