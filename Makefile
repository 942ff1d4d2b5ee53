# The two commands of the README:
#   make bench   install what is needed, then run the main benchmark (shm link)
#   make test    install what is needed, build, run every test
#
# Everything Python goes into a project virtual environment, $(VENV) (default
# .venv), made from $(PYTHON) (default: the python3 on PATH); the system
# Python's packages are never written. System packages (apt-get, root only)
# are checked by ci/install-deps.sh.
#
# Stamp files keep a second `make install` with nothing changed to a few
# milliseconds: no apt-get, no pip, no rebuild.
#   build/stamps/deps          every system package present (ci/install-deps.sh wrote it)
#   $(VENV)/pyvenv.cfg         the venv exists
#   $(VENV)/.netchan-installed netchan installed (editable) in the venv, built from the
#                              sources below; rebuilt when any of them changes
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
BENCH_TIME ?= 10
STAMPS := build/stamps
DEPS_STAMP := $(STAMPS)/deps
INSTALL_STAMP := $(VENV)/.netchan-installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Whatever the build reads (pyx/ and include/ in any sub-folder; no caches).
SOURCES := pyproject.toml setup.py \
	$(shell find pyx include builders \( -name __pycache__ -o -name '*.pyc' -o -name '*.so' \
	        -o -name '*.o' -o -name '*.html' \) -prune -o -type f -print 2>/dev/null)

.PHONY: all deps venv install test bench annotate clean distclean

all: install

# System packages: checked (and installed as root when missing) until a check
# finds everything; then only a change of the script checks again.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): ci/install-deps.sh
	@echo "== checking system packages (ci/install-deps.sh)"
	@PYTHON="$(PYTHON)" bash ci/install-deps.sh --stamp $@

venv: $(VENV)/pyvenv.cfg
$(VENV)/pyvenv.cfg: | $(DEPS_STAMP)
	@echo "== creating the virtual environment $(VENV) from $$(command -v $(PYTHON)) ($$($(PYTHON) -V 2>&1))"
	$(PYTHON) -m venv $(VENV)

# Editable install into the venv: the extension is built in place
# (python/netchan/_core*.so) with the pinned build requirements of pyproject.toml.
install: $(INSTALL_STAMP)
$(INSTALL_STAMP): $(SOURCES) $(VENV)/pyvenv.cfg | $(DEPS_STAMP)
	@echo "== building netchan and installing it into $(VENV) (first time: 1-2 minutes)"
	$(VPY) -m pip install --progress-bar off -e '.[test]'
	@touch $@
	@echo "== installed: use it with  . $(VENV)/bin/activate  or  $(VENV)/bin/netchan --help"

test: install
	@echo "== running the tests"
	$(VPY) -m pytest -q tests

bench: install
	@echo "== benchmark: netchan over a shm link, then the kernel's loopback TCP ($(BENCH_TIME) s each)"
	$(VENV)/bin/netchan bench stream --time $(BENCH_TIME)

# cython -a for the hot files: build/cython/pyx/_core.html
annotate: install
	NETCHAN_ANNOTATE=1 $(VPY) setup.py build_ext --inplace

clean:
	rm -rf build dist python/*.egg-info python/netchan/*.so python/netchan/_dpdk*.py .pytest_cache
	rm -f $(INSTALL_STAMP)

distclean: clean
	rm -rf $(VENV)
