//! Resign mode's secret keys: read from the environment or from files named in
//! `[[credentials]]`, checked at load so `check-config` and `serve` refuse the same
//! problems. Errors name the configuration key and never include a secret.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::CredentialConfig;
use crate::signing::Secret;
use zeroize::Zeroizing;

/// The secret keys of the callers the proxy can verify, by access key ID.
#[derive(Debug, Default, Clone)]
pub struct Credentials {
    by_access_key: HashMap<String, Secret>,
}

/// Why a secret key could not be loaded. Each names the configuration key at fault.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The variable named by `secret_key_env` is unset or empty.
    #[error("environment variable {var} (secret key of {access_key}) is not set or empty")]
    MissingEnv {
        key: String,
        var: String,
        access_key: String,
    },
    /// The file named by `secret_key_file` cannot be opened or read.
    #[error("{} (secret key of {access_key}): {source}", path.display())]
    Read {
        key: String,
        path: PathBuf,
        access_key: String,
        source: std::io::Error,
    },
    /// The file is readable or writable by group or others: anyone on the host could
    /// sign as this caller.
    #[error("{} (secret key of {access_key}) is accessible by group or others (mode {mode:04o}); chmod 600 it", path.display())]
    Permissive {
        key: String,
        path: PathBuf,
        access_key: String,
        mode: u32,
    },
    /// The file is empty (or only whitespace).
    #[error("{} (secret key of {access_key}) is empty", path.display())]
    EmptyFile {
        key: String,
        path: PathBuf,
        access_key: String,
    },
    /// Two entries share an access key ID; which secret counts would be ambiguous.
    #[error("access key {access_key} is configured more than once")]
    Duplicate { key: String, access_key: String },
}

impl CredentialError {
    /// The configuration key at fault, e.g. `credentials[0].secret_key_file`.
    pub fn key(&self) -> &str {
        match self {
            CredentialError::MissingEnv { key, .. }
            | CredentialError::Read { key, .. }
            | CredentialError::Permissive { key, .. }
            | CredentialError::EmptyFile { key, .. }
            | CredentialError::Duplicate { key, .. } => key,
        }
    }
}

impl Credentials {
    /// Reads every configured secret key from the process environment or its file.
    pub fn load(entries: &[CredentialConfig]) -> Result<Credentials, CredentialError> {
        Credentials::load_with(entries, |name| std::env::var_os(name))
    }

    /// [`Credentials::load`] with the environment given (for tests).
    pub fn load_with(
        entries: &[CredentialConfig],
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Credentials, CredentialError> {
        let mut by_access_key = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            let access_key = entry.access_key_id.clone();
            let secret = match (&entry.secret_key_env, &entry.secret_key_file) {
                (Some(var), _) => {
                    let value = env(var).map(OsString::into_vec).unwrap_or_default();
                    if value.is_empty() {
                        return Err(CredentialError::MissingEnv {
                            key: format!("credentials[{i}].secret_key_env"),
                            var: var.clone(),
                            access_key,
                        });
                    }
                    Secret::new(value)
                }
                (None, Some(path)) => read_secret_file(
                    path,
                    &format!("credentials[{i}].secret_key_file"),
                    &access_key,
                )?,
                // Config::check already refuses an entry with neither.
                (None, None) => continue,
            };
            if by_access_key.insert(access_key.clone(), secret).is_some() {
                return Err(CredentialError::Duplicate {
                    key: format!("credentials[{i}].access_key_id"),
                    access_key,
                });
            }
        }
        Ok(Credentials { by_access_key })
    }

    /// The secret key of `access_key`, if configured.
    pub fn secret_of(&self, access_key: &str) -> Option<Secret> {
        self.by_access_key.get(access_key).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.by_access_key.is_empty()
    }
}

fn read_secret_file(path: &Path, key: &str, access_key: &str) -> Result<Secret, CredentialError> {
    let read_error = |source| CredentialError::Read {
        key: key.to_string(),
        path: path.to_path_buf(),
        access_key: access_key.to_string(),
        source,
    };
    // The mode is checked on the opened file, so it is the file that is read.
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CredentialError::Permissive {
            key: key.to_string(),
            path: path.to_path_buf(),
            access_key: access_key.to_string(),
            mode,
        });
    }
    // Sized up front so reading never reallocates and leaves a copy behind; wiped on drop.
    let mut bytes = Zeroizing::new(Vec::with_capacity(
        usize::try_from(meta.len()).unwrap_or(0).saturating_add(1),
    ));
    file.read_to_end(&mut bytes).map_err(read_error)?;
    // Files written with `echo` end in a newline that is not part of the key.
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Err(CredentialError::EmptyFile {
            key: key.to_string(),
            path: path.to_path_buf(),
            access_key: access_key.to_string(),
        });
    }
    Ok(Secret::new(trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(env: Option<&str>, file: Option<&Path>) -> CredentialConfig {
        CredentialConfig {
            access_key_id: "AK1".into(),
            secret_key_env: env.map(str::to_string),
            secret_key_file: file.map(Path::to_path_buf),
        }
    }

    #[test]
    fn env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sk");
        std::fs::write(&path, "file-secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = Credentials::load_with(&[entry(None, Some(&path))], |_| None).unwrap();
        assert_eq!(c.secret_of("AK1").unwrap().expose_secret(), b"file-secret");
        let c = Credentials::load_with(&[entry(Some("V"), None)], |_| Some("env-secret".into()))
            .unwrap();
        assert_eq!(c.secret_of("AK1").unwrap().expose_secret(), b"env-secret");
        assert!(c.secret_of("AK2").is_none());
    }

    #[test]
    fn errors_name_the_key_and_hide_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sk");
        std::fs::write(&path, "leaky-secret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = Credentials::load_with(&[entry(None, Some(&path))], |_| None).unwrap_err();
        assert_eq!(e.key(), "credentials[0].secret_key_file");
        assert!(e.to_string().contains("0640"), "{e}");
        assert!(!e.to_string().contains("leaky-secret"));

        let e = Credentials::load_with(&[entry(Some("NOPE"), None)], |_| None).unwrap_err();
        assert_eq!(e.key(), "credentials[0].secret_key_env");
        assert!(e.to_string().contains("NOPE"), "{e}");

        let e = Credentials::load_with(&[entry(Some("V"), None), entry(Some("V"), None)], |_| {
            Some("x".into())
        })
        .unwrap_err();
        assert_eq!(e.key(), "credentials[1].access_key_id");
    }
}
