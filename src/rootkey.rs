//! The root account key: from configuration, or generated on first start and
//! kept in `<data>/root.key` (mode 0600) so later starts find it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::auth::AuthKey;

/// Root account name used when the gateway generates its own root key.
pub const DEFAULT_ROOT_ACCOUNT: &str = "root";
/// File name of the generated root key in the data directory.
pub const ROOT_KEY_FILE: &str = "root.key";

/// Where the root key came from.
#[derive(Debug, PartialEq)]
pub enum Origin {
    /// `M_LD_GATEWAY_AUTH__KEY`, the config file or a flag.
    Configured,
    /// The data directory's key file.
    Stored(PathBuf),
    /// Generated now and stored in this file: show it to the operator once.
    Generated(PathBuf),
}

/// The root key to use, and where it came from. Blocking file I/O: start-up only.
pub fn load_or_create(data_path: &Path, configured: Option<AuthKey>) -> anyhow::Result<(AuthKey, Origin)> {
    if let Some(key) = configured {
        return Ok((key, Origin::Configured));
    }
    let path = data_path.join(ROOT_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = AuthKey::parse(text.trim())
                .with_context(|| format!("{} does not hold a valid root key", path.display()))?;
            Ok((key, Origin::Stored(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = AuthKey::generate(DEFAULT_ROOT_ACCOUNT)?;
            write_private(&path, &key.reveal())?;
            Ok((key, Origin::Generated(path)))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes a new file readable by its owner only; never overwrites.
pub fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{content}")?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let (key, origin) = load_or_create(dir.path(), None).unwrap();
        let path = dir.path().join(ROOT_KEY_FILE);
        assert_eq!(origin, Origin::Generated(path.clone()));
        assert_eq!(key.app, DEFAULT_ROOT_ACCOUNT);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (again, origin) = load_or_create(dir.path(), None).unwrap();
        assert_eq!(again, key);
        assert_eq!(origin, Origin::Stored(path));
        let configured = AuthKey::parse("boss.abcdef:xyz").unwrap();
        assert_eq!(load_or_create(dir.path(), Some(configured.clone())).unwrap(), (configured, Origin::Configured));
    }
}
