//! TEMPORARY stand-in until the signing module lands: parses only the access key.
pub struct Authorization {
    pub access_key: String,
}
impl Authorization {
    pub fn parse(v: &str) -> Result<Authorization, ()> {
        let rest = v.strip_prefix("SDK-HMAC-SHA256 ").ok_or(())?;
        let access = rest.split(',').next().ok_or(())?.trim().strip_prefix("Access=").ok_or(())?;
        Ok(Authorization { access_key: access.to_string() })
    }
}
