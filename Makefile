# The course's everyday commands. `make help` lists them.
VENV    ?= .venv
PY      := $(VENV)/bin/python
# Local Fashion-MNIST mirror; default ../shared/data when it exists, else torchvision downloads.
COURSE_DATA_MIRROR ?= $(wildcard $(CURDIR)/../shared/data)
export COURSE_DATA_MIRROR
# One more test process than CI's 2 cores: much of the suite waits on kernels, sandboxes and a
# browser, and a third process fills those waits (measured: see the README's Benchmarks).
PYTEST_WORKERS ?= 3
LAB_PORT ?= 8888

.PHONY: _need_ch help setup data release release-exchange collect grade report grade-all bench-grading \
        check-notebooks lab instructor hub test test-fast test-gpu clean-grading lock
# Grading runs: `make grade CH=ch01_numpy_net FROM=~/Downloads/submissions.zip`
CH      ?=
FROM    ?=
WORKERS ?= 2

help:
	@echo "Learners"
	@echo "  make lab            set everything up, then JupyterLab on your workspace/ (LAB_PORT=$(LAB_PORT))"
	@echo "Instructors"
	@echo "  make instructor     JupyterLab on the course folder, with formgrader (LAB_PORT=$(LAB_PORT))"
	@echo "  make hub            the class on JupyterHub (ROSTER=class.csv, HUB_PORT=$(HUB_PORT))"
	@echo "  make release        build solutions/ from chapters/*.py, then notebooks/ with nbgrader"
	@echo "  make release-exchange          release every chapter into nbgrader's exchange too"
	@echo "  make collect CH=.. [FROM=..] [ROSTER=..]  collect submissions (LMS folder/zip, else the exchange)"
	@echo "  make grade CH=.. [WORKERS=$(WORKERS)]  autograde every collected submission (sandboxed, parallel)"
	@echo "  make report CH=.. [ROSTER=..]  grades, LMS imports, gradebook, feedback pages, class report"
	@echo "                      (due time and late policy: python -m autograder report CH --due .. --penalty .. --cutoff ..)"
	@echo "  make grade-all CH=.. FROM=..   collect + grade + report in one go"
	@echo "  make clean-grading             delete grading/ (submissions, results, gradebook)"
	@echo "Maintainers"
	@echo "  make setup          virtual environment (env/lock.txt), system packages, Jupyter kernel"
	@echo "  make data           Fashion-MNIST into data/ (mirror: COURSE_DATA_MIRROR=$(COURSE_DATA_MIRROR))"
	@echo "  make test           the whole test-suite, as CI runs it (PYTEST_WORKERS=$(PYTEST_WORKERS))"
	@echo "  make test-fast      the tests that grade nothing"
	@echo "  make test-gpu       every check on CUDA (skips without a GPU)"
	@echo "  make check-notebooks   fail if a committed notebook has outputs or untidy metadata"
	@echo "  make lock           recompile env/lock.txt from env/requirements.txt"
	@echo "  make bench-grading  benchmark: pipeline vs nbgrader vs the bare nbclient floor"

setup:
	@bash env/setup.sh

data: setup
	@$(PY) -m autograder.learner.data

release: setup
	@$(PY) -m autograder.authoring.notebooks build
	@$(PY) -m autograder.authoring.course release
	@$(PY) -m autograder.authoring.notebooks check solutions/*/*.ipynb notebooks/*/*.ipynb

check-notebooks: setup
	@$(PY) -m autograder.authoring.notebooks check solutions/*/*.ipynb notebooks/*/*.ipynb

lab: setup data
	@$(PY) -m autograder.authoring.lab --port $(LAB_PORT)

instructor: setup data
	@$(PY) -m autograder.authoring.lab --instructor --port $(LAB_PORT)

# A class on JupyterHub on this machine: the instructor and the learners of ROSTER (a CSV
# from the LMS; default two demo learners). Prints the URL, the names and the password.
ROSTER  ?=
HUB_PORT ?= 8000
hub: setup data
	@$(PY) -m autograder.authoring.hub --port $(HUB_PORT) $(if $(ROSTER),--roster "$(ROSTER)",)

# One math thread per test worker (and per kernel it starts): the workers already fill the cores.
test: setup data
	COURSE_QUICK=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=15 --junitxml=artifacts/junit.xml

# Every spec, mutant and alternative on CUDA, and CPU/CUDA agreement (skips without a GPU).
test-gpu: setup data
	COURSE_QUICK=1 $(PY) -m pytest -m gpu tests/test_gpu.py -q --durations=10

test-fast: setup
	COURSE_QUICK=1 OMP_NUM_THREADS=1 $(PY) -m pytest -m "not nbgrader" -n $(PYTEST_WORKERS)

release-exchange: setup
	@$(PY) -m autograder release --exchange

_need_ch:
	@test -n "$(CH)" || { echo "say which chapter: make $(MAKECMDGOALS) CH=ch01_numpy_net"; exit 2; }

collect: _need_ch setup
	@$(PY) -m autograder collect $(CH) $(if $(FROM),--from "$(FROM)",--exchange) $(if $(ROSTER),--roster "$(ROSTER)",)

grade: _need_ch setup
	@$(PY) -m autograder grade $(CH) --workers $(WORKERS)

report: _need_ch setup
	@$(PY) -m autograder report $(CH) $(if $(ROSTER),--roster "$(ROSTER)",)

grade-all: _need_ch setup
	@$(PY) -m autograder run $(CH) $(if $(FROM),--from "$(FROM)",--exchange) --workers $(WORKERS)

bench-grading: setup data
	@$(PY) bench/grading.py

clean-grading:
	rm -rf grading

# Recompile env/lock.txt from env/requirements.txt: one universal lock for every Python >= 3.11.
lock: setup
	$(VENV)/bin/uv pip compile env/requirements.txt --universal --python-version 3.11 -o env/lock.txt -q --custom-compile-command "make lock"
