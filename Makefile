# The book's two commands (see README.md):
#   make book   set up .venv if needed, execute every chapter (GANLIB_PROFILE, default cpu)
#               and build the HTML book into book/_build/html
#   make test   set up .venv if needed, lint (ruff) and run every test: pytest units and learning tests,
#               every notebook under nbval (ci profile), pairs in sync, student versions
#   make lab    set up .venv if needed and open the chapters in JupyterLab
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# torch and torchvision as tested; pip takes them from the local disk on the build machines
TORCH  ?= torch==2.14.1 torchvision==0.29.1
STAMP  := $(VENV)/.installed

.PHONY: book test setup lab clean-book

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[test,book,lab]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	@touch $@

book: $(STAMP)
	GANLIB_PROFILE=$${GANLIB_PROFILE:-cpu} $(PY) tools/build_book.py

test: $(STAMP)
	$(VENV)/bin/ruff check ganlib tests tools benchmarks
	$(VENV)/bin/ruff format --check ganlib tests tools benchmarks
	GANLIB_PROFILE=ci OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-PASSIVE} \
	    $(PY) -m pytest tests notebooks \
	    --nbval-lax -p no:cacheprovider -q -rfE

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean-book:
	rm -rf book/_build
