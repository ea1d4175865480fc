//! SDK-HMAC-SHA256 request signing and verification, byte for byte as the Huawei Cloud
//! SDKs sign and the API gateway checks (SPEC section 2).
//!
//! - [`authorization`]: the `Authorization` header value, parsed strictly.
//! - [`canonical`]: canonical request and string to sign.
//! - [`sdk_date`]: the `X-Sdk-Date` format.
//! - [`secret`]: a secret key that never prints.
//! - [`sign`]: computing signatures and signing requests (resign mode, tests).
//! - [`verify`]: checking a request the way the gateway does.

pub mod authorization;
pub mod canonical;
pub mod sdk_date;
pub mod secret;
pub mod sign;
pub mod verify;

pub use authorization::{Authorization, AuthorizationError, ALGORITHM};
pub use canonical::{
    canonical_query, canonical_request, canonical_uri, string_to_sign, CanonicalError,
    EMPTY_BODY_SHA256,
};
pub use sdk_date::{format_sdk_date, parse_sdk_date, SdkDateError};
pub use secret::Secret;
pub use sign::{sha256_hex, sign, signature, SignError, SIGNABLE_HEADERS};
pub use verify::{verify, Verified, VerifyError, MAX_CLOCK_SKEW};
