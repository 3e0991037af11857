//! upstream's config corpus, the files it refuses (`config_test.go`'s
//! `expectConfigPanic` cases) and the ones made of several files (domain
//! merging): the binary must refuse to start, naming the file and the fault.

use super::harness::{config_dir, refused_at_start, upstream, Rls, MERGE_DOMAINS};

/// A file upstream refuses, its message, and what ours must say (beside the
/// file's name): the same fault in our words.
const REFUSED: &[(&str, &str, &[&str])] = &[
    (
        "empty_domain.yaml",
        "config file cannot have empty domain",
        &["domain"],
    ),
    (
        "empty_key.yaml",
        "descriptor has empty key",
        &["key: required"],
    ),
    (
        "duplicate_key.yaml",
        "duplicate descriptor composite key 'test-domain.key1_value1'",
        &["test-domain.key1_value1", "twice"],
    ),
    (
        "bad_limit_unit.yaml",
        "invalid rate limit unit 'foo'",
        &["unit", "\"foo\""],
    ),
    (
        "replaces_self.yaml",
        "replaces should not contain name of same descriptor",
        &["replaces", "itself"],
    ),
    (
        "replaces_empty.yaml",
        "should not have an empty replaces entry",
        &["replaces", "name"],
    ),
    (
        "bad_yaml.yaml",
        "error loading config file: yaml: line 2: found unexpected end of stream",
        &["unexpected end of stream", "line 2"],
    ),
    (
        "misspelled_key.yaml",
        "config error, unknown key 'ratelimit'",
        &["`ratelimit`"],
    ),
    (
        "misspelled_key2.yaml",
        "config error, unknown key 'requestsperunit'",
        &["`requestsperunit`"],
    ),
    (
        "non_string_key.yaml",
        "config error, key is not of type string: 0.25",
        &["0.25"],
    ),
    (
        "non_map_list.yaml",
        "config error, yaml file contains list of type other than map: a",
        &["\"a\""],
    ),
    (
        "unlimited_with_unit.yaml",
        "should not specify rate limit unit when unlimited",
        &["unit", "unlimited"],
    ),
];

/// `TestEmptyDomain` … `TestUnlimitedWithRateLimitUnit`, one file each.
#[test]
fn the_files_upstream_refuses_are_refused_naming_file_and_fault() {
    for (file, theirs, ours) in REFUSED {
        let source = format!("test/config/{file} (upstream: {theirs:?})");
        let said = refused_at_start(&source, &upstream(&format!("test/config/{file}")), &[]);
        for words in [&[*file][..], ours].concat() {
            assert!(said.contains(words), "{source}: no {words:?} in\n{said}");
        }
    }
}

/// `TestDuplicateDomain`: one domain in two files, without merging, is refused.
#[test]
fn a_domain_in_two_files_is_refused_without_merging() {
    let dir = config_dir(
        "rls-duplicate-domain",
        &[
            "test/config/basic_config.yaml",
            "test/config/duplicate_domain.yaml",
        ],
    );
    let said = refused_at_start("TestDuplicateDomain", &dir, &[]);
    assert!(
        said.contains("\"test-domain\""),
        "TestDuplicateDomain:\n{said}"
    );
}

/// `TestDomainMerge` (branch `rlsconfig`): with merging, two files of one
/// domain make one, each file's descriptors in it.
#[test]
fn merge_domain_files_make_one_domain_when_merging() {
    let dir = config_dir(
        "rls-merge-domain",
        &[
            "test/config/merge_domain_key1.yaml",
            "test/config/merge_domain_key2.yaml",
        ],
    );
    let rls = Rls::start("TestDomainMerge", &dir, &[MERGE_DOMAINS]);
    let unknown = rls.one(
        "TestDomainMerge foo_domain",
        "foo_domain",
        &[("key1", "value1")],
        1,
    );
    assert_eq!(unknown.limit, None);
    let key1 = rls.one(
        "TestDomainMerge key1",
        "test-domain",
        &[("key1", "value1")],
        1,
    );
    assert_eq!(
        key1.limit.map(|l| l.0),
        Some(10),
        "TestDomainMerge key1_value1"
    );
    let key2 = rls.one(
        "TestDomainMerge key2",
        "test-domain",
        &[("key2", "value2")],
        1,
    );
    assert_eq!(
        key2.limit.map(|l| l.0),
        Some(20),
        "TestDomainMerge key2_value2"
    );
}

/// `TestDuplicateKeyDomainMerge` (branch `rlsconfig`): merging still refuses
/// a descriptor configured in both files.
#[test]
fn merging_refuses_a_descriptor_in_two_files() {
    let dir = config_dir(
        "rls-merge-duplicate",
        &["test/config/merge_domain_key1.yaml"],
    );
    std::fs::copy(
        upstream("test/config/merge_domain_key1.yaml"),
        dir.join("merge_domain_key1_again.yaml"),
    )
    .unwrap();
    let said = refused_at_start("TestDuplicateKeyDomainMerge", &dir, &[MERGE_DOMAINS]);
    assert!(
        said.contains("test-domain.key1_value1"),
        "TestDuplicateKeyDomainMerge (upstream: duplicate descriptor composite key 'test-domain.key1_value1'):\n{said}"
    );
}
