//! The conformance suite of issue 27: envoyproxy/ratelimit's own test
//! material, vendored unmodified in `tests/fixtures/envoyproxy-ratelimit/`,
//! replayed against the real binary — its config corpus with the
//! expectations of `config_test.go` and the scenarios of
//! `integration_test.go` over gRPC, re-expressed here as tables, and its
//! `integration-test/scripts/*.sh` run as they are through real Envoy started
//! from its `examples/envoy/proxy.yaml`. Upstream counts in fixed windows,
//! so those run on a fixed-window node; `token_bucket` pins where our
//! default, token buckets, answers otherwise.

mod corpus;
mod corpus_errors;
mod corpus_features;
mod counting;
mod harness;
mod integration;
mod scripts;
mod stack;
mod statsd;
mod token_bucket;
