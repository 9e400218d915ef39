"""The report page: one HTML file with the charts, the Vega libraries and the dictionary inline.

Nothing is fetched when the page opens (the JavaScript comes from vl-convert's bundle), so it
works offline and can be mailed or archived. Each chart's spec sits in a JSON script beside its
figure; a small recorder embeds them with vega-embed and writes, per figure, whether it drew
(`data-status="drawn"`, with the rows the browser loaded in `data-rows`) or what went wrong
(`data-status="error"`, `data-error`), so a headless browser can tell. The page holds no clock
time: the same warehouse gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jinja2
from markupsafe import Markup

from garmin_pipeline.report.charts import Figure
from garmin_pipeline.warehouse.dictionary import Mart

# Runs after the figures are in the DOM; vegaEmbed is the bundle's global.
RECORDER = """
(() => {
  const figures = [...document.querySelectorAll("figure[data-chart]")];
  const drawn = figures.map((figure) => {
    const problems = [];
    const warnings = [];
    let level = 0;
    const logger = {
      level(value) { if (value === undefined) return level; level = value; return this; },
      error(...args) { problems.push(args.map(String).join(" ")); return this; },
      warn(...args) { warnings.push(args.map(String).join(" ")); return this; },
      info() { return this; },
      debug() { return this; },
    };
    const target = figure.querySelector(".chart");
    const spec = JSON.parse(figure.querySelector("script.spec").textContent);
    return vegaEmbed(target, spec, { renderer: "svg", actions: false, logger })
      .then(async (result) => {
        await result.view.runAsync();
        const node = target.querySelector("svg, canvas");
        const box = node ? node.getBoundingClientRect() : { width: 0, height: 0 };
        if (!(box.width > 0 && box.height > 0)) problems.push("nothing drawn");
        figure.dataset.rows = String(result.view.data(figure.dataset.dataset).length);
        figure.dataset.size = `${Math.round(box.width)}x${Math.round(box.height)}`;
        if (problems.length) throw new Error(problems.join("; "));
        figure.dataset.status = "drawn";
      })
      .catch((error) => {
        figure.dataset.status = "error";
        figure.dataset.error = String((error && error.message) || error);
      })
      .finally(() => { figure.dataset.warnings = warnings.join("; "); });
  });
  Promise.allSettled(drawn).then(() => { document.body.dataset.charts = "settled"; });
})();
"""

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 0 1.5em;
       color: #222; }
h1 { margin-bottom: 0.2em; }
nav ul { padding-left: 1.2em; columns: 2; }
figure { margin: 2em 0; padding: 1em; border: 1px solid #ddd; border-radius: 6px;
         overflow-x: auto; }
figure h2 { margin: 0 0 0.5em; font-size: 1.2em; }
figcaption { color: #555; margin-top: 0.5em; }
.dictionary article { margin: 1.5em 0; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 0.2em 0.6em; text-align: left;
         vertical-align: top; }
code { font-size: 0.95em; }
"""

TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Garmin report: {{ accounts|join(", ") }}</title>
<style>{{ style }}</style>
<script>{{ bundle }}</script>
</head>
<body data-charts="pending">
<header>
<h1>Garmin report</h1>
<p>{{ summary }}</p>
</header>
<nav>
<ul>
{%- for figure in figures %}
<li><a href="#{{ figure.key }}">{{ figure.title }}</a></li>
{%- endfor %}
<li><a href="#dictionary">Data dictionary</a></li>
</ul>
</nav>
<main>
{%- for figure in figures %}
<figure id="{{ figure.key }}" data-chart="{{ figure.key }}" data-dataset="{{ figure.dataset }}" \
data-status="pending">
<h2>{{ figure.title }}</h2>
<div class="chart"></div>
<figcaption>{{ figure.caption }} Data: {% for mart in figure.marts -%}
<a href="#mart-{{ mart }}"><code>{{ mart }}</code></a>{{ ", " if not loop.last }}
{%- endfor %}.</figcaption>
<script type="application/json" class="spec">{{ specs[loop.index0] }}</script>
</figure>
{%- endfor %}
<section id="dictionary" class="dictionary">
<h2>Data dictionary</h2>
<p>The marts these charts read, as <code>docs/data-dictionary.md</code> describes them (both are
generated from the dbt models' YAML).</p>
{%- for mart in marts %}
<article id="mart-{{ mart.name }}">
<h3><code>{{ mart.name }}</code></h3>
{%- for paragraph in mart.paragraphs %}
<p>{{ paragraph }}</p>
{%- endfor %}
<p>Materialized as a {{ mart.materialized }}. Key: {{ mart.key|join(", ") or "none declared" }}.</p>
<table>
<thead><tr><th>Column</th><th>Type</th><th>Unit</th><th>Meaning</th></tr></thead>
<tbody>
{%- for column in mart.columns %}
<tr><td><code>{{ column.name }}</code></td><td>{{ column.data_type }}</td>\
<td>{{ column.unit or "" }}</td><td>{{ column.description }}</td></tr>
{%- endfor %}
</tbody>
</table>
</article>
{%- endfor %}
</section>
</main>
<script>{{ recorder }}</script>
</body>
</html>
"""
)


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no `<` at all, so nothing in the data (an
    activity's name) can close it early."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")


def render_page(
    figures: Sequence[Figure],
    marts: Sequence[Mart],
    accounts: Sequence[str],
    summary: str,
    bundle: str,
) -> str:
    """The whole page. `bundle` is the Vega JavaScript, inlined as is (it holds no `</script`)."""
    if "</script" in bundle.lower():
        raise ValueError("the JavaScript bundle cannot be inlined: it contains '</script'")
    return TEMPLATE.render(
        figures=figures,
        specs=[Markup(script_json(f.spec)) for f in figures],
        marts=marts,
        accounts=accounts,
        summary=summary,
        style=Markup(STYLE),
        bundle=Markup(bundle),
        recorder=Markup(RECORDER),
    )
