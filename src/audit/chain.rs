//! The hash chain: each record's `prev_hash` is the hex SHA-256 of the previous line.

use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use super::record::GENESIS_HASH;

/// Hex SHA-256 of one record line (without its newline).
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// Where the chain stands: the next record gets `next_seq` and `prev_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub next_seq: u64,
    pub prev_hash: String,
}

impl ChainHead {
    pub fn genesis() -> ChainHead {
        ChainHead {
            next_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
        }
    }

    /// The head after `line` (whose seq is `seq`) was written.
    pub fn after(seq: u64, line: &[u8]) -> ChainHead {
        ChainHead {
            // A forged huge seq must not overflow: it will fail verification instead.
            next_seq: seq.saturating_add(1),
            prev_hash: line_hash(line),
        }
    }
}

/// The chain fields of a record line; every other field is ignored.
#[derive(Debug, Deserialize)]
pub struct ChainFields {
    pub seq: u64,
    pub prev_hash: String,
}

impl ChainFields {
    /// Parses a line, or `None` when it is not a record (torn or foreign bytes).
    pub fn parse(line: &[u8]) -> Option<ChainFields> {
        serde_json::from_slice(line).ok()
    }
}
