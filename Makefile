# maa: behavior-prompted policy generation for ROS 2 robots.
#   make demo   set up if needed, then run the main job on the embedded default (simulated Go2, local DDS, bundled models)
#   make test   set up if needed, then lint + all tests
#   make bench  every script in bench/, each printing a final JSON line of measured figures
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
ENV := source scripts/env.sh
# Tests and the demo talk DDS on this host only, in their own domain.
LOCAL_DDS := ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_LOCALHOST_ONLY=1
PYTEST_ARGS ?=

.PHONY: setup demo test lint unit bench freeze clean

setup:
	@bash scripts/setup.sh

demo: setup
	@$(ENV) && $(LOCAL_DDS) python scripts/demo.py && python scripts/demo_metaworld.py

lint: setup
	@$(ENV) && ruff check src training bench tests scripts launch && python scripts/lint_packages.py \
	  && python scripts/requirement_pins.py check

unit: setup
	@$(ENV) && $(LOCAL_DDS) MAA_REQUIRE_ROS=1 python -m pytest $(PYTEST_ARGS)

test: lint unit

bench: setup
	@$(ENV) && for b in bench/*.py; do echo "== $$b"; python "$$b"; done

freeze: setup
	@$(ENV) && pip freeze --exclude-editable | python scripts/requirement_pins.py freeze > requirements/constraints.txt.new \
	  && mv requirements/constraints.txt.new requirements/constraints.txt || { rm -f requirements/constraints.txt.new; exit 1; }

clean:
	rm -rf build install log
