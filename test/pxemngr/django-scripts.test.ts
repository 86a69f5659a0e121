// pxemngr's test scripts are Django templates: written the way its users wrote them, they
// render as Django renders them, run, and upload to their run with {{ log.id }}; pxemngr's own
// page URLs lead to anvil's pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { havePeers } from '../helpers/peers.ts';

const run = promisify(execFile);

const DISKS = `#!/bin/sh
{# disks.test: pxemngr style #}
out=/tmp/anvil-django-$$
{
echo "I: {{ testname|upper }} on {{ system }} (run {{ log.id }})"
{% for d in "ab" %}echo "I: disk {{ forloop.counter }} sd{{ d }}{% if forloop.last %} last{% endif %}"
{% endfor %}{% if system == "nomatch" %}echo "E: wrong"{% elif system|length > 2 %}echo "W: long name {{ system|length }}"{% else %}echo "I: short"{% endif %}
echo "V: {% firstof version "1.0" %}"
} > $out
curl --retry 0 -s -f -F "file=@$out" {{ server }}/upload/{{ log.id }}/
rm -f $out
`;

test("a pxemngr script in Django's syntax renders, runs and uploads to its run", async (t) => {
  if (!havePeers(t, 'curl')) return;
  const a = await testAnvil(t, {}, { tests: { 'wait.test': '{# wait #}sleep 1\n', 'disks.test': DISKS } });
  await a.services.machines.add('node7', ['52:54:00:d7:00:07']);
  const [queued] = await a.services.testing.queue((await a.services.machines.byName('node7'))!, ['disks']);
  const script = await (await fetch(`${a.url}/nexttest/52:54:00:d7:00:07/`)).text();
  assert.match(
    script,
    new RegExp(`echo "I: DISKS on node7 \\(run ${queued!.id}\\)"\\necho "I: disk 1 sda"\\necho "I: disk 2 sdb last"\\necho "W: long name 5"\\necho "V: 1\\.0"`),
  );
  assert.ok(!script.includes('{#') && !script.includes('pxemngr style'), 'comments are dropped');
  const { stdout } = await run('sh', ['-c', script]);
  assert.match(stdout, /run \d+ \(disks on node7\): 3 info, 1 warning, 0 errors/);
  const done = await a.services.testing.get(queued!.id);
  assert.deepEqual([done.state, done.infos, done.warnings, done.version], ['done', 3, 1, '1.0']);

  // pxemngr's page URLs, as old bookmarks have them.
  const machine = (await a.services.machines.byName('node7'))!;
  const redirect = async (path: string) => {
    const r = await fetch(`${a.url}${path}`, { redirect: 'manual' });
    return [r.status, r.headers.get('location')];
  };
  assert.deepEqual(await redirect(`/test/${queued!.id}/`), [301, `/runs/${queued!.id}`]);
  assert.deepEqual(await redirect(`/testcontent/${queued!.id}/`), [301, `/runs/${queued!.id}/raw`]);
  assert.deepEqual(await redirect(`/system/${machine.id}/`), [301, '/machines/node7']);
  assert.equal((await fetch(`${a.url}/system/999/`)).status, 404);
});
