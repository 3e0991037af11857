#!/usr/bin/env bash
# A SCRAM-SHA-512 login the broker accepts, end to end: installs a tansu with
# SQL storage (the suite's in-memory tansu keeps no SCRAM users, so it can only
# show logins refused) into target/tools/tansu-lite when missing (~18 minutes
# on 2 cores, once), then runs the ignored test
# kafka_security::scram_login_accepted_and_nodes_replicate: the user created
# with authentication off, tansu restarted with it on, two nodes replicating
# over sasl_plaintext and over sasl_ssl (nginx in front, as in the suite).
#   scripts/sasl.sh
set -euo pipefail
cd "$(dirname "$0")/.."

root=$PWD/target/tools/tansu-lite
if [ ! -x "$root/bin/tansu" ]; then
  echo "sasl.sh: installing tansu with SQL storage into $root (~18 minutes on 2 cores; once)" >&2
  cargo install tansu --locked --features dynostore,libsql --root "$root"
fi
export CRDT_LIMITER_SQL_TANSU=$root/bin/tansu
exec cargo nextest run --test it --run-ignored only \
  kafka_security::scram_login_accepted_and_nodes_replicate
