#!/usr/bin/env bash
# Smoke test of the blog's six Django targets with one client per process (the -reuse targets):
# the same checks as test_targets_blog.sh, which this runs.
BLOG_SUFFIX=-reuse
. "$(dirname "$0")/test_targets_blog.sh"
