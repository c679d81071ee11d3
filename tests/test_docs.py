"""The documentation holds together: README is one page, every link in README and the guides
(``tutorials/guides/*.md``) stays inside the repository and resolves (file and heading), the test
command CI runs is the one README gives, and every ``reward-sandbox`` command in README and the
guides parses (the CLI guide has one for every subcommand).

Fast (well under a second after the imports): nothing is run, only read and parsed.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUIDES = sorted((ROOT / "tutorials" / "guides").glob("*.md"))
DOCS = [README, *GUIDES]
CLI_GUIDE = ROOT / "tutorials" / "guides" / "cli.md"

FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?P<text>[^\]\n]*)\]\((?P<target>[^)\s]*)\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


def prose(text: str) -> str:
    """The text outside fenced blocks and inline code spans (where brackets are code, not links)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(path: Path) -> list[str]:
    return [m.group("target") for m in LINK.finditer(prose(path.read_text()))]


def anchor(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {anchor(m.group(2)) for m in HEADING.finditer(FENCE.sub("", path.read_text()))}


def resolve(doc: Path, target: str) -> tuple[Path, str]:
    """(file, anchor) a relative link of ``doc`` points at; raises AssertionError for a link
    that leaves the repository (a scheme, an absolute path, ``..`` above the root)."""
    assert not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target), f"{doc.name}: {target!r} points outside the repository"
    assert not target.startswith(("/", "~", "\\")), f"{doc.name}: {target!r} is an absolute path"
    path, _, fragment = target.partition("#")
    file = (doc.parent / path).resolve() if path else doc
    assert file == ROOT or ROOT in file.parents, f"{doc.name}: {target!r} leaves the repository"
    return file, fragment


def test_readme_is_one_page():
    lines = README.read_text().splitlines()
    assert len(lines) < 160, f"README.md has {len(lines)} lines; move detail into tutorials/guides/"


def test_readme_maps_every_guide_and_tutorial():
    mapped = {resolve(README, target)[0] for target in links(README)}
    assert set(GUIDES) <= mapped, f"guides missing from README's map: {sorted(p.name for p in set(GUIDES) - mapped)}"
    notebooks = set((ROOT / "tutorials").glob("*.ipynb"))
    assert notebooks <= mapped, f"tutorials missing from README's table: {sorted(p.name for p in notebooks - mapped)}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_resolves_inside_the_repository(doc):
    found = links(doc)
    for target in found:
        file, fragment = resolve(doc, target)
        assert file.exists(), f"{doc.name}: link {target!r} -> {file.relative_to(ROOT)} does not exist"
        if fragment and file.suffix == ".md":
            assert fragment in anchors(file), f"{doc.name}: link {target!r}: no heading #{fragment} in {file.name}"


def test_the_link_checks_can_fail():
    doc = ROOT / "tutorials" / "guides" / "x.md"
    for outside in ("https://example.org/x", "/etc/passwd", "../../../outside.md", "file:///tmp/x"):
        with pytest.raises(AssertionError):
            resolve(doc, outside)
    assert resolve(doc, "../../README.md#tests")[0] == README
    text = "see [a](a.md) and `[not](a link)`\n```\n[nor](this)\n```\n"
    assert LINK.findall(prose(text)) == [("a", "a.md")]
    assert anchor("Tests (`python3 dev.py test`)") == "tests-python3-devpy-test"


def ci_command() -> str:
    """The command ``.ci/run`` runs: its last line that is not a comment or shell setting."""
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in lines if line and not line.startswith(("#", "set ", "cd "))]
    return commands[-1]


def test_readme_opens_with_the_test_command_ci_runs():
    """README starts with the set-up commands, and CI's command is one of them; dev.py knows it."""
    first_block = FENCE.search(README.read_text())
    assert first_block and README.read_text().index(first_block.group(0)) < 40
    commands = [line.split("#")[0].strip() for line in first_block.group(0).splitlines()[1:-1]]
    assert ci_command() in commands, f"{ci_command()!r} (.ci/run) is not in README's first block: {commands}"
    assert ci_command() == "python3 dev.py test"
    dev = (ROOT / "dev.py").read_text()
    assert '"test"' in dev and "python3 dev.py test" in dev


def cli_examples(docs: list[Path] = [CLI_GUIDE]) -> list[list[str]]:
    """Every ``reward-sandbox ...`` line of the docs' shell blocks, as argv (after the name)."""
    examples = []
    for block in (block for doc in docs for block in FENCE.findall(doc.read_text())):
        if not block.startswith("```bash"):
            continue
        for line in block.replace("\\\n", " ").splitlines():
            for prefix in ("reward-sandbox ", "python3 dev.py run "):  # dev.py run passes ARGS on
                if line.startswith(prefix):
                    examples.append(shlex.split(line[len(prefix):], comments=True))
    return examples


def test_cli_guide_has_an_example_of_every_subcommand():
    from sandbox.cli import COMMANDS

    covered = {tuple(argv[:2]) for argv in cli_examples()} | {(argv[0],) for argv in cli_examples()}
    for name, command in COMMANDS.items():
        assert (name,) in covered, f"cli.md has no example of reward-sandbox {name}"
        for sub in command.subcommands:
            assert (name, sub) in covered, f"cli.md has no example of reward-sandbox {name} {sub}"


@pytest.mark.parametrize("argv", cli_examples(DOCS), ids=lambda argv: " ".join(argv[:2]))
def test_cli_examples_parse(argv, capsys):
    """Each example of README and the guides (the CLI guide's, and every rerun command of the
    results) is accepted by the real parser (flags and values), without running it."""
    from sandbox.cli import COMMANDS
    from sandbox.cli.flags import build_parser

    name, command = argv[0], COMMANDS[argv[0]]
    rest = command.respell(argv[1:])
    try:
        build_parser(name, command, rest).parse_args(rest)
    except SystemExit as stop:  # --help exits 0; a bad flag exits 2 with argparse's message
        assert stop.code == 0, f"reward-sandbox {' '.join(argv)}: {capsys.readouterr().err.strip()}"


@pytest.mark.parametrize("name", ["experiment", "prm", "bench"])
def test_subcommand_help_renders(name, capsys):
    """``reward-sandbox NAME --help`` prints (a '%' in a subcommand's help once crashed it)."""
    from sandbox.cli import main

    with pytest.raises(SystemExit) as stop:
        main([name, "--help"])
    assert stop.value.code == 0
    assert "usage: reward-sandbox " + name in capsys.readouterr().out


SPECS = sorted((ROOT / "sandbox" / "experiments" / "specs").glob("*.toml"))
RESULTS = ROOT / "tutorials" / "guides" / "results.md"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_spec_comments_cite_sections_of_the_results_guide(spec):
    """A spec's comments name the part of tutorials/guides/results.md that quotes its runs (the
    results left README for that guide): every capitalised quoted title there is found in it."""
    comments = " ".join(line.lstrip("# ") for line in spec.read_text().splitlines() if line.startswith("#"))
    assert "README" not in comments, f"{spec.name}: its results are in tutorials/guides/results.md, not README"
    results = RESULTS.read_text().replace("`", "")
    for title in re.findall(r'"([A-Z][^"]+)"', comments):
        assert title.replace("`", "") in results, f"{spec.name}: no {title!r} in {RESULTS.name}"


def test_no_guide_or_tutorial_cites_a_readme_section():
    """README is one page: a citation of a section of it ('README, "..."') in a guide or in a
    tutorial's text points at what moved to the guides."""
    import json

    texts = {p.name: p.read_text() for p in GUIDES}
    for notebook in sorted((ROOT / "tutorials").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        texts[notebook.name] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for name, text in texts.items():
        assert not re.search(r"README(\.md)?[,:] *\"", text), f"{name} cites a README section; cite the guide that holds it"


NOTEBOOKS = sorted((ROOT / "tutorials").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_tutorial_opens_with_its_header(notebook):
    """The first cell says the notebook's goal, the cached models it loads, its runtime in fast and
    full mode and how to switch (tutorial 00's header is the template)."""
    import json

    first = json.loads(notebook.read_text())["cells"][0]
    text = "".join(first["source"])
    assert first["cell_type"] == "markdown" and text.startswith("# "), f"{notebook.name}: no title cell"
    for part in ("**Goal.**", "**Cached models.**", "**Runtime.**", "**Fast or full.**", "REWARD_SANDBOX_FAST=1"):
        assert part in text, f"{notebook.name}: its first cell has no {part}"
    assert re.search(r"[Ff]ast mode|either mode|in both", text), f"{notebook.name}: no fast-mode runtime"
