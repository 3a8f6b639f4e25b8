//! Files the SDK and the CLI write that hold incident data or keys (the mirror, audit exports,
//! reports) are created readable by their owner only (0600), whatever the umask: another local
//! user of a field laptop must not read them. A file that exists already with wider permissions
//! is narrowed before anything is written into it.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Owner read and write, nobody else.
pub const PRIVATE_MODE: u32 = 0o600;

/// Opens `path` for writing (created 0600 if missing, truncated if not) and narrows an existing
/// file to 0600 first.
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    owner_only(&mut options);
    let file = options.open(path)?;
    narrow(&file)?;
    Ok(file)
}

/// Writes `contents` to `path` through [`create_private`].
pub fn write_private(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    use std::io::Write;
    let mut file = create_private(path)?;
    file.write_all(contents.as_ref())?;
    file.sync_all()
}

/// Makes sure `path` exists and is 0600 without touching its contents (a SQLite database file
/// before SQLite opens it: SQLite gives its journal and WAL files the database file's mode).
pub fn ensure_private(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    owner_only(&mut options);
    let file = options.open(path)?;
    narrow(&file)
}

#[cfg(unix)]
fn owner_only(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(PRIVATE_MODE);
}

#[cfg(not(unix))]
fn owner_only(_options: &mut OpenOptions) {}

#[cfg(unix)]
fn narrow(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode() & 0o777;
    if mode & !PRIVATE_MODE != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_MODE))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn narrow(_file: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn new_files_are_owner_only_and_existing_wide_ones_are_narrowed() {
        let dir = tempfile::tempdir().expect("dir");
        let fresh = dir.path().join("fresh.jsonl");
        write_private(&fresh, "x").expect("write");
        assert_eq!(mode(&fresh), 0o600);

        let wide = dir.path().join("wide.html");
        std::fs::write(&wide, "old").expect("write");
        std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_private(&wide, "new").expect("write");
        assert_eq!(mode(&wide), 0o600);
        assert_eq!(std::fs::read_to_string(&wide).expect("read"), "new");

        let db = dir.path().join("mirror.db");
        std::fs::write(&db, "keep").expect("write");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o664)).expect("chmod");
        ensure_private(&db).expect("ensure");
        assert_eq!(mode(&db), 0o600);
        assert_eq!(
            std::fs::read_to_string(&db).expect("read"),
            "keep",
            "contents kept"
        );
    }
}
