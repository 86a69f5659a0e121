import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDjango } from './django.ts';
import { dialectOf, renderTemplate, TemplateRecord } from './templates.ts';

const render = (source: string, vars: Record<string, unknown> = {}) => parseDjango(source).render(vars);

// The way pxemngr's users wrote their test scripts (Django templates, autoescape off for shell).
const PXEMNGR_SCRIPT = `#!/bin/sh
{# pxemngr test: disks #}
{% comment %}
  This block is not in the output.
{% endcomment %}
echo "I: {{ testname|upper }} on {{ system }}"
{% if system == "node1" %}echo "W: first node"{% elif system|length > 10 %}echo "I: long name"{% else %}echo "I: other"{% endif %}
{% for d in disks %}echo "I: disk {{ forloop.counter }}/{{ disks|length }} {{ d }}{% if forloop.last %} (last){% endif %}"
{% empty %}echo "E: no disks"
{% endfor %}{% with host=system|default:"unknown" %}echo "host={{ host }}"{% endwith %}
{% firstof missing "" "fallback" %} {{ missing|default_if_none:"-" }}{{ none|default_if_none:"(none)" }}
curl -s -F "file=@/tmp/out" {{ server }}/upload/{{ log.id }}/
test "{{ log }}" = "{{ log.id }}" && echo "I: {{ log.test_name }} is {{ log.status }}"
echo '{{ quote }}' {{ n|add:2 }} {{ items|join:"," }} {{ flag|yesno:"on,off" }} run{{ count|pluralize }}`;

test("pxemngr's Django scripts render as Django renders them", () => {
  const log = new TemplateRecord(42, { id: 42, status: 'S', test_name: 'disks' });
  const out = render(PXEMNGR_SCRIPT, {
    testname: 'disks',
    system: 'node1',
    disks: ['sda', 'sdb'],
    server: 'http://10.0.0.1:8080',
    log,
    quote: 'a&b <c>',
    n: 3,
    items: ['x', 'y'],
    flag: false,
    count: 2,
    none: null,
  });
  assert.equal(
    out,
    `#!/bin/sh


echo "I: DISKS on node1"
echo "W: first node"
echo "I: disk 1/2 sda"
echo "I: disk 2/2 sdb (last)"
echo "host=node1"
fallback -(none)
curl -s -F "file=@/tmp/out" http://10.0.0.1:8080/upload/42/
test "42" = "42" && echo "I: disks is S"
echo 'a&b <c>' 5 x,y off runs`,
  );
  assert.match(render(PXEMNGR_SCRIPT, { system: 'a-very-long-node-name', disks: [] }), /echo "I: long name"\necho "E: no disks"/);
});

test('conditions: and, or, not, in, comparisons, and precedence', () => {
  const r = (cond: string, vars: Record<string, unknown>) => render(`{% if ${cond} %}y{% else %}n{% endif %}`, vars);
  assert.equal(r('a and not b', { a: 1, b: 0 }), 'y');
  assert.equal(r('a or b and c', { a: 1, b: 0, c: 0 }), 'y');
  assert.equal(r('"x" in items', { items: ['x'] }), 'y');
  assert.equal(r('"z" not in items', { items: ['x'] }), 'y');
  assert.equal(r('n >= 3 and n < 4', { n: 3 }), 'y');
  assert.equal(r('missing == None', {}), 'y');
  assert.equal(r('n == "3"', { n: 3 }), 'n', 'values of different types are never equal');
});

test('for with reversed, unpacking, parentloop, cycle; verbatim and templatetag', () => {
  assert.equal(render('{% for x in xs reversed %}{{ x }}{% endfor %}', { xs: [1, 2, 3] }), '321');
  assert.equal(
    render('{% for k, v in pairs %}{{ k }}={{ v }};{% endfor %}', {
      pairs: [
        ['a', 1],
        ['b', 2],
      ],
    }),
    'a=1;b=2;',
  );
  assert.equal(
    render('{% for a in xs %}{% for b in xs %}{{ forloop.parentloop.counter }}{{ forloop.counter }} {% endfor %}{% endfor %}', { xs: [1, 2] }),
    '11 12 21 22 ',
  );
  assert.equal(render('{% for x in xs %}{% cycle "a" "b" %}{% endfor %}', { xs: [1, 2, 3] }), 'aba');
  assert.equal(render('{% verbatim %}{{ not rendered }}{% endverbatim %} {% templatetag openblock %}'), '{{ not rendered }} {%');
});

test('autoescape is off for scripts and can be turned on; errors name the line', () => {
  assert.equal(render('{{ x }}', { x: '<&>' }), '<&>');
  assert.equal(render('{% autoescape on %}{{ x }}{% endautoescape %}', { x: '<&>' }), '&lt;&amp;&gt;');
  assert.throws(
    () => parseDjango('a\n{% bogus %}'),
    (e: Error & { line?: number }) => /invalid block tag: 'bogus'/.test(e.message) && e.line === 2,
  );
  assert.throws(() => parseDjango('{{ x|nope }}'), /invalid filter: 'nope'/);
  assert.throws(() => parseDjango('{% if x %}never closed'), /tag \{% if x %\} not closed: expected \{% elif %\}, \{% else %\}, \{% endif %\}/);
  assert.throws(
    () => parseDjango('{% for x in xs %}{% for y in xs %}{% endfor %}{% endfor %}{{ x }}').render({ xs: Array(2000).fill(1) }),
    /more than 1000000 steps/,
  );
});

test('the dialect is chosen per file', async () => {
  assert.equal(dialectOf('{% if a %}x{% elif b %}y{% endif %}'), 'django');
  assert.equal(dialectOf('{% if a %}x{% elsif b %}y{% endif %}'), 'liquid');
  assert.equal(dialectOf('{{ server | remove: "http://" }}'), 'liquid');
  assert.equal(dialectOf('{{ forloop.index }}'), 'liquid');
  assert.equal(dialectOf('{{ testname|upper }}'), 'django');
  assert.equal(dialectOf('{% comment %}anvil: liquid{% endcomment %}{{ x }}'), 'liquid');
  assert.equal(dialectOf('plain {{ x }}'), 'django');
  const log = new TemplateRecord(7, { id: 7, status: 'S' });
  assert.equal(await renderTemplate('{% assign s = log.status %}{{ log }} {{ log.id }} {{ s | downcase }}', { log }, 't'), '7 7 s');
  assert.equal(await renderTemplate('{{ log }} {{ log.id }} {{ log.status|lower }}', { log }, 't'), '7 7 s');
});
