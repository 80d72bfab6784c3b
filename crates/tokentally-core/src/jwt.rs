//! The claims of a JWT, read by the parser (the caller of a gateway record) and by
//! the capture proxy (the caller of a live call) alike.
//!
//! The JWT is decoded, never verified: APIM's validate-jwt policy verified it
//! before the call reached AOAI, and the capture may have dropped the signature.

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use serde_json::{Map, Value};

/// base64url that accepts both padded and unpadded input, as JWT producers differ.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes the payload (claims) of a JWT without checking its signature.
pub fn jwt_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_LENIENT
        .decode(payload.trim())
        .or_else(|_| general_purpose::STANDARD.decode(payload.trim()))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}
