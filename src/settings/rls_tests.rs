//! Unit tests of the rate-limit service's settings: global shadow and quota
//! modes, and the rate-limit headers' names, refused by their setting when
//! not header names.

use crate::policy::descriptors::yaml::{Domains, LoadOptions};
use crate::rls::{Answers, HeaderNames};
use crate::settings::tests::{load, refused};

#[test]
fn answers_are_plain_by_default() {
    let config = load(&[]).unwrap();
    assert_eq!(config.rls_answers, Answers::default());
    assert!(!config.rls_answers.shadow);
    assert_eq!(config.rls_answers.headers, None);
}

#[test]
fn shadow_and_headers_take_upstreams_default_names() {
    let config = load(&["--rls-shadow", "--rls-response-headers"]).unwrap();
    assert!(config.rls_answers.shadow);
    let names = config.rls_answers.headers.unwrap();
    assert_eq!(names, HeaderNames::default());
    assert_eq!(
        [names.limit, names.remaining, names.reset],
        ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]
    );
    let off = load(&["--rls-shadow=false", "--rls-response-headers=false"]).unwrap();
    assert_eq!(off.rls_answers, Answers::default());
}

#[test]
fn header_names_are_kept_as_written() {
    let config = load(&[
        "--rls-response-headers",
        "--rls-limit-header",
        "A-Ratelimit-Limit",
        "--rls-remaining-header",
        "a-ratelimit-remaining",
        "--rls-reset-header",
        "X-Reset",
    ])
    .unwrap();
    let names = config.rls_answers.headers.unwrap();
    assert_eq!(names.limit, "A-Ratelimit-Limit");
    assert_eq!(names.remaining, "a-ratelimit-remaining");
    assert_eq!(names.reset, "X-Reset");
}

#[test]
fn a_bad_header_name_is_refused_naming_its_setting() {
    for (setting, bad) in [
        ("rls-limit-header", "Rate Limit"),
        ("rls-remaining-header", ""),
        ("rls-reset-header", ":status"),
        ("rls-limit-header", "Limit\u{e9}"),
    ] {
        let flag = format!("--{setting}");
        // Refused even while the headers are off: the mistake shows at once.
        let error = refused(&[&flag, bad]);
        let env = format!("LIMITER_{}", setting.replace('-', "_").to_uppercase());
        assert!(error.contains(&flag) && error.contains(&env), "{error}");
        assert!(error.contains("not a valid header name"), "{error}");
    }
}

#[test]
fn quota_mode_is_read_with_the_descriptor_files() {
    let dir = std::env::temp_dir().join(format!("limiter-rls-quota-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("edge.yaml");
    std::fs::write(&file, "domain: edge\n").unwrap();
    let path = file.to_str().unwrap();
    let options = |args: &[&str]| load(args).unwrap().descriptors.unwrap().options;
    assert_eq!(options(&["--rls-config", path]), LoadOptions::default());
    assert_eq!(
        options(&[
            "--rls-config",
            path,
            "--rls-quota-mode",
            "--rls-merge-domains"
        ]),
        LoadOptions {
            domains: Domains::Merge,
            quota_mode: true
        }
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
