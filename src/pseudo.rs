//! Pseudonymisation: the keyed HMAC-SHA-256 child keys. The key comes from the
//! environment (`STARTWELL_HMAC_KEY` or `STARTWELL_HMAC_KEY_FILE`), never from
//! configuration; `demo` uses a fixed, clearly labelled demo key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

pub const KEY_ENV: &str = "STARTWELL_HMAC_KEY";
pub const KEY_FILE_ENV: &str = "STARTWELL_HMAC_KEY_FILE";
/// The demo key: public, so never use it for real data.
pub const DEMO_KEY: &[u8] = b"startwell-DEMO-ONLY-key-not-for-real-data";
const MIN_KEY_BYTES: usize = 16;

/// The secret used for every child key in a run.
#[derive(Clone)]
pub struct PseudoKey {
    mac: Hmac<Sha256>,
    pub is_demo: bool,
}

impl std::fmt::Debug for PseudoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PseudoKey {{ demo: {} }}", self.is_demo)
    }
}

impl PseudoKey {
    pub fn new(secret: &[u8]) -> Result<Self> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(Error::Key(format!(
                "the pseudonymisation key must be at least {MIN_KEY_BYTES} bytes long"
            )));
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret).map_err(Error::internal)?;
        Ok(PseudoKey { mac, is_demo: false })
    }

    pub fn demo() -> Self {
        let mut k = PseudoKey::new(DEMO_KEY).expect("demo key is long enough");
        k.is_demo = true;
        k
    }

    /// The key from `STARTWELL_HMAC_KEY` or the file named by `STARTWELL_HMAC_KEY_FILE`.
    pub fn from_env() -> Result<Self> {
        Self::from_values(std::env::var(KEY_ENV).ok(), std::env::var(KEY_FILE_ENV).ok())
    }

    fn from_values(key: Option<String>, file: Option<String>) -> Result<Self> {
        match (key, file) {
            (Some(k), _) if !k.trim().is_empty() => Self::new(k.trim().as_bytes()),
            (_, Some(f)) if !f.trim().is_empty() => {
                let bytes = std::fs::read(f.trim()).map_err(|e| {
                    Error::Key(format!(
                        "cannot read the key file named by {KEY_FILE_ENV} ({f}): {e}"
                    ))
                })?;
                let text = String::from_utf8_lossy(&bytes);
                Self::new(text.trim().as_bytes())
            }
            _ => Err(Error::Key(format!(
                "no pseudonymisation key: set {KEY_ENV} to a secret of at least {MIN_KEY_BYTES} characters, \
                 or {KEY_FILE_ENV} to a file holding it (e.g. `export {KEY_FILE_ENV}=/run/secrets/startwell_hmac`); \
                 keep it out of startwell.toml and the repository"
            ))),
        }
    }

    /// The key check the lake keeps (`keycheck`): an HMAC of a fixed label, which
    /// identifies the key without revealing it. The label starts with a NUL byte,
    /// which no source's key name does, so it is never a child key.
    pub fn check(&self) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"\0startwell key check v1");
        hex::encode(mac.finalize().into_bytes())
    }

    /// HMAC of the key name and the normalised fields, as 64 hex characters.
    pub fn child_key(&self, key_name: &str, fields: &[&str]) -> String {
        let mut mac = self.mac.clone();
        mac.update(key_name.as_bytes());
        for f in fields {
            mac.update(&[0x1f]);
            mac.update(f.as_bytes());
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Normalise a text field for keys: uppercase letters and digits only
/// (so "O'Brien " and "obrien" give the same key).
pub fn normalise_text(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| c.to_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn key_is_required_and_explains_itself() {
        let err = PseudoKey::from_values(None, None).unwrap_err().to_string();
        assert!(err.contains(KEY_ENV) && err.contains(KEY_FILE_ENV), "{err}");
        assert!(PseudoKey::from_values(Some("short".into()), None).is_err());
    }

    #[test]
    fn the_key_check_tells_keys_apart_without_being_a_child_key() {
        let a = PseudoKey::new(b"0123456789abcdef").unwrap();
        let b = PseudoKey::new(b"0123456789abcdeX").unwrap();
        assert_eq!(a.check(), PseudoKey::new(b"0123456789abcdef").unwrap().check());
        assert_ne!(a.check(), b.check());
        assert_ne!(a.check(), a.child_key("startwell key check v1", &[]));
        assert!(!a.check().contains("0123456789abcdef"));
    }

    #[test]
    fn key_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, "a-secret-of-enough-length\n").unwrap();
        let a = PseudoKey::from_values(None, Some(p.display().to_string())).unwrap();
        let b = PseudoKey::new(b"a-secret-of-enough-length").unwrap();
        assert_eq!(a.child_key("k", &["X"]), b.child_key("k", &["X"]));
    }

    #[test]
    fn keys_differ_by_secret_and_name_and_hide_input() {
        let a = PseudoKey::new(b"0123456789abcdef").unwrap();
        let b = PseudoKey::new(b"0123456789abcdeX").unwrap();
        let k = a.child_key("nhs_key", &["9434765919"]);
        assert_eq!(k.len(), 64);
        assert!(!k.contains("9434765919"));
        assert_ne!(k, b.child_key("nhs_key", &["9434765919"]));
        assert_ne!(k, a.child_key("upn_key", &["9434765919"]));
        // field boundaries matter
        assert_ne!(a.child_key("m", &["AB", "C"]), a.child_key("m", &["A", "BC"]));
    }

    proptest! {
        #[test]
        fn normalised_text_keys_ignore_case_and_punctuation(s in "[A-Za-z' -]{1,20}") {
            let k = PseudoKey::demo();
            let upper = s.to_uppercase().replace(['\'', ' ', '-'], "");
            prop_assert_eq!(
                k.child_key("m", &[&normalise_text(&s)]),
                k.child_key("m", &[&normalise_text(&upper)])
            );
        }
    }
}
