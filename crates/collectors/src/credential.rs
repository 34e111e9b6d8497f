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
        (None, Some(path)) => {
            std::fs::read_to_string(path).map(|s| s.trim().to_string()).map_err(|e| format!("cannot read {section}.{name}_file {}: {e}", path.display()))
        }
        (None, None) => Err(format!("{section} needs {name}_env or {name}_file (never the {what} itself)")),
    }
}

/// A secret given by reference in the configuration: `"env:VARIABLE"` or `"file:PATH"`.
/// A value in any other form is refused, so a secret cannot be written into the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable holds it.
    Env(String),
    /// A file holds it.
    File(std::path::PathBuf),
}

impl SecretRef {
    /// Moves the reference into the `<name>_env` / `<name>_file` pair it is shorthand for.
    pub fn assign(self, name: &str, env: &mut Option<String>, file: &mut Option<std::path::PathBuf>) -> Result<(), String> {
        if env.is_some() || file.is_some() {
            return Err(format!("{name} and {name}_env/{name}_file are alternatives: give one"));
        }
        match self {
            SecretRef::Env(var) => *env = Some(var),
            SecretRef::File(path) => *file = Some(path),
        }
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.split_once(':') {
            Some(("env", var)) if !var.is_empty() => Ok(SecretRef::Env(var.to_string())),
            Some(("file", path)) if !path.is_empty() => Ok(SecretRef::File(path.into())),
            // The value is not echoed: it may be the secret itself.
            _ => Err(serde::de::Error::custom("secrets are given by reference: \"env:VARIABLE\" or \"file:PATH\", never the value itself")),
        }
    }
}
