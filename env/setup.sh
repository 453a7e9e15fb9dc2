#!/usr/bin/env bash
# One-step set-up of the course environment, safe to run again (it only redoes what changed):
#   1. system packages: graphviz (`dot`, for torchviz) and chromium (browser tests),
#      installed with apt when running as root, otherwise a message says what to install;
#   2. a virtual environment in .venv with the pinned versions (always through
#      env/constraints.txt, so pip can never choose another torch build);
#   3. the autograder package in editable mode;
#   4. the Jupyter kernel "pytorch-course", registered inside .venv, which the notebooks
#      name, so JupyterLab and nbgrader run them in this environment.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
APT_PACKAGES=${APT_PACKAGES:-graphviz chromium bubblewrap}

missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
if [[ " $APT_PACKAGES " == *" chromium "* ]] && ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi
# bubblewrap: the sandbox the grading pipeline runs learners' kernels in.
if [[ " $APT_PACKAGES " == *" bubblewrap "* ]] && ! command -v bwrap >/dev/null 2>&1; then
  missing+=(bubblewrap)
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]} with apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install the system packages: ${missing[*]}" >&2
    echo "       (e.g. sudo apt-get install ${missing[*]}); torchviz graphs, browser tests and the grading sandbox need them" >&2
  fi
fi

# nbgrader anywhere in this environment autogrades only through the course's sandbox.
mkdir -p "$VENV/etc/jupyter"
printf 'exec(open(%s).read())\n' "'$(pwd)/env/nbgrader_safe.py'" > "$VENV/etc/jupyter/nbgrader_config.py"

stamp="$VENV/.course-installed"
want=$(cat env/requirements.txt env/constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  start=$(date +%s)
  [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
      -c env/constraints.txt -r env/requirements.txt 2> >(grep -v "is ignored: it is neither" >&2)
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name pytorch-course \
      --display-name "Python (PyTorch course)" >/dev/null
  echo "$want" > "$stamp"
  echo "setup: environment ready in $VENV ($(( $(date +%s) - start )) s)"
fi
