//! One writer per audit directory: two processes appending to the same log would fork
//! the hash chain, so the writer holds an exclusive advisory lock on `<dir>/.lock` for as
//! long as the log is open (the OS drops it when the process dies, even by SIGKILL).

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::error::AuditError;

pub const LOCK_FILE: &str = ".lock";

/// Takes the directory's lock or says who holds it.
pub fn lock_dir(dir: &Path) -> Result<File, AuditError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| AuditError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(AuditError::DirectoryInUse {
            dir: dir.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(AuditError::io(&path, e)),
    }
}
