//! A real headless Chromium, driven through chromedriver with the W3C
//! WebDriver protocol (JSON over HTTP, spoken with the tests' own ureq: a
//! WebDriver crate would add an async HTTP stack to build for a handful of
//! calls). Both programs are found where `scripts/tools.sh` installs them;
//! dropping the [`Browser`] ends the session and kills chromedriver's whole
//! process group, Chromium included, even when the test failed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::tools::{free_port, path};

/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium
    /// session with a fresh profile, a `width`×`height` window, and every
    /// browser log entry kept.
    pub fn start(width: u32, height: u32) -> Self {
        use std::os::unix::process::CommandExt;
        let (chromium, chromedriver) = (path("chromium"), path("chromedriver"));
        let port = free_port();
        let driver = Command::new(chromedriver)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Its own process group, so Drop can end Chromium with it.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let mut browser = Self {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent,
            profile,
        };
        browser.wait_driver();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ]
        .map(String::from)
        .into_iter()
        .chain([
            format!("--user-data-dir={}", browser.profile.path().display()),
            format!("--window-size={width},{height}"),
        ])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            // Every wait bounded: a page load, and no implicit waits on finds.
            "timeouts": {"pageLoad": 20_000, "script": 5_000, "implicit": 0},
        }}});
        let created = browser.call("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session in {created}"))
            .to_string();
        browser
    }

    fn wait_driver(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = self
                .agent
                .get(&format!("{}/status", self.base))
                .call()
                .ok()
                .and_then(|r| r.into_string().ok())
                .and_then(|body| serde_json::from_str::<Value>(&body).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "chromedriver not ready in 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One WebDriver command; its `value`. A WebDriver error panics with its message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    /// One WebDriver command; its `value`, or the WebDriver error's `value`.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let request = self.agent.request(method, &format!("{}{path}", self.base));
        let answer = match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
            None => request.call(),
        };
        let response = match answer {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(e) => panic!("WebDriver {method} {path}: {e}"),
        };
        let status = response.status();
        let mut value: Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
        let value = value["value"].take();
        if status < 400 {
            Ok(value)
        } else {
            Err(value)
        }
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body)
    }

    /// A command on an element found before: `None` if the page has been
    /// replaced since (a page that refreshes itself does so at any time).
    /// Chromium reports that either as a stale element or, while the new
    /// document is being swapped in, as an inspector error that the node
    /// "does not belong to the document".
    fn element_call(&self, element: &str, what: &str) -> Option<Value> {
        let path = format!("/session/{}/element/{element}/{what}", self.session);
        match self.try_call("GET", &path, None) {
            Ok(value) => Some(value),
            Err(e) if e["error"] == "stale element reference" => None,
            Err(e)
                if e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("does not belong to the document")) =>
            {
                None
            }
            Err(e) => panic!("WebDriver GET {path}: {e}"),
        }
    }

    /// Loads `url` and waits (WebDriver's page-load wait, bounded by the driver) until it has.
    pub fn open(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The document's title.
    pub fn title(&self) -> String {
        self.session_call("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// References to the elements matching a CSS selector, now.
    pub fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.session_call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_string())
            .collect()
    }

    /// An attribute of an element, as the browser's DOM has it (`None`: no
    /// such attribute, or the page was replaced since the element was found).
    pub fn attribute(&self, element: &str, name: &str) -> Option<String> {
        let value = self.element_call(element, &format!("attribute/{name}"))?;
        value.as_str().map(String::from)
    }

    /// The rendered text of an element (`None`: the page was replaced since).
    pub fn text(&self, element: &str) -> Option<String> {
        let value = self.element_call(element, "text")?;
        Some(value.as_str().unwrap_or_default().to_string())
    }

    /// The browser log entries since the last call, as (level, message).
    pub fn log(&self) -> Vec<(String, String)> {
        let entries = self.session_call("POST", "/se/log", Some(json!({"type": "browser"})));
        entries
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let field = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                (field("level"), field("message"))
            })
            .collect()
    }

    /// Panics on any `SEVERE` entry of the browser log (a console error, a failed load).
    pub fn assert_no_console_errors(&self) {
        let severe: Vec<_> = self
            .log()
            .into_iter()
            .filter(|(level, _)| level == "SEVERE")
            .collect();
        assert!(severe.is_empty(), "console errors: {severe:?}");
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::prelude::{Engine, BASE64_STANDARD};
        let encoded = self.session_call("GET", "/screenshot", None);
        BASE64_STANDARD
            .decode(encoded.as_str().unwrap())
            .expect("a base64 PNG")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Ends Chromium cleanly; the kill below covers a driver that hangs.
            let _ = self
                .agent
                .delete(&format!("{}/session/{}", self.base, self.session))
                .timeout(Duration::from_secs(10))
                .call();
        }
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}
