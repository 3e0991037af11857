//! Unit tests of settings: parsing, precedence, and refusals that name the setting.

use super::*;
use crate::limiter::rate::parse_rate;

/// The settings of a node started with `args` (shared by the settings' test modules).
pub(super) fn load(args: &[&str]) -> Result<Config, LoadError> {
    Config::load_from(std::iter::once("crdt-limiter").chain(args.iter().copied()))
}

/// The refusal of `args`, naming the setting.
pub(super) fn refused(args: &[&str]) -> String {
    match load(args) {
        Err(LoadError::Invalid(e)) => e.to_string(),
        other => panic!("expected a refused setting, got {other:?}"),
    }
}

#[test]
fn rates_parse_exactly() {
    assert_eq!(parse_rate("1"), Ok(Duration::from_secs(1)));
    assert_eq!(parse_rate("0.5"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_rate("1/3600"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_rate("1000000"), Ok(Duration::from_micros(1)));
    assert_eq!(parse_rate("2.5/0.5"), Ok(Duration::from_millis(200)));
    assert_eq!(parse_rate("3"), Ok(Duration::from_nanos(333_333_333)));
    for bad in [
        "0",
        "",
        "-1",
        "abc",
        "1/0",
        "1e3",
        "0.0",
        "1.2.3",
        "10000000000",
    ] {
        assert!(parse_rate(bad).is_err(), "{bad}");
    }
}

#[test]
fn defaults_apply_without_settings() {
    let c = load(&[]).unwrap();
    assert_eq!(c.listen, "0.0.0.0:8000".parse().unwrap());
    assert_eq!(c.limit.capacity(), 10);
    assert_eq!(c.limit.interval(), Duration::from_secs(1));
    assert_eq!(c.forward_auth_user_header, "x-user-id");
}

#[test]
fn forward_auth_user_header_is_read_from_flag_and_file() {
    let c = load(&["--forward-auth-user-header", "X-Auth-Request-User"]).unwrap();
    assert_eq!(c.forward_auth_user_header, "x-auth-request-user");
    let dir = std::env::temp_dir().join(format!("limiter-config-fa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("limiter.toml");
    std::fs::write(&path, "forward-auth-user-header = \"Remote-User\"\n").unwrap();
    let c = load(&["--config", path.to_str().unwrap()]).unwrap();
    assert_eq!(c.forward_auth_user_header, "remote-user");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_settings_name_the_setting() {
    assert!(refused(&["--capacity", "0"]).contains("`capacity` (--capacity / LIMITER_CAPACITY)"));
    assert!(refused(&["--refill-per-sec", "0"]).contains("LIMITER_REFILL_PER_SEC"));
    assert!(refused(&["--listen", "nowhere"]).contains("`listen`"));
    assert!(refused(&["--max-keys", "0"]).contains("`max-keys`"));
    assert!(
        refused(&["--capacity", "4000000000", "--refill-per-sec", "1/3600"]).contains("100 years")
    );
    assert!(refused(&["--forward-auth-user-header", "X User"])
        .contains("`forward-auth-user-header` (--forward-auth-user-header / LIMITER_FORWARD_AUTH_USER_HEADER)"));
    assert!(refused(&["--forward-auth-user-header", ""]).contains("not a valid header name"));
    assert!(matches!(
        load(&["--capacity", "ten"]),
        Err(LoadError::Cli(_))
    ));
}

#[test]
fn the_file_fills_what_flags_leave_out() {
    let dir = std::env::temp_dir().join(format!("limiter-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("limiter.toml");
    std::fs::write(
        &path,
        "capacity = 7\nrefill-per-sec = \"1/60\"\nmax-keys = 50\n",
    )
    .unwrap();
    let c = load(&["--config", path.to_str().unwrap(), "--capacity", "9"]).unwrap();
    assert_eq!(c.limit.capacity(), 9);
    assert_eq!(c.limit.interval(), Duration::from_secs(60));
    assert_eq!(c.max_keys.get(), 50);
    std::fs::write(&path, "capacity = 7\nburst = 3\n").unwrap();
    assert!(refused(&["--config", path.to_str().unwrap()]).contains("burst"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn peer_gone_after_is_read_and_at_least_one_ms() {
    let kafka = ["--kafka-brokers", "127.0.0.1:9092", "--node-id", "a"];
    let c = load(&kafka).unwrap();
    assert_eq!(
        c.replication.unwrap().peer_gone_after,
        Duration::from_secs(10)
    );
    let c = load(&[&kafka[..], &["--peer-gone-after-ms", "1500"]].concat()).unwrap();
    assert_eq!(
        c.replication.unwrap().peer_gone_after,
        Duration::from_millis(1500)
    );
    let why = refused(&[&kafka[..], &["--peer-gone-after-ms", "0"]].concat());
    assert!(
        why.contains("`peer-gone-after-ms` (--peer-gone-after-ms / LIMITER_PEER_GONE_AFTER_MS)"),
        "{why}"
    );
    // Refused without Kafka too: the value is wrong whether or not it is used yet.
    assert!(refused(&["--peer-gone-after-ms", "0"]).contains("peer-gone-after-ms"));
    assert!(refused(&["--merge", "sum"]).contains("`merge`"));
    assert!(refused(&["--quiet-watermark", "0"]).contains("`quiet-watermark`"));
}

#[test]
fn shadow_is_read_from_flag_and_file() {
    assert!(!load(&[]).unwrap().shadow);
    assert!(load(&["--shadow"]).unwrap().shadow);
    assert!(!load(&["--shadow=false"]).unwrap().shadow);
    let dir = std::env::temp_dir().join(format!("limiter-config-shadow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("limiter.toml");
    std::fs::write(&path, "shadow = true\n").unwrap();
    let file = ["--config", path.to_str().unwrap()];
    assert!(load(&file).unwrap().shadow);
    // The flag wins over the file.
    assert!(
        !load(&[&file[..], &["--shadow=false"]].concat())
            .unwrap()
            .shadow
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_decision_token_comes_from_a_flag_or_a_file_never_both() {
    let token = "decision-token-0123456789";
    assert!(load(&[]).unwrap().http.decision_token.is_none());
    let c = load(&["--decision-token", token]).unwrap();
    assert!(c.http.decision_token.unwrap().matches(token.as_bytes()));
    let dir = std::env::temp_dir().join(format!("limiter-config-dt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    let file = path.to_str().unwrap();
    let c = load(&["--decision-token-file", file]).unwrap();
    let secret = c.http.decision_token.unwrap();
    assert!(
        secret.matches(token.as_bytes()),
        "the newline is not part of it"
    );
    assert_eq!(format!("{secret:?}"), "Secret(..)");
    assert!(
        refused(&["--decision-token-file", file, "--decision-token", token])
            .contains("`decision-token-file`")
    );
    assert!(refused(&["--decision-token", "short"]).contains("`decision-token`"));
    std::fs::write(&path, "short\n").unwrap();
    assert!(refused(&["--decision-token-file", file]).contains("at least 16"));
    let missing = dir.join("missing");
    assert!(
        refused(&["--decision-token-file", missing.to_str().unwrap()])
            .contains("LIMITER_DECISION_TOKEN_FILE")
    );
    // One token for both would let every proxy change limits.
    let same = [
        "--decision-token",
        token,
        "--admin-token",
        token,
        "--data-dir",
        "/tmp",
    ];
    assert!(refused(&same).contains("must differ from the admin token"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn http_bounds_have_safe_defaults_and_refuse_zero() {
    let http = load(&[]).unwrap().http;
    assert_eq!(http.head_timeout, Duration::from_secs(5));
    assert_eq!(http.body_timeout, Duration::from_secs(10));
    assert_eq!(http.max_connections.get(), 10_000);
    let c = load(&["--body-timeout-ms", "1500", "--max-connections", "64"]).unwrap();
    assert_eq!(c.http.body_timeout, Duration::from_millis(1500));
    assert_eq!(c.http.max_connections.get(), 64);
    for setting in ["head-timeout-ms", "body-timeout-ms", "max-connections"] {
        let flag = format!("--{setting}");
        assert!(
            refused(&[&flag, "0"]).contains(&format!("`{setting}`")),
            "{setting}"
        );
    }
}

#[test]
fn a_node_id_is_kept_and_checked_without_kafka_too() {
    assert_eq!(load(&[]).unwrap().node_id, None);
    let c = load(&["--node-id", "edge-7"]).unwrap();
    assert_eq!(c.node_id.as_deref(), Some("edge-7"));
    assert!(refused(&["--node-id", "a b"]).contains("`node-id`"));
}

/// A settings file in its own directory, removed when dropped.
struct FileOf(tempfile::TempDir);

impl FileOf {
    fn new(text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("limiter.toml"), text).unwrap();
        Self(dir)
    }

    fn path(&self) -> String {
        self.0.path().join("limiter.toml").display().to_string()
    }
}

#[test]
fn a_bad_file_value_names_the_file_and_the_key() {
    let file = FileOf::new("capacity = \"ten\"\n");
    let why = refused(&["--config", &file.path()]);
    assert!(
        why.contains("`config`") && why.contains("limiter.toml"),
        "{why}"
    );
    assert!(why.contains("--capacity"), "{why}");
    let file = FileOf::new("listen = [\"0.0.0.0:1\"]\n");
    assert!(refused(&["--config", &file.path()]).contains("`listen` must be a string"));
    let file = FileOf::new("config = \"other.toml\"\n");
    assert!(refused(&["--config", &file.path()]).contains("unknown setting `config`"));
    // A value its flag's parser takes is judged where it ends up: a flag
    // over it hides it.
    let file = FileOf::new("capacity = 0\n");
    assert!(load(&["--config", &file.path(), "--capacity", "3"]).is_ok());
    assert!(refused(&["--config", &file.path()]).contains("`capacity`"));
}

#[test]
fn a_file_gives_lists_and_numbers_as_the_flags_take_them() {
    let file = FileOf::new(
        "trusted-proxies = [\"10.0.0.0/8\", \"127.0.0.1/32\"]\nrefill-per-sec = 0.5\nmerge = \"counted\"\nkafka-brokers = \"127.0.0.1:9092\"\nnode-id = \"a\"\n",
    );
    let c = load(&["--config", &file.path()]).unwrap();
    assert_eq!(c.limit.interval(), Duration::from_secs(2));
    assert_eq!(
        c.replication.unwrap().merge,
        crate::limiter::MergeMode::Counted
    );
}

#[test]
fn a_secret_from_the_file_never_shows_in_help() {
    let file = FileOf::new("admin-token = \"file-secret-0123456789\"\ndata-dir = \"/tmp\"\n");
    let help = match load(&["--config", &file.path(), "--help"]) {
        Err(LoadError::Cli(e)) => e.to_string(),
        other => panic!("expected help, got {other:?}"),
    };
    assert!(help.contains("--admin-token"), "{help}");
    assert!(!help.contains("file-secret"), "{help}");
    // Values that are not secret show as the defaults they now are.
    let file = FileOf::new("capacity = 42\n");
    let help = match load(&["--config", &file.path(), "--help"]) {
        Err(LoadError::Cli(e)) => e.to_string(),
        other => panic!("expected help, got {other:?}"),
    };
    assert!(help.contains("[default: 42]"), "{help}");
}

#[test]
fn the_admin_token_comes_from_its_file_and_never_shows_in_debug() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin");
    let token = "admin-file-token-0123456789";
    std::fs::write(&path, format!("{token}\n")).unwrap();
    let file = path.to_str().unwrap();
    let c = load(&["--admin-token-file", file, "--data-dir", "/tmp"]).unwrap();
    assert!(c.admin_token.as_ref().unwrap().matches(token.as_bytes()));
    assert!(
        !format!("{c:?}").contains(token),
        "the token shows in Debug"
    );
    let both = ["--admin-token-file", file, "--admin-token", token];
    let said = refused(&both);
    assert!(said.contains("`admin-token-file`"), "{said}");
    assert!(!said.contains(token), "{said}");
    std::fs::write(&path, "short\n").unwrap();
    assert!(refused(&["--admin-token-file", file]).contains("at least 16"));
}

#[test]
fn a_token_file_read_again_replaces_the_token_unless_the_new_one_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin");
    let (old, new) = (
        "admin-token-before-0123456789",
        "admin-token-after-0123456789",
    );
    std::fs::write(&path, format!("{old}\n")).unwrap();
    let file = path.to_str().unwrap();
    let c = load(&["--admin-token-file", file, "--data-dir", "/tmp"]).unwrap();
    let held = c.admin_token.clone().unwrap();
    std::fs::write(&path, format!("{new}\n")).unwrap();
    c.admin_token.as_ref().unwrap().reload().unwrap();
    assert!(held.matches(new.as_bytes()) && !held.matches(old.as_bytes()));
    for bad in ["", "short\n"] {
        std::fs::write(&path, bad).unwrap();
        let error = held.reload().unwrap_err();
        assert_eq!(error.setting, "admin-token-file");
        assert!(held.matches(new.as_bytes()), "a bad file kept the token");
    }
}

#[test]
fn window_settings_default_and_are_refused_naming_the_setting() {
    let config = load(&[]).unwrap();
    assert_eq!(config.algorithms, AlgorithmDefaults::default());
    assert_eq!(config.clock_start, None);
    let config = load(&[
        "--rls-algorithm",
        "fixed-window",
        "--time-zone",
        "Asia/Tokyo",
    ])
    .unwrap();
    assert_eq!(config.algorithms.time_zone, chrono_tz::Asia::Tokyo);
    assert!(refused(&["--rls-algorithm", "leaky"]).contains("rls-algorithm"));
    assert!(refused(&["--time-zone", "Moon/Base"]).contains("time-zone"));
    assert!(refused(&["--clock-start", "yesterday"]).contains("clock-start"));
    let config = load(&["--clock-start", "2026-01-31T23:59:50-05:00"]).unwrap();
    let start = config.clock_start.unwrap().as_unix_nanos();
    assert_eq!(start, 1_769_921_990_000_000_000);
}

#[test]
fn rls_count_over_limit_is_off_unless_asked() {
    let counting = |args: &[&str]| load(args).unwrap().rls_counting;
    assert_eq!(counting(&[]), Counting::AllOrNothing);
    assert_eq!(counting(&["--rls-count-over-limit"]), Counting::OverLimit);
    assert_eq!(
        counting(&["--rls-count-over-limit=true"]),
        Counting::OverLimit
    );
    assert_eq!(
        counting(&["--rls-count-over-limit=false"]),
        Counting::AllOrNothing
    );
}

#[test]
fn config_poll_is_off_at_zero_and_else_at_least_100_ms() {
    assert_eq!(Config::default().config_poll, Some(Duration::from_secs(1)));
    assert_eq!(load(&["--config-poll-ms", "0"]).unwrap().config_poll, None);
    let poll = load(&["--config-poll-ms", "250"]).unwrap().config_poll;
    assert_eq!(poll, Some(Duration::from_millis(250)));
    let error = refused(&["--config-poll-ms", "10"]);
    assert!(error.contains("config-poll-ms"), "{error}");
}

#[test]
fn the_log_format_is_text_unless_json_is_asked() {
    assert_eq!(Config::default().log_format, LogFormat::Text);
    let json = load(&["--log-format", "json"]).unwrap().log_format;
    assert_eq!(json, LogFormat::Json);
    assert!(matches!(
        load(&["--log-format", "xml"]),
        Err(LoadError::Cli(_))
    ));
}
