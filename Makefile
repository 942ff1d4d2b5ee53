# The two commands of the README:
#   make bench   install what is needed, then run the main benchmark (shm link)
#   make test    install what is needed, build, run every test
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
BENCH_TIME ?= 10

.PHONY: all deps install test bench annotate clean

all: install

deps:
	bash ci/install-deps.sh

# Editable install: the extension is built in place (python/netchan/_core*.so)
# with the pinned build requirements of pyproject.toml.
install: deps
	$(PIP) install -q --disable-pip-version-check -e '.[test]'

test: install
	$(PYTHON) -m pytest -q tests

bench: install
	$(PYTHON) -m netchan bench stream --time $(BENCH_TIME)

# cython -a for the hot files: build/cython/pyx/_core.html
annotate:
	NETCHAN_ANNOTATE=1 $(PYTHON) setup.py build_ext --inplace

clean:
	rm -rf build dist python/*.egg-info python/netchan/*.so python/netchan/_dpdk*.py .pytest_cache
