//! Generated keys kept in the data directory, written with mode 0600.

use std::path::Path;

use anyhow::Context;

/// Reads a secret file, or creates it with a fresh random key and mode 0600.
pub(super) fn load_or_create_secret(path: &Path) -> anyhow::Result<(String, bool)> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let key = existing.trim().to_owned();
        if !key.is_empty() {
            return Ok((key, false));
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    }
    let bytes: [u8; 32] = rand::random();
    let key = crate::util::hex(&bytes);
    write_private(path, &key)
        .with_context(|| format!("cannot write key file {}", path.display()))?;
    Ok((key, true))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}
