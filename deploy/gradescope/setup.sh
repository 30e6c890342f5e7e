#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04,
# its default base image). The zip holds it beside run_autograder, dlgrader's wheel and
# constraints.txt; they are in /autograder/source by then.
set -euo pipefail
apt-get update
# dlgrader needs Python 3.11 (22.04's python3 is 3.10); bubblewrap is its sandbox.
apt-get install -y python3.11 python3.11-venv bubblewrap
python3.11 -m venv /opt/dlgrader
/opt/dlgrader/bin/pip install /autograder/source/dlgrader-*.whl \
    -c /autograder/source/constraints.txt
