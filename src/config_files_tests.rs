//! Unit tests of `config_files`.

use std::os::unix::fs::symlink;

use super::*;

/// A directory laid out as Kubernetes mounts a ConfigMap: `name` links to
/// `..data/name`, `..data` links to a timestamped directory.
fn configmap(dir: &Path, stamp: &str, text: &str) {
    let data = dir.join(stamp);
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("rules.toml"), text).unwrap();
    let tmp = dir.join("..data_tmp");
    symlink(stamp, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    let link = dir.join("rules.toml");
    if std::fs::symlink_metadata(&link).is_err() {
        symlink("..data/rules.toml", &link).unwrap();
    }
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn a_swapped_configmap_changes_the_stamp_even_with_the_same_size_and_time() {
    let dir = temp();
    configmap(dir.path(), "..2026_12_05_10_00_00.1", "cap = 1");
    let files = [dir.path().join("rules.toml")];
    let (before, content) = (stamp(&files), digest(&files));
    configmap(dir.path(), "..2026_12_05_10_00_00.2", "cap = 2");
    // The same size; give the new file the old one's modification time too.
    let old = std::fs::metadata(dir.path().join("..2026_12_05_10_00_00.1/rules.toml")).unwrap();
    let new = std::fs::File::options()
        .write(true)
        .open(dir.path().join("..2026_12_05_10_00_00.2/rules.toml"))
        .unwrap();
    new.set_modified(old.modified().unwrap()).unwrap();
    assert_ne!(stamp(&files), before);
    assert_ne!(digest(&files), content);
}

#[test]
fn the_digest_follows_content_not_the_file_it_is_in() {
    let dir = temp();
    configmap(dir.path(), "..a", "cap = 1");
    let files = [dir.path().join("rules.toml")];
    let before = digest(&files);
    configmap(dir.path(), "..b", "cap = 1");
    assert_eq!(digest(&files), before, "the same text in a new directory");
    configmap(dir.path(), "..c", "cap = 3");
    assert_ne!(digest(&files), before);
}

#[test]
fn a_missing_file_has_no_id_and_a_digest_of_its_own() {
    let dir = temp();
    let files = [dir.path().join("absent.toml")];
    assert_eq!(stamp(&files), vec![(files[0].clone(), None)]);
    std::fs::write(&files[0], "").unwrap();
    let empty = digest(&files);
    std::fs::remove_file(&files[0]).unwrap();
    assert_ne!(digest(&files), empty);
}

#[test]
fn a_file_past_the_bound_is_refused() {
    let dir = temp();
    let file = dir.path().join("huge.toml");
    let huge = std::fs::File::create(&file).unwrap();
    huge.set_len(MAX_CONFIG_FILE_BYTES + 1).unwrap();
    let error = read_text(&file).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    huge.set_len(MAX_CONFIG_FILE_BYTES).unwrap();
    assert_eq!(
        read_text(&file).unwrap().len() as u64,
        MAX_CONFIG_FILE_BYTES
    );
}
