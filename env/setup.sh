#!/usr/bin/env bash
# One-step set-up of the course environment, safe to run again (it only redoes what changed),
# as root or as an ordinary user, on any Python >= 3.11 (Debian 12's 3.11.2, Ubuntu 24.04's 3.12):
#   1. system packages: graphviz (`dot`, for torchviz), chromium (browser tests), bubblewrap
#      (the grading sandbox); installed with apt when running as root, otherwise one line
#      says what to install (JupyterLab works without them);
#   2. a virtual environment in .venv with exactly the versions of env/lock.txt (a universal
#      lock: one file for every supported Python, compiled by `make lock`), --no-deps so
#      nothing outside the lock is ever chosen (no other torch build);
#   3. the autograder package in editable mode, the Jupyter kernel "pytorch-course", and the
#      environment-wide nbgrader configuration that routes autograding through the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
APT_PACKAGES=${APT_PACKAGES:-graphviz chromium bubblewrap}

say() { echo "setup: $*"; }

# --- Python
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup: no $PYTHON found: install Python 3.11 or newer (e.g. sudo apt-get install python3 python3-venv)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: $("$PYTHON" --version 2>&1) is too old: the course needs Python 3.11 or newer (PYTHON=python3.11 make ...)" >&2
  exit 1
fi

# --- system packages
missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
if [[ " $APT_PACKAGES " == *" chromium "* ]] && ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi
if [[ " $APT_PACKAGES " == *" bubblewrap "* ]] && ! command -v bwrap >/dev/null 2>&1; then
  missing+=(bubblewrap)
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]} with apt (about 30 s) ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: to draw graphs, run the browser tests and grade, install: sudo apt-get install ${missing[*]}" >&2
  fi
fi

# --- the virtual environment
stamp="$VENV/.course-installed"
want=$( (cat env/lock.txt pyproject.toml; "$PYTHON" --version) | sha256sum | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  start=$(date +%s)
  if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating the virtual environment $VENV with $("$PYTHON" --version 2>&1) ..."
    if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
      rm -rf "$VENV"
      echo "setup: $PYTHON cannot create a virtual environment: install its venv module (e.g. sudo apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
  count=$(grep -c '==' env/lock.txt)
  say "installing the $count packages of env/lock.txt into $VENV (the first time: about 2 minutes and 6 GB, most of it PyTorch) ..."
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r env/lock.txt \
      2> >(grep -v "is ignored: it is neither" >&2)
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . \
      2> >(grep -v "is ignored: it is neither" >&2) \
    || "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name pytorch-course \
      --display-name "Python (PyTorch course)" >/dev/null
  echo "$want" > "$stamp"
  say "environment ready in $VENV ($(( $(date +%s) - start )) s)"
fi
# nbgrader anywhere in this environment autogrades only through the course's sandbox.
mkdir -p "$VENV/etc/jupyter"
printf 'exec(open(%s).read())\n' "'$(pwd)/env/nbgrader_safe.py'" > "$VENV/etc/jupyter/nbgrader_config.py"
