# records: the two commands of the quick start, and a few for developers.
#   make demo   installs what is missing, renders sample scans and runs a batch end to end
#   make test   installs what is missing and runs the test suite (ruff and the import
#               contracts of docs/architecture.md first)

VENV     ?= .venv
PYTHON   ?= python3
PY       := $(VENV)/bin/python
# Debian 12 packages the pipeline runs on. Installed only when missing (needs root or sudo).
DEBIAN_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd tesseract-ocr-vie tesseract-ocr-script-viet \
	tesseract-ocr-deu poppler-utils qpdf fonts-dejavu-core python3-venv python3-dev gcc \
	softhsm2 postgresql chromium openssl jbig2dec fonts-liberation2 fonts-freefont-ttf
BENCH_PACKAGES  := ghostscript

.PHONY: demo test lint bench system clean

demo: $(VENV)/.installed
	$(VENV)/bin/records demo

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(VENV)/.installed
	@$(MAKE) --no-print-directory system DEBIAN_PACKAGES="$(BENCH_PACKAGES)"
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) bench/ocr.py

system:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	@$(MAKE) --no-print-directory system
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) records-home .pytest_cache .ruff_cache .import_linter_cache
