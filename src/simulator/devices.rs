//! The virtual MFA device table, shared by all connections.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// Longest serial number IAM accepts, in characters.
pub const MAX_SERIAL_CHARS: usize = 150;

/// A virtual MFA device, as `GET /v5/mfa-devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The owner: 32 ASCII letters and digits.
    pub user_id: String,
    /// 1 to 150 characters, e.g. `iam::<account>:mfa:<name>`.
    pub serial_number: String,
    /// Whether the device is bound and enabled.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A device whose identifiers IAM would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The user ID is not 32 ASCII letters and digits.
    #[error("user_id must be 32 ASCII letters and digits")]
    InvalidUserId,
    /// The serial number is empty or longer than 150 characters.
    #[error("serial_number must be 1 to 150 characters")]
    InvalidSerialNumber,
}

impl Device {
    /// A device, validated as IAM validates the identifiers.
    pub fn new(
        user_id: impl Into<String>,
        serial_number: impl Into<String>,
        enabled: bool,
    ) -> Result<Self, DeviceError> {
        let (user_id, serial_number) = (user_id.into(), serial_number.into());
        if !is_valid_user_id(&user_id) {
            return Err(DeviceError::InvalidUserId);
        }
        if !is_valid_serial_number(&serial_number) {
            return Err(DeviceError::InvalidSerialNumber);
        }
        Ok(Self {
            user_id,
            serial_number,
            enabled,
        })
    }
}

/// 32 ASCII letters and digits (SPEC section 2).
pub fn is_valid_user_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// 1 to 150 characters after percent-decoding (SPEC section 2).
pub fn is_valid_serial_number(s: &str) -> bool {
    !s.is_empty() && s.chars().count() <= MAX_SERIAL_CHARS
}

/// (user ID, serial number): devices sort by owner, then serial.
pub type DeviceKey = (String, String);

/// Devices, safe to share between connections.
#[derive(Debug, Default)]
pub struct DeviceTable {
    devices: Mutex<BTreeMap<DeviceKey, bool>>,
}

impl DeviceTable {
    /// A table holding `devices`.
    pub fn new(devices: impl IntoIterator<Item = Device>) -> Self {
        let table = Self::default();
        table.extend(devices);
        table
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<DeviceKey, bool>> {
        // A panic elsewhere cannot leave the map half-updated: every update is one call.
        self.devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds (or replaces) devices; returns how many were given.
    pub fn extend(&self, devices: impl IntoIterator<Item = Device>) -> usize {
        let mut map = self.lock();
        let mut n = 0;
        for d in devices {
            map.insert((d.user_id, d.serial_number), d.enabled);
            n += 1;
        }
        n
    }

    /// Removes a device; false when there was none.
    pub fn remove(&self, user_id: &str, serial_number: &str) -> bool {
        self.lock()
            .remove(&(user_id.to_owned(), serial_number.to_owned()))
            .is_some()
    }

    /// How many devices there are.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when there are no devices.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Every device, in key order.
    pub fn all(&self) -> Vec<Device> {
        self.lock()
            .iter()
            .map(|((u, s), e)| device(u, s, *e))
            .collect()
    }

    /// Up to `limit` devices after `after`, optionally of one user, and the key to
    /// continue from when more remain.
    pub fn page(
        &self,
        user_id: Option<&str>,
        after: Option<&DeviceKey>,
        limit: usize,
    ) -> (Vec<Device>, Option<DeviceKey>) {
        let map = self.lock();
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut matching = map
            .range((start, Bound::Unbounded))
            .filter(|((u, _), _)| user_id.is_none_or(|want| u == want));
        let page: Vec<Device> = matching
            .by_ref()
            .take(limit)
            .map(|((u, s), e)| device(u, s, *e))
            .collect();
        let more = matching.next().is_some();
        let next = match page.last() {
            Some(last) if more => Some((last.user_id.clone(), last.serial_number.clone())),
            _ => None,
        };
        (page, next)
    }
}

fn device(user_id: &str, serial_number: &str, enabled: bool) -> Device {
    Device {
        user_id: user_id.to_owned(),
        serial_number: serial_number.to_owned(),
        enabled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(c: char) -> String {
        c.to_string().repeat(32)
    }

    #[test]
    fn paging_and_removal() {
        let t = DeviceTable::new([
            Device::new(user('a'), "s1", true).expect("valid"),
            Device::new(user('a'), "s2", false).expect("valid"),
            Device::new(user('b'), "s3", true).expect("valid"),
        ]);
        let (page, next) = t.page(None, None, 2);
        assert_eq!(page.len(), 2);
        let (rest, none) = t.page(None, next.as_ref(), 2);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].serial_number, "s3");
        assert!(none.is_none());
        let (mine, _) = t.page(Some(&user('a')), None, 10);
        assert_eq!(mine.len(), 2);
        assert!(t.remove(&user('a'), "s1"));
        assert!(!t.remove(&user('a'), "s1"));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn validation() {
        assert_eq!(
            Device::new("short", "s", true),
            Err(DeviceError::InvalidUserId)
        );
        assert_eq!(
            Device::new(user('a'), "", true),
            Err(DeviceError::InvalidSerialNumber)
        );
        assert!(Device::new(user('a'), "é".repeat(150), true).is_ok());
        assert!(Device::new(user('a'), "é".repeat(151), true).is_err());
    }
}
