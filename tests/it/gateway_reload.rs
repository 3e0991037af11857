//! The gateway file reloaded on SIGHUP, on the real binary: new routes and
//! keys take effect, a bad file is refused and what is in effect stays, a
//! JWKS from a new source is fetched before the swap (so no token is refused
//! for want of a key, and a source that cannot be read refuses the reload),
//! and one from the same source is carried over with its keys.

use std::path::Path;
use std::time::Duration;

use crdt_limiter::gateway::identity::hash_key;
use serde_json::Value;

use crate::helpers::echo::Echo;
use crate::helpers::jwks::{token, JwksServer};
use crate::helpers::{self, eventually, temp_dir, NodeProcess};

/// `GET path` on `node` with `headers`: status and JSON body.
fn get(node: &NodeProcess, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let (status, _, body) = helpers::echo::get(&format!("http://{}{}", node.addr, path), headers);
    (status, body)
}

fn reloads(node: &NodeProcess, outcome: &str) -> f64 {
    node.metric(&format!(
        "limiter_gateway_reloads_total{{outcome=\"{outcome}\"}}"
    ))
}

/// Writes `text` as the gateway file, sends SIGHUP and waits for the reload's `outcome`.
fn reload(node: &NodeProcess, file: &Path, text: &str, outcome: &str) {
    let before = reloads(node, outcome);
    std::fs::write(file, text).unwrap();
    node.signal("HUP");
    eventually(
        Duration::from_secs(10),
        &format!("a reload {outcome}"),
        || reloads(node, outcome) > before,
    );
}

fn route(name: &str, prefix: &str, echo: &Echo, identity: &str) -> String {
    format!(
        "[[routes]]\nname = \"{name}\"\nprefix = \"{prefix}\"\nupstreams = [\"http://{}\"]\nidentity = [{identity}]\n",
        echo.addr
    )
}

#[test]
fn a_reloaded_gateway_file_changes_routes_keys_and_jwks_or_is_refused_whole() {
    let echo = Echo::start();
    let dir = temp_dir("gateway-reload");
    let file = dir.join("gateway.toml");
    let keys = |user: &str| {
        format!(
            "[identity.api_key]\nkeys = [{{ hash = \"{}\", user = \"{user}\" }}]\n",
            hash_key("a-key-of-the-file")
        )
    };
    std::fs::write(&file, keys("uma") + &route("a", "/a", &echo, "\"api_key\"")).unwrap();
    let node = NodeProcess::start(&["--gateway", file.to_str().unwrap()]);
    node.wait_ready(Duration::from_secs(10));
    let key = [("X-API-Key", "a-key-of-the-file")];
    assert_eq!(get(&node, "/a/x", &key).1["headers"]["x-user-id"], "uma");
    assert_eq!(get(&node, "/b/x", &key).0, 404);

    // A second route, and the key now another user's.
    let routes = route("a", "/a", &echo, "\"api_key\"") + &route("b", "/b", &echo, "\"api_key\"");
    reload(&node, &file, &(keys("vic") + &routes), "applied");
    assert_eq!(get(&node, "/a/x", &key).1["headers"]["x-user-id"], "vic");
    assert_eq!(get(&node, "/b/x", &key).0, 200);

    // A bad file is refused whole: both routes and the key stay.
    reload(&node, &file, "[[routes]]\nname = \"broken\"\n", "refused");
    assert_eq!(get(&node, "/b/x", &key).1["headers"]["x-user-id"], "vic");

    // JWTs from a JWKS URL: fetched before the swap. While the JWKS server
    // holds its answer, the old file is still in effect; once it answers,
    // the new one is, and its first token is accepted.
    let mut jwks = JwksServer::start(true);
    let with_jwks = |url: &str, extra: &str| {
        format!(
            "{}[identity.jwt]\nalgorithms = [\"RS256\"]\njwks_url = \"{url}\"\n{}{}{extra}",
            keys("vic"),
            routes,
            route("c", "/c", &echo, "\"jwt\"")
        )
    };
    let applied = reloads(&node, "applied");
    std::fs::write(&file, with_jwks(&jwks.url, "")).unwrap();
    node.signal("HUP");
    // The node asks, and waits; nothing it reads meanwhile may change.
    eventually(
        Duration::from_secs(10),
        "the node asking the new JWKS",
        || jwks.asked() >= 1,
    );
    assert_eq!(get(&node, "/c/x", &[]).0, 404, "in effect before its keys");
    assert_eq!(reloads(&node, "applied"), applied);
    jwks.release();
    eventually(
        Duration::from_secs(10),
        "the reload applied once the JWKS answered",
        || reloads(&node, "applied") > applied,
    );
    let bearer = format!("Bearer {}", token("wes"));
    let (status, seen) = get(&node, "/c/x", &[("Authorization", &bearer)]);
    assert_eq!(
        (status, &seen["headers"]["x-user-id"]),
        (200, &"wes".into())
    );

    // The same source again is carried over with its keys: applied without
    // a fetch that must succeed (the server is down now), tokens still pass.
    // The reload asks its refresher for a fetch now, which fails and keeps them.
    jwks.set_down(true);
    let asked = jwks.hits();
    let extra = route("d", "/d", &echo, "\"jwt\"");
    reload(&node, &file, &with_jwks(&jwks.url, &extra), "applied");
    eventually(Duration::from_secs(5), "the JWKS fetched again", || {
        jwks.hits() > asked
    });
    assert_eq!(get(&node, "/d/x", &[("Authorization", &bearer)]).0, 200);

    // A new JWKS source that cannot be read refuses the reload: the keys in
    // use stay, and so does every route.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/jwks.json", dead.local_addr().unwrap());
    drop(dead);
    reload(&node, &file, &with_jwks(&dead_url, &extra), "refused");
    assert_eq!(get(&node, "/c/x", &[("Authorization", &bearer)]).0, 200);
    assert_eq!(node.get("/readyz").status, 200);
}
