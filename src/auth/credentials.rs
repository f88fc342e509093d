//! Parsing of presented credentials: the HTTP `Authorization` header and the
//! Socket.io handshake `auth` object. Parsing only; checking is in `policy`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::AuthError;

/// Credentials from an HTTP `Authorization` header.
#[derive(Debug)]
pub enum Credentials {
    /// `Basic base64(user:key)`: an account (or root) and one of its keys.
    Basic {
        /// Account name (or an absolute account IRI, as the Node gateway allows).
        user: String,
        /// The whole auth key `app.keyid:secret` (not parsed yet).
        key: String,
    },
    /// `Bearer <token>`: a JWT (accepted once JWT auth is built).
    Bearer(String),
}

impl Credentials {
    /// Parses an `Authorization` header value.
    pub fn from_header(value: &str) -> Result<Self, AuthError> {
        let (scheme, rest) = value.trim().split_once(' ').ok_or(AuthError::Unrecognised)?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD.decode(rest).map_err(|_| AuthError::Unrecognised)?;
            let decoded = String::from_utf8(decoded).map_err(|_| AuthError::Unrecognised)?;
            let (user, key) = decoded.split_once(':').ok_or(AuthError::Unrecognised)?;
            Ok(Credentials::Basic { user: user.to_owned(), key: key.to_owned() })
        } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
            Ok(Credentials::Bearer(rest.to_owned()))
        } else {
            Err(AuthError::Unrecognised)
        }
    }
}

/// The Socket.io handshake `auth` object, as m-ld apps send it to a gateway.
#[derive(Debug, PartialEq)]
pub enum HandshakeAuth {
    /// No credentials at all (`{}` or absent).
    Anonymous,
    /// `{user, key}`.
    Key {
        /// Account name.
        user: String,
        /// Whole auth key.
        key: String,
    },
    /// `{jwt}`.
    Jwt(String),
}

impl HandshakeAuth {
    /// Reads the `auth` object. Unknown shapes are refused rather than
    /// guessed at: a key without a user, non-string values, non-objects.
    pub fn from_json(auth: Option<&serde_json::Value>) -> Result<Self, AuthError> {
        use serde_json::Value;
        let obj = match auth {
            None | Some(Value::Null) => return Ok(HandshakeAuth::Anonymous),
            Some(Value::Object(obj)) => obj,
            Some(_) => return Err(AuthError::Unrecognised),
        };
        let field = |name: &str| -> Result<Option<&str>, AuthError> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(AuthError::Unrecognised),
            }
        };
        match (field("user")?, field("key")?, field("jwt")?) {
            (None, None, None) => Ok(HandshakeAuth::Anonymous),
            (Some(user), Some(key), None) => Ok(HandshakeAuth::Key { user: user.to_owned(), key: key.to_owned() }),
            (None, None, Some(jwt)) => Ok(HandshakeAuth::Jwt(jwt.to_owned())),
            _ => Err(AuthError::Unrecognised),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn basic_header() {
        let h = format!("Basic {}", STANDARD.encode("acc:root.abc:secret"));
        match Credentials::from_header(&h).unwrap() {
            Credentials::Basic { user, key } => {
                assert_eq!(user, "acc");
                assert_eq!(key, "root.abc:secret");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(Credentials::from_header("Bearer abc.def").unwrap(),
            Credentials::Bearer(t) if t == "abc.def"));
        for bad in ["", "Basic", "Basic !!!", "Digest x", &format!("Basic {}", STANDARD.encode("nocolon"))] {
            assert!(Credentials::from_header(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn handshake_auth_shapes() {
        assert_eq!(HandshakeAuth::from_json(None).unwrap(), HandshakeAuth::Anonymous);
        assert_eq!(HandshakeAuth::from_json(Some(&json!({}))).unwrap(), HandshakeAuth::Anonymous);
        assert_eq!(
            HandshakeAuth::from_json(Some(&json!({"user": "a", "key": "k"}))).unwrap(),
            HandshakeAuth::Key { user: "a".into(), key: "k".into() }
        );
        assert_eq!(HandshakeAuth::from_json(Some(&json!({"jwt": "t"}))).unwrap(), HandshakeAuth::Jwt("t".into()));
        for bad in [
            json!("str"),
            json!([1]),
            json!({"key": "k"}),
            json!({"user": "a"}),
            json!({"user": 1, "key": "k"}),
            json!({"user": "a", "key": "k", "jwt": "t"}),
        ] {
            assert!(HandshakeAuth::from_json(Some(&bad)).is_err(), "{bad}");
        }
    }
}
