//! The Ed25519 key that signs checkpoints: loaded from PKCS#8 DER, or generated on first
//! start (0600) with its public key written out as hex for verifiers.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

use super::error::AuditError;
use super::files;

/// A loaded signing key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// Loads the key at `path`, generating it when the file does not exist.
    pub fn load_or_generate(path: &Path) -> Result<SigningKey, AuditError> {
        let key_err = |message: String| AuditError::Key {
            path: path.to_path_buf(),
            message,
        };
        match fs::read(path) {
            Ok(der) => {
                // `maybe_unchecked` also takes PKCS#8 v1 (what `openssl genpkey` writes).
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                    .map_err(|e| key_err(format!("not an Ed25519 PKCS#8 DER key: {e}")))?;
                Ok(SigningKey { pair })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let rng = SystemRandom::new();
                let der = Ed25519KeyPair::generate_pkcs8(&rng)
                    .map_err(|e| key_err(format!("cannot generate: {e}")))?;
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    files::ensure_dir(parent).map_err(|e| AuditError::io(parent, e))?;
                }
                files::write_new_synced(path, der.as_ref()).map_err(|e| AuditError::io(path, e))?;
                let pair = Ed25519KeyPair::from_pkcs8(der.as_ref())
                    .map_err(|e| key_err(format!("generated key unusable: {e}")))?;
                tracing::info!(path = %path.display(), "generated a new audit signing key");
                Ok(SigningKey { pair })
            }
            Err(e) => Err(AuditError::io(path, e)),
        }
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.pair.public_key().as_ref())
    }

    /// Short identifier of the public key carried in checkpoints.
    pub fn key_id(&self) -> String {
        key_id(self.pair.public_key().as_ref())
    }

    /// Signature over `message`, hex.
    pub fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(self.pair.sign(message).as_ref())
    }

    /// Writes the public key (hex and newline) to `path` unless it already holds it.
    pub fn write_public(&self, path: &Path) -> Result<(), AuditError> {
        let want = format!("{}\n", self.public_hex());
        if fs::read_to_string(path).ok().as_deref() == Some(want.as_str()) {
            return Ok(());
        }
        files::write_atomic(path, want.as_bytes()).map_err(|e| AuditError::io(path, e))
    }
}

/// First 16 hex digits of the SHA-256 of a raw public key.
pub fn key_id(public: &[u8]) -> String {
    hex::encode(&Sha256::digest(public)[..8])
}

/// A public key read by a verifier.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub raw: Vec<u8>,
    pub source: PathBuf,
}

impl PublicKey {
    /// Reads a public key file: 64 hex digits (whitespace ignored) or the 32 raw bytes.
    pub fn read(path: &Path) -> io::Result<PublicKey> {
        let bytes = fs::read(path)?;
        let text = String::from_utf8_lossy(&bytes);
        let trimmed = text.trim();
        let raw = match hex::decode(trimmed) {
            Ok(raw) if raw.len() == 32 => raw,
            _ if bytes.len() == 32 => bytes,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "expected an Ed25519 public key: 64 hex digits",
                ))
            }
        };
        Ok(PublicKey {
            raw,
            source: path.to_path_buf(),
        })
    }

    pub fn key_id(&self) -> String {
        key_id(&self.raw)
    }

    /// Whether `signature_hex` signs `message`.
    pub fn verify(&self, message: &[u8], signature_hex: &str) -> bool {
        let Ok(sig) = hex::decode(signature_hex) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, &self.raw)
            .verify(message, &sig)
            .is_ok()
    }
}
