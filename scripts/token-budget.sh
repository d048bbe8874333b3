#!/usr/bin/env bash
# token-budget.sh — print what the tool list costs an agent, per tool and per profile, counted with
# the o200k tokenizer (the `bpe-openai` crate, offline), and fail above the budget.
#
#   scripts/token-budget.sh
#
# It runs the budget test of tests/it/tool_surface.rs with its output shown; scripts/test.sh (and
# so CI) runs the same test. Method and figures: docs/BENCHMARKS.md, "Token budget".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo test --locked --test it tool_surface::token_budget -- --nocapture --test-threads=1
