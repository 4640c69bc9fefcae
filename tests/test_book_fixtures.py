"""Input fixtures for the book tests: small results files built by hand.

These are RENDERING fixtures only: the numbers are chosen so that every expected value in
the tests can be derived by hand (e.g. exp(ln 1.5) = 1.5). They are never evidence and never
reach the real site.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from evidence.records.model import (
    Effect,
    Exposure,
    Extraction,
    Outcome,
    Population,
    RiskOfBias,
    Source,
    Statistic,
    Study,
)

#: A string that tries every injection the escaping must neutralise.
HOSTILE = (
    "<script>alert('x')</script> <img src=x onerror=alert(1)> {eval-rst} "
    "{raw}`html` [link](javascript:alert(1)) ![img](http://evil.example/a.png) "
    "$x^2$ $$y$$ |sub| {{ sub }} `code` **bold** &lt;b&gt; % comment (target)= "
    "```{raw} html``` :::{note}:::"
)


def make_study(
    identifier: str = "alpha2001",
    text: str = "adults in a town",
    quote: str = "the hazard ratio was 1.5 (95% CI 1.2 to 1.9)",
    url: str | None = "https://example.org/alpha",
) -> Study:
    effect = Effect(
        "isolation-mortality",
        Exposure("social-isolation", text, "fewer-ties", "structural"),
        Outcome("mortality", "all-cause mortality", "harmful"),
        "fully-adjusted",
        Statistic("HR", 1.5, (1.2, 1.9)),
        Source("abstract", quote, url),
        notes=text,
    )
    return Study(
        identifier,
        identifier,
        "prospective-cohort",
        Population(text, "adult", "mixed", n=1000),
        RiskOfBias("NOS", "low", text),
        Extraction("needs-verification", "abstract", text),
        (effect,),
        cohort=None,
        doi="10.1000/xyz",
        year=2001,
        notes=text,
    )


def make_result(
    identifier: str = "isolation-mortality",
    title: str = "Isolation and death",
    estimate: float = math.log(1.5),
    ci: tuple[float, float] = (math.log(1.2), math.log(1.9)),
    pi: tuple[float, float] | None = (math.log(0.9), math.log(2.5)),
    figures: dict[str, str] | None = None,
) -> dict:
    return {
        "id": identifier,
        "title": title,
        "question": {
            "population": "adults",
            "exposure": "social isolation",
            "comparator": "integrated",
            "outcome": "all-cause mortality",
        },
        "spec": {
            "select": {"outcome.domain": "mortality"},
            "adjustment": "most-adjusted",
            "dependence": "multilevel",
            "model": {"method": "REML", "test": "knha"},
            "subgroups": ["sex"],
            "moderators": [],
            "sensitivity": ["leave-one-out"],
            "bias": ["egger"],
        },
        "status": "ok",
        "message": None,
        "metric": "log-risk-ratio",
        "orient": "fewer-ties-harmful",
        "scale": "log",
        "back_transform": "exp",
        "pooled": {
            "k": 2,
            "n_studies": 2,
            "n_participants": 3000,
            "method": "REML",
            "test": "knha",
            "estimate": estimate,
            "se": 0.1,
            "statistic": 4.05,
            "df": 1,
            "p": 0.154,
            "ci": list(ci),
            "pi": list(pi) if pi else None,
            "tau2": 0.01,
            "tau2_ci": [0.0, 0.5],
            "tau": 0.1,
            "tau_ci": [0.0, 0.71],
            "i2": 40.0,
            "i2_ci": [0.0, 99.0],
            "h2": 1.67,
            "h2_ci": [1.0, 100.0],
            "q": 1.67,
            "q_df": 1,
            "q_p": 0.196,
        },
        "subgroups": {},
        "meta_regression": {},
        "leave_one_out": [],
        "influence": [],
        "cumulative": [],
        "egger": None,
        "begg": None,
        "trimfill": None,
        "failsafe_n": None,
        "dependence": {
            "rule": "multilevel",
            "sigma2": [0.01, 0.0],
            "robust": None,
            "n_clusters": 2,
        },
        "certainty": {
            "start": "low",
            "level": "very low",
            "domains": [
                {
                    "domain": "imprecision",
                    "proposed": 1,
                    "final": 1,
                    "reason": "CI is wide",
                    "override": None,
                }
            ],
        },
        "published": [],
        "effects": {"included": 2, "excluded": 1, "studies": 2, "participants": 3000},
        "figures": figures or {},
        "provenance": {"evidence_version": "0.1.0", "inputs": {}},
    }


EFFECTS_HEADER = (
    "study,effect,label,cohort,cluster,included,reason,measure_reported,value,"
    "lo,hi,yi,vi,sei,weight,conversion,flipped,adjustment,risk_of_bias,year"
)


def write_results(directory: Path, results: list[dict], effects_rows: dict[str, list[str]]) -> Path:
    """Write ``<id>.json``, ``<id>-effects.csv`` and ``index.json`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for result in results:
        (directory / f"{result['id']}.json").write_text(json.dumps(result, indent=2) + "\n")
        rows = effects_rows.get(result["id"], [])
        (directory / f"{result['id']}-effects.csv").write_text(
            "\n".join([EFFECTS_HEADER, *rows]) + "\n"
        )
    index = [{"id": r["id"], "title": r["title"], "status": r["status"]} for r in results]
    (directory / "index.json").write_text(json.dumps(index) + "\n")
    return directory


def write_svg(path: Path, title: str, description: str) -> Path:
    """Write a tiny valid SVG with a title and description (a stand-in figure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" '
        'viewBox="0 0 200 100"><title>'
        + title
        + "</title><desc>"
        + description
        + '</desc><rect x="10" y="10" width="180" height="80" fill="#0072B2"/></svg>\n'
    )
    return path


HOSTILE_RECORD = """\
id: hostile2001
citation: hostile2001
doi: "10.1000/hostile"
year: 2001
design: prospective-cohort
population:
  description: "<script>alert('population')</script> {eval-rst} $x$ |sub|"
  sex: mixed
  n: 1000
risk_of_bias:
  tool: NOS
  judgement: low
  notes: "<img src=x onerror=alert(1)> [link](javascript:alert(1))"
extraction:
  status: needs-verification
  source_type: abstract
  notes: "{raw}`html`<b>raw</b>` ![img](https://evil.example/x.png)"
notes: "```{raw} html\\n<script>alert('notes')</script>\\n```"
effects:
  - id: isolation-mortality
    exposure:
      construct: social-isolation
      dimension: structural
      contrast: "<script>alert('contrast')</script> `code` **bold** {{ sub }}"
      higher_means: fewer-ties
    outcome: {domain: mortality, name: all-cause mortality, higher_is: harmful}
    adjustment: fully-adjusted
    statistic: {measure: HR, value: 1.5, ci: [1.2, 1.9]}
    source:
      locator: "abstract <script>alert('locator')</script>"
      url: "https://example.org/hostile"
      quote: "<script>alert('quote')</script> :::{note} ::: % comment (target)= $$y$$ 1.5 1.2 1.9"
    notes: "[x](javascript:alert(2)) &lt;b&gt;"
"""

BENIGN_RECORD = (
    HOSTILE_RECORD.replace("hostile2001", "benign1999")
    .replace("year: 2001", "year: 1999")
    .replace("10.1000/hostile", "10.1000/benign")
)

HOSTILE_BIB = """\
@article{benign1999,
  author = {Benign, C.},
  title = {A plain title},
  journal = {Journal of Tests},
  year = {1999}
}

@article{hostile2001,
  author = {Hostile, A. and Other, B.},
  title = {A title with <script>alert('bib')</script> in it},
  journal = {Journal of Tests},
  year = {2001},
  url = {https://example.org/x"><script>alert(3)</script>}
}
"""

REPOSITORY = Path(__file__).resolve().parents[1]
_BUILT: dict[str, Any] = {}


def hostile_site() -> Path:
    """Build (once per test session) the site of a hostile one-study corpus; return it.

    The study record goes through the real loader (``evidence.records.validate.load_studies``);
    the results are a hand-built rendering fixture whose title is hostile too. The book
    source is copied to a temporary directory so the repository's book/_generated is left
    alone.
    """
    if "hostile" in _BUILT:
        return _BUILT["hostile"]
    import atexit
    import shutil
    import tempfile

    from evidence.report.book import build_book

    root = Path(tempfile.mkdtemp(prefix="evidence-book-test-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    studies = root / "studies"
    studies.mkdir()
    (studies / "hostile2001.yaml").write_text(HOSTILE_RECORD)
    (studies / "benign1999.yaml").write_text(BENIGN_RECORD)
    (studies / "references.bib").write_text(HOSTILE_BIB)
    build = root / "build"
    write_svg(
        build / "figures" / "isolation-mortality-forest.svg",
        "Forest plot",
        "Forest plot of 2 effects",
    )
    write_svg(
        build / "figures" / "summary-forest.svg",
        "Summary of pooled estimates",
        "Pooled estimates of 1 analysis",
    )
    result = make_result(
        title="<script>alert('title')</script> {eval-rst} [x](javascript:1)",
        figures={"forest": "figures/isolation-mortality-forest.svg"},
    )
    write_results(
        build / "results",
        [result],
        {
            result["id"]: [
                "hostile2001,isolation-mortality,<b>Hostile</b>,,hostile2001,true,,HR,1.5,1.2,1.9,"
                "0.405,0.0142,0.119,100.0,log-ratio,false,fully-adjusted,low,2001"
            ]
        },
    )
    book = root / "book"
    shutil.copytree(
        REPOSITORY / "book", book, ignore=shutil.ignore_patterns("_generated", "_build")
    )
    build_book(build / "results", studies, build / "site", book)
    _BUILT["hostile"] = build / "site"
    return _BUILT["hostile"]


def shipped_site() -> tuple[Path, list[dict]]:
    """Build (once per test session) the site of the shipped corpus; return it and the results.

    studies/ + analyses/ -> ``run_analyses`` (with the figures) -> ``evidence book`` (the
    command), into a temporary directory.
    """
    if "shipped" in _BUILT:
        return _BUILT["shipped"]
    import io
    import shutil

    from evidence.analyses.runner import run_analyses
    from evidence.cli import main
    from evidence.report.plots import render_all, summary_forest

    root = Path(tempfile.mkdtemp(prefix="evidence-shipped-site-"))
    build = root / "build"
    documents = run_analyses(
        REPOSITORY / "studies",
        REPOSITORY / "analyses",
        build,
        progress=io.StringIO(),
        render=render_all,
        render_summary=summary_forest,
    )
    book = root / "book"
    shutil.copytree(
        REPOSITORY / "book", book, ignore=shutil.ignore_patterns("_generated", "_build")
    )
    status = main(
        [
            "book",
            "--results",
            str(build / "results"),
            "--studies",
            str(REPOSITORY / "studies"),
            "--out",
            str(build / "site"),
            "--book",
            str(book),
        ]
    )
    assert status == 0
    _BUILT["shipped"] = (build / "site", documents)
    return _BUILT["shipped"]
