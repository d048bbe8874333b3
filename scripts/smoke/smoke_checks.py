"""What the Python smokes share: PASS/FAIL lines and their counts, a pydantic model as wire JSON,
and a scenario whose exception counts as one failure. Imported by the scripts beside it."""

from __future__ import annotations

import json
import traceback

passed = 0
failed = 0


def check(name: str, cond: bool, detail: object = "") -> bool:
    global passed, failed
    if cond:
        passed += 1
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name}  {detail if isinstance(detail, str) else json.dumps(detail, default=str)[:2000]}")
    return cond


def dump(model) -> dict:
    """Pydantic model → dict with the wire (camelCase) names, in 1.x and 2.x alike."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def run(scenario, *args) -> None:
    """Runs `scenario(*args)`; an exception aborts it and counts as one failure."""
    global failed
    try:
        scenario(*args)
    except BaseException as e:
        failed += 1
        print("FAIL scenario aborted:")
        traceback.print_exception(e)


def summary(name: str) -> int:
    """Prints the last line, `NAME smoke: N passed, M failed`; the exit code, 0 only when nothing failed."""
    print(f"{name} smoke: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0
