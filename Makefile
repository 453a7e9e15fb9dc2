# The course's everyday commands. `make help` lists them.
VENV    ?= .venv
PY      := $(VENV)/bin/python
# Local Fashion-MNIST mirror; default ../shared/data when it exists, else torchvision downloads.
COURSE_DATA_MIRROR ?= $(wildcard $(CURDIR)/../shared/data)
export COURSE_DATA_MIRROR
PYTEST_WORKERS ?= 2
LAB_PORT ?= 8888

.PHONY: help setup data release check-notebooks lab test test-fast clean-grading

help:
	@echo "make lab        set everything up, then start JupyterLab on the course"
	@echo "make test       set everything up, then run the whole test-suite (CI runs this)"
	@echo "make setup      virtual environment, system packages, Jupyter kernel"
	@echo "make data       Fashion-MNIST into data/ (mirror: COURSE_DATA_MIRROR=$(COURSE_DATA_MIRROR))"
	@echo "make release    regenerate notebooks/ from solutions/ with nbgrader"
	@echo "make test-fast  the tests that need no nbgrader run"

setup:
	@bash env/setup.sh

data: setup
	@$(PY) -m autograder.data

release: setup
	@$(PY) -m autograder.course release
	@$(PY) -m autograder.notebooks check solutions/*/*.ipynb notebooks/*/*.ipynb

check-notebooks: setup
	@$(PY) -m autograder.notebooks check solutions/*/*.ipynb notebooks/*/*.ipynb

lab: setup data
	@$(PY) -m autograder.lab --port $(LAB_PORT)

test: setup data
	COURSE_QUICK=1 $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

test-fast: setup
	COURSE_QUICK=1 $(PY) -m pytest -m "not nbgrader" -n $(PYTEST_WORKERS)

clean-grading:
	rm -rf grading
