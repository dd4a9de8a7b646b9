"""The shell commands of the README and of docs/, checked without running the long ones, so
that the pages cannot drift from the code: pasted in order into a fresh shell after the two
set-up commands, each page's commands must work.

- `n2n ...` (also behind `torchrun ... -m n2n_nograd`) parses with the real parser, and
  no run folder is started twice on a page (the second `n2n train --out X` would be refused);
- `torchrun` options parse with torch's own launcher parser;
- `make T`: T is a Makefile target; `python FILE ...`: FILE exists and knows every option;
- every long command says how long it takes, in a comment on its line;
- every relative link of a page leads to a file that exists; the README stays a front door
  (at most 250 lines) and each docs page at most 600.
"""
import re
import shlex
from pathlib import Path

import pytest
from torch.distributed.run import get_args_parser

from n2n_nograd import cli

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Commands that take more than a few seconds on 2 CPU cores.
LONG = re.compile(r"^(make (quickstart|test|report|submission)|n2n train|torchrun|python (test\.py|"
                  r"tools/make_submission\.py|benchmarks/))")
DURATION = re.compile(r"\d\s*(s|min|h)\b|\b(seconds?|minutes?|hours?)\b")


def commands(text):
    """(command, comment) of every line of a page's ```sh blocks, in order."""
    found = []
    for block in BLOCK.findall(text):
        for line in block.splitlines():
            if line.lstrip().startswith("#"):
                continue
            command, _, comment = line.partition(" #")
            if command.strip():
                found.append((command.strip(), comment.strip()))
    return found


BY_PAGE = {page.name: commands(page.read_text()) for page in PAGES}
COMMANDS = [command for page in BY_PAGE.values() for command in page]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_relative_links_lead_somewhere(page):
    for target in LINK.findall(page.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (page.parent / target).exists(), f"{page.name}: the link to {target} leads nowhere"


def test_the_readme_is_a_front_door_and_docs_pages_stay_short():
    assert len(README.splitlines()) <= 250
    for page in PAGES[1:]:
        assert len(page.read_text().splitlines()) <= 600, page.name


def test_the_readme_has_commands_and_says_how_to_run_them():
    assert len(COMMANDS) > 20
    assert ". .venv/bin/activate" in README
    for command, _ in COMMANDS:
        assert not re.search(r"(^|\s)\[|<", command), f"`{command}` has a placeholder: it cannot be pasted"


@pytest.mark.parametrize("page", list(BY_PAGE))
def test_n2n_commands_parse_and_start_each_run_once(page):
    started = set()
    for command, _ in BY_PAGE[page]:
        words = shlex.split(command)
        if words[0] == "torchrun":
            launcher = get_args_parser().parse_args(words[1:])
            assert launcher.module and launcher.training_script == "n2n_nograd", command
            words = ["n2n", *launcher.training_script_args]
        if words[0] != "n2n":
            continue
        try:
            args = cli.build_parser().parse_args(words[1:])
        except SystemExit:
            pytest.fail(f"`{command}` does not parse")
        if args.command == "train" and not args.resume:
            out = args.out or f"runs/{args.impl or 'nograd'}"
            assert out not in started, f"`{command}`: {out} already holds the run started above"
            started.add(out)


def test_make_targets_exist():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    for command, _ in COMMANDS:
        words = shlex.split(command)
        if words[0] == "make":
            assert set(w for w in words[1:] if "=" not in w) <= targets, command


def test_python_scripts_exist_and_know_their_options():
    for command, _ in COMMANDS:
        words = shlex.split(command)
        if words[0] != "python" or words[1] == "-m":
            continue
        script = ROOT / words[1]
        assert script.is_file(), command
        source = script.read_text()
        for option in (w.split("=")[0] for w in words[2:] if w.startswith("-")):
            assert f'"{option}"' in source, f"`{command}`: {script.name} has no {option}"


def test_long_commands_say_how_long_they_take():
    for command, comment in COMMANDS:
        if LONG.match(command):
            assert DURATION.search(comment), f"`{command}` does not say how long it takes"


def test_the_readme_speed_table_is_the_benchmarks_file():
    """The table is speed.py --precision's, as printed from results/speed_precision.json."""
    import importlib.util
    import json
    spec = importlib.util.spec_from_file_location("speed", ROOT / "benchmarks" / "speed.py")
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    table = speed.precision_markdown(json.loads((ROOT / "results" / "speed_precision.json").read_text()))
    assert table in README


def test_the_quality_pages_standard_sets_table_is_the_benchmarks_files():
    """docs/quality.md's standard-sets table is standard_sets.py --markdown of the files it names."""
    import importlib.util
    import json
    spec = importlib.util.spec_from_file_location("standard_sets", ROOT / "benchmarks" / "standard_sets.py")
    standard_sets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(standard_sets)
    page = (ROOT / "docs" / "quality.md").read_text()
    files = ["results/standard_sets_deep.json", "results/standard_sets_auto.json"]
    assert f"python benchmarks/standard_sets.py --markdown {' '.join(files)}" in page
    table = standard_sets.markdown([json.loads((ROOT / name).read_text()) for name in files])
    assert table in page


def test_the_quality_pages_noise_level_tables_are_the_benchmarks_file():
    """Every row of docs/quality.md's per-noise-level tables is quality.py --markdown's, as
    printed from results/quality.json."""
    import importlib.util
    import json
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    printed = quality.markdown(json.loads((ROOT / "results" / "quality.json").read_text())["sigmas"])
    rows = [line for line in printed.splitlines() if line.startswith(("| ", "On the pictures"))]
    page = (ROOT / "docs" / "quality.md").read_text()
    assert len(rows) > 100 and [row for row in rows if row not in page] == []


def test_the_real_noise_pages_tables_are_the_results_files():
    """docs/real-noise.md's other tables are real_noise_tables.py's, from the files in results/."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("real_noise_tables", ROOT / "benchmarks" / "real_noise_tables.py")
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    page = (ROOT / "docs" / "real-noise.md").read_text()
    for name, table in tables.TABLES.items():
        assert table(ROOT / "results") in page, f"the {name} table differs from results/"


def test_the_real_noise_pages_ablation_table_is_the_benchmarks_file():
    """docs/real-noise.md's ablation table is camera_ablation.py's, from results/camera_ablation.json."""
    import importlib.util
    import json
    spec = importlib.util.spec_from_file_location("camera_ablation", ROOT / "benchmarks" / "camera_ablation.py")
    ablation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ablation)
    table = ablation.markdown(json.loads((ROOT / "results" / "camera_ablation.json").read_text()))
    assert table in (ROOT / "docs" / "real-noise.md").read_text()
